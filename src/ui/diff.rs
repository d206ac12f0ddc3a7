//! The diff view: every thread of two snapshots marked new, exited, changed or unchanged,
//! with the CPU it used in between (busy or blocked) and how long its stack has not changed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::fit::{self, Column, Piece, PieceRow};
use super::list_pane::ListPane;
use super::theme::Theme;
use super::threads::stuck_label;
use crate::app::{Inspector, Pane};
use crate::describe::clock;
use crate::tracer::diff::Change;

/// The columns, by priority: ids, the change and the top frame go last.
const COLUMNS: [Column; 7] = [
    Column::new("TID", 9, 7),
    Column::new("NAME", 5, 15).min(6),
    Column::new("CHANGE", 8, 7),
    Column::new("CPU ms", 6, 6),
    Column::new("", 4, 7),
    Column::new("SAME", 3, 9),
    Column::new("TOP FRAME", 7, 30).min(12).fill(1),
];

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
        frame.render_widget(theme.pane(fit::cut(msg, area.width.into()), focused), area);
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
    let pattern = inspector.search().pattern();
    let mark = |p: Piece| super::search::piece(p, pattern.as_ref(), theme.search);
    let rows: Vec<PieceRow> = d
        .threads
        .iter()
        .map(|td| {
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
            let cells = vec![
                Piece::whole(td.tid.to_string()),
                mark(Piece::text(td.name.clone().unwrap_or_default())),
                Piece::whole(label).style(style),
                Piece::whole(cpu),
                Piece::whole(activity),
                Piece::whole(same),
                mark(Piece::text(top)),
            ];
            (cells, Style::new())
        })
        .collect();
    ListPane {
        columns: &COLUMNS,
        rows: &rows,
        title: &title,
        focused,
        offset: inspector.list_offset(),
        selected: inspector
            .selected_tid()
            .and_then(|tid| d.threads.iter().position(|t| t.tid == tid)),
    }
    .draw(theme, frame, area);
}
