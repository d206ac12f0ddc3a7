//! The group view: threads with identical stacks collapsed into one row (count, names, top
//! frame), largest group first; with a previous snapshot, how each group's count changed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, TableState};

use super::theme::Theme;
use crate::app::{Inspector, Pane};

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Threads;
    let groups = inspector.history().groups();
    // Against the diff's older side, so `[` and `]` pick what the counts are compared with.
    let changes = inspector.history().group_changes();
    let title = format!(
        " Groups ({} stacks, {} threads) ",
        groups.len(),
        groups.iter().map(|g| g.threads.len()).sum::<usize>()
    );
    let header = Row::new(["COUNT", "CHANGE", "THREADS", "TOP FRAME"]).style(theme.header);
    let snap = inspector.snapshot();
    let rows = groups.iter().map(|g| {
        let change = changes
            .iter()
            .find(|c| c.key == g.key)
            .map(|c| match c.new_count as i64 - c.old_count as i64 {
                0 => String::new(),
                d => format!("{d:+}"),
            })
            .unwrap_or_default();
        let names: Vec<String> = g
            .threads
            .iter()
            .take(6)
            .map(|(tid, name)| name.clone().unwrap_or_else(|| tid.to_string()))
            .collect();
        let more = g.threads.len().saturating_sub(6);
        let names = if more > 0 {
            format!("{} +{more}", names.join(", "))
        } else {
            names.join(", ")
        };
        let top = snap
            .and_then(|s| s.threads().iter().find(|t| t.id() == g.threads[0].0))
            .map(super::threads::top_frame)
            .unwrap_or_default();
        Row::new(vec![
            Cell::from(g.threads.len().to_string()),
            Cell::from(change),
            Cell::from(names),
            Cell::from(top),
        ])
    });
    let widths = [
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Fill(2),
        Constraint::Fill(2),
    ];
    let selected = inspector.groups_pane().selected_index(groups).or(Some(0));
    let table = theme
        .pane_table(rows, widths, title, focused)
        .header(header);
    frame.render_stateful_widget(
        table,
        area,
        &mut TableState::new()
            .with_offset(inspector.list_offset())
            .with_selected(selected),
    );
}
