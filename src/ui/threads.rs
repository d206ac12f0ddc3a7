//! The threads pane: tid, name, state, CPU% since the last snapshot, what the thread waits
//! on, and its innermost interesting frame. Threads that exited are kept, marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, TableState};

use super::search;
use super::theme::Theme;
use crate::app::{Inspector, Pane, ThreadSort};
use crate::describe::{basename, interesting_frame};
use crate::tracer::Thread;

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = inspector.thread_rows();
    let focused = inspector.focus() == Pane::Threads;
    let header = Row::new([
        "TID",
        "NAME",
        "S",
        "CPU%",
        "WAITING ON",
        "SAME",
        "TOP FRAME",
    ])
    .style(theme.header);
    let now = inspector.snapshot().map(|s| s.taken_at());
    let pattern = inspector.search().pattern();
    let mark = |text: String| search::marked(text, pattern.as_ref(), theme.search);
    let body = rows.iter().map(|r| {
        let t = r.thread;
        let state = if r.exited {
            "X".to_string()
        } else {
            t.facts().state.map(String::from).unwrap_or_default()
        };
        let cpu = r.cpu_percent.map(|c| format!("{c:.0}")).unwrap_or_default();
        let top = if r.exited {
            "(exited)".to_string()
        } else {
            top_frame(t)
        };
        let row = Row::new(vec![
            Cell::from(t.id().to_string()),
            Cell::from(mark(t.name().unwrap_or("").to_string())),
            Cell::from(state),
            Cell::from(cpu),
            Cell::from(mark(waiting_on(t))),
            Cell::from(now.map(|n| stuck_label(r.stuck, n)).unwrap_or_default()),
            Cell::from(mark(top)),
        ]);
        if r.exited {
            row.style(theme.exited)
        } else if t.facts().state == Some('R') {
            row.style(theme.busy)
        } else {
            row
        }
    });
    // On narrow terminals the top frame matters more than long names.
    let narrow = area.width < 100;
    let widths = [
        Constraint::Length(7),
        Constraint::Length(if narrow { 12 } else { 15 }),
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(if narrow { 12 } else { 16 }),
        Constraint::Length(if narrow { 7 } else { 9 }),
        Constraint::Fill(1),
    ];
    let sort = match inspector.thread_sort() {
        ThreadSort::Tid => "",
        ThreadSort::Stuck => ", longest unchanged first",
        ThreadSort::Cpu => ", busiest first",
    };
    let shown = rows.iter().filter(|r| !r.exited).count();
    let title = match inspector.snapshot() {
        Some(snap) if inspector.search().filters() => format!(
            " Threads ({shown} of {}{sort}, filtered: /{}) ",
            snap.threads().len(),
            inspector.search().text()
        ),
        _ => format!(" Threads ({shown}{sort}) "),
    };
    let table = theme
        .pane_table(body, widths, title, focused)
        .header(header);
    let selected = inspector
        .selected_tid()
        .and_then(|tid| rows.iter().position(|r| r.thread.id() == tid));
    let mut state = TableState::new()
        .with_offset(inspector.list_offset())
        .with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// The thread's error, else the blocking syscall by name (futex, epoll_wait, read...), or
/// "← name" for a call the thread was leaving when captured, else the wchan.
pub fn waiting_on(t: &Thread) -> String {
    if let Some(e) = t.error() {
        return format!("! {e}");
    }
    let f = t.facts();
    if let Some(owner) = f.lock.as_ref().and_then(|l| l.owner) {
        return format!("held by {owner}");
    }
    if let Some(leaving) = &f.leaving {
        // Caught on its way out of the call: running, its top frame still at the call.
        return match &leaving.call {
            Some(sc) => match sc.name() {
                Some(name) => format!("← {name}"),
                None => format!("← syscall {}", sc.number),
            },
            None => "← syscall".into(),
        };
    }
    let name = f.syscall.as_ref().and_then(|s| s.name());
    match (name, &f.wchan, &f.syscall) {
        (Some(name), _, _) => name.to_string(),
        (None, Some(w), _) => w.clone(),
        (None, None, Some(s)) => format!("syscall {}", s.number),
        (None, None, None) => String::new(),
    }
}

/// The innermost interesting frame's name, for the TOP FRAME column.
pub fn top_frame(t: &Thread) -> String {
    match interesting_frame(t) {
        Some(f) => match f.symbol() {
            Some(s) => s.name().to_string(),
            None => f
                .module()
                .map(|m| format!("?? ({}+{:#x})", basename(&m.path), m.offset))
                .unwrap_or_else(|| format!("{:#x}", f.ip())),
        },
        None => String::new(),
    }
}

/// "42s/21": how long and for how many snapshots a stack has not changed (shown from the
/// second identical snapshot on).
pub fn stuck_label(
    stuck: Option<&crate::tracer::diff::StackRun>,
    now: std::time::SystemTime,
) -> String {
    match stuck {
        Some(s) if s.snapshots >= 2 => {
            let secs = s.duration(now).as_secs();
            let d = if secs >= 3600 {
                format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
            } else if secs >= 60 {
                format!("{}m{:02}s", secs / 60, secs % 60)
            } else {
                format!("{secs}s")
            };
            format!("{d}/{}", s.snapshots)
        }
        _ => String::new(),
    }
}
