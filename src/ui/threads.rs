//! The threads pane: tid, name, state, CPU% since the last snapshot, what the thread waits
//! on, how long its stack is the same, its verdict over time, and its innermost interesting
//! frame. Threads that exited are kept, marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::fit::{Column, Piece, PieceRow};
use super::list_pane::ListPane;
use super::search;
use super::theme::Theme;
use crate::app::{Inspector, Pane, ThreadSort};
use crate::describe::{basename, frame_symbol, interesting_frame};
use crate::tracer::{FrameKind, Thread};

/// The columns, by priority: ids and the top frame go last, names and waits are cut first.
const COLUMNS: [Column; 8] = [
    Column::new("TID", 9, 7),
    Column::new("NAME", 5, 15).min(6),
    Column::new("S", 7, 1),
    Column::new("CPU%", 6, 4),
    Column::new("WAITING ON", 4, 16).min(8),
    Column::new("SAME", 3, 9),
    Column::new("VERDICT", 5, 9),
    Column::new("TOP FRAME", 8, 30).min(12).fill(1),
];
/// The VERDICT column: shown once a thread has a verdict over time.
const VERDICT: usize = 6;

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = inspector.thread_rows();
    let focused = inspector.focus() == Pane::Threads;
    let now = inspector.snapshot().map(|s| s.taken_at());
    let pattern = inspector.search().pattern();
    let mark = |p: Piece| search::piece(p, pattern.as_ref(), theme.search);
    // The process's own name (its main thread's): threads that share it are named by Python.
    let process_name = inspector
        .snapshot()
        .and_then(|s| s.threads().iter().find(|t| t.id() == s.id()))
        .and_then(|t| t.name());
    // The VERDICT column takes room only once a thread has a verdict (3 snapshots over 1 s).
    let verdicts = rows
        .iter()
        .any(|r| r.verdict.is_some_and(|v| v.is_verdict()));
    let body: Vec<PieceRow> = rows
        .iter()
        .map(|r| {
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
            let style = if r.exited {
                theme.exited
            } else if t.facts().state == Some('R') {
                theme.busy
            } else {
                Style::new()
            };
            let mut cells = vec![
                Piece::whole(t.id().to_string()),
                mark(Piece::text(crate::describe::shown_thread_name(
                    t,
                    process_name,
                ))),
                Piece::whole(state),
                Piece::whole(cpu),
                mark(waiting_piece(t)),
                Piece::whole(now.map(|n| stuck_label(r.stuck, n)).unwrap_or_default()),
                Piece::whole(r.verdict.and_then(|v| v.cell()).unwrap_or_default()),
                mark(Piece::text(top)),
            ];
            if !verdicts {
                cells.remove(VERDICT);
            }
            (cells, style)
        })
        .collect();
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
    let mut columns = COLUMNS.to_vec();
    if !verdicts {
        columns.remove(VERDICT);
    }
    ListPane {
        columns: &columns,
        rows: &body,
        title: &title,
        focused,
        offset: inspector.list_offset(),
        selected: inspector
            .selected_tid()
            .and_then(|tid| rows.iter().position(|r| r.thread.id() == tid)),
    }
    .draw(theme, frame, area);
}

/// The WAITING ON cell: an owner's id or a call's number is never cut, an error or a name may be.
fn waiting_piece(t: &Thread) -> Piece {
    let text = waiting_on(t);
    let f = t.facts();
    let whole = t.error().is_none()
        && (f.lock.as_ref().is_some_and(|l| l.owner.is_some())
            || f.chain.is_some()
            || f.leaving.is_some()
            || text.starts_with("syscall "));
    if whole {
        Piece::whole(text)
    } else {
        Piece::text(text)
    }
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
    // The peer its wait chain found: a holder in another process, or here.
    if let Some(peer) = super::chains::peer(t) {
        return peer;
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

/// The innermost interesting frame's name, for the TOP FRAME column (and the group and diff
/// views'): for an interpreter thread its innermost Python frame, `[py] name`, which says
/// what it is doing where the native frame says only that the interpreter waits.
pub fn top_frame(t: &Thread) -> String {
    if let Some(f) = t.frames().iter().find(|f| f.kind() == FrameKind::Python) {
        return frame_symbol(f);
    }
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
