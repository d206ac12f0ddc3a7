//! The goroutine view of a Go process: each goroutine's id, state (as Go's traceback shows
//! it), thread and innermost frame Go would show; below, the selected goroutine's stack.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::fit::{self, Column, Piece, PieceRow};
use super::frames::{Stack, frame_pieces, render_stack};
use super::list_pane::ListPane;
use super::theme::Theme;
use crate::app::{Inspector, Pane};
use crate::tracer::Goroutine;

/// The columns, by priority: ids go last, the state is cut before the top frame.
const COLUMNS: [Column; 4] = [
    Column::new("GOID", 9, 8),
    Column::new("STATE", 5, 24).min(8),
    Column::new("THREAD", 6, 8),
    Column::new("TOP FRAME", 8, 30).min(12).fill(1),
];

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Threads;
    let list = inspector.snapshot().map(|p| p.goroutines()).unwrap_or(&[]);
    let note = inspector
        .snapshot()
        .and_then(|p| p.goroutines_note())
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let title = format!(" Goroutines ({}{note}) ", list.len());
    let rows: Vec<PieceRow> = list
        .iter()
        .map(|g| {
            let cells = vec![
                Piece::whole(g.id().to_string()),
                Piece::text(g.state()),
                Piece::whole(g.thread().map(|t| t.to_string()).unwrap_or_default()),
                Piece::text(top_frame(g)),
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
            .selected_goroutine()
            .and_then(|s| list.iter().position(|g| g.id() == s.id())),
    }
    .draw(theme, frame, area);
}

/// The innermost frame outside the runtime's parking functions (Go's `runtime.` internals),
/// else the innermost: what the goroutine was doing.
fn top_frame(g: &Goroutine) -> String {
    let names = || {
        g.frames()
            .iter()
            .filter_map(|f| f.symbol().map(|s| s.name()))
    };
    names()
        .find(|n| !n.starts_with("runtime."))
        .or_else(|| names().next())
        .unwrap_or("")
        .to_string()
}

/// The selected goroutine's stack, like a thread's, with why it ends where it does.
pub fn render_frames(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Frames;
    let Some(g) = inspector.selected_goroutine() else {
        frame.render_widget(theme.pane(" Stack ".to_string(), focused), area);
        return;
    };
    let title = format!(
        " Stack of goroutine {} [{}] ",
        g.id(),
        crate::describe::goroutine_state(g)
    );
    let skip = inspector.frames_scroll();
    let rows: Vec<PieceRow> = g
        .frames()
        .iter()
        .enumerate()
        .map(|(i, f)| (frame_pieces(f, i, "#", theme, skip), Style::new()))
        .collect();
    let notes: Vec<PieceRow> = g
        .end_note()
        .map(|n| {
            (
                vec![Piece::whole("…"), Piece::text(""), Piece::text(n)],
                theme.dim,
            )
        })
        .into_iter()
        .collect();
    let stack = Stack {
        rows,
        notes,
        selected: inspector.selected_frame_row(),
        offset: inspector.frames_offset(),
        focused,
    };
    let title = fit::cut(&title, area.width.into()).into_owned();
    render_stack(stack, theme, frame, area, title);
}
