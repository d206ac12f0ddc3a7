//! The goroutine view of a Go process: each goroutine's id, state (as Go's traceback shows
//! it), thread and innermost frame Go would show; below, the selected goroutine's stack.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, TableState};

use super::frames::frame_cells;
use super::theme::Theme;
use crate::app::{Inspector, Pane};
use crate::tracer::Goroutine;

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Threads;
    let list = inspector.snapshot().map(|p| p.goroutines()).unwrap_or(&[]);
    let note = inspector
        .snapshot()
        .and_then(|p| p.goroutines_note())
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let title = format!(" Goroutines ({}{note}) ", list.len());
    let header = Row::new(["GOID", "STATE", "THREAD", "TOP FRAME"]).style(theme.header);
    let rows = list.iter().map(|g| {
        Row::new(vec![
            Cell::from(g.id().to_string()),
            Cell::from(g.state().to_string()),
            Cell::from(g.thread().map(|t| t.to_string()).unwrap_or_default()),
            Cell::from(top_frame(g)),
        ])
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(24),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let selected = inspector
        .selected_goroutine()
        .and_then(|s| list.iter().position(|g| g.id() == s.id()));
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
    let mut rows: Vec<Row> = g
        .frames()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (symbol, place) = frame_cells(f);
            Row::new(vec![
                Cell::from(format!("#{i}")),
                Cell::from(format!("{:#014x}", f.ip())),
                Cell::from(symbol),
                Cell::from(place),
            ])
        })
        .collect();
    if let Some(n) = g.end_note() {
        rows.push(
            Row::new(vec![
                Cell::from("…"),
                Cell::from(""),
                Cell::from(n.to_string()),
            ])
            .style(theme.dim),
        );
    }
    let widths = [
        Constraint::Length(4),
        Constraint::Length(14),
        Constraint::Fill(3),
        Constraint::Fill(2),
    ];
    let table = theme.pane_table(rows, widths, title, focused);
    let mut state = TableState::new()
        .with_offset(inspector.frames_offset())
        .with_selected(Some(inspector.selected_frame()));
    frame.render_stateful_widget(table, area, &mut state);
}
