//! The diff view: every thread of two snapshots marked new, exited, changed or unchanged,
//! with the CPU it used in between (busy or blocked) and how long its stack has not changed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, TableState};

use super::theme::Theme;
use super::threads::stuck_label;
use crate::app::{Inspector, Pane};
use crate::describe::clock;
use crate::tracer::diff::Change;

/// `offline`: the snapshots were loaded from files (no more can be taken).
pub fn render(inspector: &Inspector, offline: bool, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Threads;
    let history = inspector.history();
    let (Some((old, new)), Some(d)) = (history.diff_pair(), history.diff()) else {
        let msg = if history.len() >= 2 {
            " Diff: this is the oldest snapshot kept; > views a newer one "
        } else if offline {
            " Diff: needs two snapshots (load two files or a file with several) "
        } else {
            " Diff: needs two snapshots (r takes one now) "
        };
        frame.render_widget(theme.pane(msg, focused), area);
        return;
    };
    let count = |f: fn(&Change) -> bool| d.threads.iter().filter(|t| f(&t.change)).count();
    let title = format!(
        " Diff {} → {} ({:.1} s): {} changed, {} new, {} exited, {} same ",
        clock(old.taken_at()),
        clock(new.taken_at()),
        d.wall_ms as f64 / 1000.0,
        count(|c| matches!(c, Change::Changed { .. })),
        count(|c| matches!(c, Change::New)),
        count(|c| matches!(c, Change::Exited)),
        count(|c| matches!(c, Change::Unchanged)),
    );
    let header =
        Row::new(["TID", "NAME", "CHANGE", "CPU ms", "", "SAME", "TOP FRAME"]).style(theme.header);
    let pattern = inspector.search().pattern();
    let mark = |text: String| super::search::marked(text, pattern.as_ref(), theme.search);
    let rows = d.threads.iter().map(|td| {
        let (label, style) = match td.change {
            Change::New => ("new", theme.busy),
            Change::Exited => ("exited", theme.exited),
            Change::Changed { .. } => ("changed", theme.header),
            Change::Unchanged => ("same", theme.dim),
        };
        let cpu = td
            .cpu_used
            .map(|c| format!("{:.0}", c.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        let activity = match (td.cpu_used, td.busy) {
            (Some(_), true) => "busy",
            (Some(_), false) => "blocked",
            (None, _) => "",
        };
        let thread = new
            .threads()
            .iter()
            .chain(old.threads())
            .find(|t| t.id() == td.tid);
        let same = match td.change {
            Change::Exited => String::new(),
            _ => stuck_label(history.stuck(td.tid), new.taken_at()),
        };
        let top = thread.map(super::threads::top_frame).unwrap_or_default();
        Row::new(vec![
            Cell::from(td.tid.to_string()),
            Cell::from(mark(td.name.clone().unwrap_or_default())),
            Cell::from(label).style(style),
            Cell::from(cpu),
            Cell::from(activity),
            Cell::from(same),
            Cell::from(mark(top)),
        ])
    });
    let narrow = area.width < 100;
    let widths = [
        Constraint::Length(7),
        Constraint::Length(if narrow { 12 } else { 15 }),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(if narrow { 7 } else { 9 }),
        Constraint::Fill(1),
    ];
    let selected = inspector
        .selected_tid()
        .and_then(|tid| d.threads.iter().position(|t| t.tid == tid));
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
