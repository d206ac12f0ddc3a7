//! The group view: threads with identical stacks collapsed into one row (count, names, top
//! frame), largest group first; with a previous snapshot, how each group's count changed, and
//! how it grew or shrank over the history when one did.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::fit::{Column, Piece, PieceRow};
use super::list_pane::ListPane;
use super::theme::Theme;
use crate::app::{Inspector, Pane};

/// The columns, by priority: counts go last; names and the top frame share the room.
const COLUMNS: [Column; 4] = [
    Column::new("COUNT", 9, 5),
    Column::new("CHANGE", 6, 6),
    Column::new("THREADS", 5, 20).min(10).fill(1),
    Column::new("TOP FRAME", 8, 20).min(12).fill(1),
];

/// Where the GROWTH column goes (from the oldest snapshot kept to the viewed one: "3→40").
const GROWTH: usize = 2;

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
    let snap = inspector.snapshot();
    // Growth over the whole history: a column of its own, only when a group grew or shrank.
    let growth = inspector.history().growth();
    let rows: Vec<PieceRow> = groups
        .iter()
        .map(|g| {
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
            let mut cells = vec![
                Piece::whole(g.threads.len().to_string()),
                Piece::whole(change),
                Piece::text(names),
                Piece::text(top),
            ];
            if !growth.is_empty() {
                let grew = growth
                    .iter()
                    .find(|gr| gr.key == g.key)
                    .map(|gr| format!("{}→{}", gr.from, gr.to))
                    .unwrap_or_default();
                cells.insert(GROWTH, Piece::whole(grew));
            }
            (cells, Style::new())
        })
        .collect();
    let mut columns = COLUMNS.to_vec();
    if !growth.is_empty() {
        columns.insert(GROWTH, Column::new("GROWTH", 7, 6));
    }
    ListPane {
        columns: &columns,
        rows: &rows,
        title: &title,
        focused,
        offset: inspector.list_offset(),
        selected: inspector.groups_pane().selected_index(groups).or(Some(0)),
    }
    .draw(theme, frame, area);
}
