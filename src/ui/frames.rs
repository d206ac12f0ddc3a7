//! The frames pane: the selected thread's stack, innermost first: `#n`, address, demangled
//! symbol+offset (`[i] name` for an inlined function) and `file:line` or, without line info,
//! the module.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::TableState;

use super::fit::{self, Column, Piece, PieceRow};
use super::theme::Theme;
use crate::app::{Inspector, Pane, View};
use crate::describe::{self, basename};
use crate::tracer::{ModuleProblem, Process, Thread};

/// The columns, by priority: the address goes first, then the module beside a `file:line`;
/// the symbol takes the room left (and scrolls, `←`/`→`).
pub const COLUMNS: [Column; 5] = [
    Column::new("", 9, 4),
    Column::new("", 2, 14),
    Column::new("", 8, 40).fill(1),
    Column::new("", 7, 12).min(8),
    // A module's name is cut only when long: short ones show whole or go.
    Column::new("", 3, 16).min(12),
];

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = inspector.focus() == Pane::Frames;
    let thread = inspector.selected_thread();
    let block_title = fit::cut(&title(thread), area.width.into()).into_owned();
    let Some(t) = thread else {
        frame.render_widget(theme.pane(block_title, focused), area);
        return;
    };
    let mut rows = frame_rows(inspector, theme, t);
    rows.extend(note_rows(inspector.snapshot().map(|p| &**p), theme, t));
    let (_, body, widths) = fit::table(&COLUMNS, &rows, area.width, false);
    let table = theme.pane_table(body, widths, block_title, focused);
    let mut state = TableState::new()
        .with_offset(inspector.frames_offset())
        .with_selected(Some(inspector.selected_frame()));
    frame.render_stateful_widget(table, area, &mut state);
}

/// " Stack of 4243 "worker-1" in futex_wait(0x7f…) ".
fn title(thread: Option<&Thread>) -> String {
    match thread {
        Some(t) => format!(
            " Stack of {} {}{} ",
            t.id(),
            t.name().map(|n| format!("\"{n}\"")).unwrap_or_default(),
            t.facts()
                .wait
                .as_ref()
                .map(|w| format!(" in {w}"))
                .unwrap_or_default()
        ),
        None => " Stack ".to_string(),
    }
}

/// One row per frame; in the diff view, the inner frames that differ from the older
/// snapshot's stack of the same thread are marked, the common outer frames stay plain.
fn frame_rows(inspector: &Inspector, theme: &Theme, t: &Thread) -> Vec<PieceRow> {
    let changed = changed_inner_frames(inspector, t);
    let pattern = inspector.search().pattern();
    t.frames()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mark = if i < changed { "!" } else { "#" };
            let style = if i < changed {
                theme.header
            } else {
                Style::new()
            };
            let mut pieces = frame_pieces(f, i, mark, theme, inspector.frames_scroll());
            // The symbol, the place and the module are what the search looks in.
            for p in pieces.iter_mut().skip(2) {
                *p = super::search::piece(std::mem::take(p), pattern.as_ref(), theme.search);
            }
            (pieces, style)
        })
        .collect()
}

/// The cells of a frame's row: `#i`, address, symbol (scrolled `skip` columns), place and, beside
/// a `file:line`, the module's name (dim).
pub fn frame_pieces(
    f: &crate::tracer::Frame,
    i: usize,
    mark: &str,
    theme: &Theme,
    skip: usize,
) -> Vec<Piece> {
    let (symbol, place) = frame_cells(f);
    let module = match (f.location(), f.module()) {
        (Some(_), Some(m)) => basename(&m.path).to_string(),
        _ => String::new(),
    };
    vec![
        Piece::whole(format!("{mark}{i}")),
        Piece::whole(format!("{:#014x}", f.ip())),
        Piece::text(symbol).scrolled(skip),
        Piece::whole(place),
        Piece::text(module).style(theme.dim),
    ]
}

/// A row of text below the frames: a mark, the text beside the symbols, and a detail beside
/// the places.
fn note_row(mark: &str, label: &str, text: String, detail: String, style: Style) -> PieceRow {
    (
        vec![
            Piece::whole(mark),
            Piece::text(label),
            Piece::text(text),
            Piece::text(detail),
        ],
        style,
    )
}

/// The rows below the frames: the state the capture found, the lock waited for, the kernel
/// stack, the thread's error, why the stack ends, and the notes on its modules.
fn note_rows(snap: Option<&Process>, theme: &Theme, t: &Thread) -> Vec<PieceRow> {
    let mut rows = Vec::new();
    // A thread caught otherwise than /proc showed it just before its stop, or on its way out
    // of a call: its state as the capture found it ("S at the capture, R just before").
    if let Some(note) = describe::capture_note(t) {
        rows.push(note_row("--", "", note, String::new(), theme.header));
    }
    // What it waits for, and its kernel stack (read for threads in D), below the user frames.
    if let Some(lock) = snap.and_then(|p| describe::lock_text(p, t)) {
        rows.push(note_row("--", "", lock, String::new(), theme.header));
    }
    // What the owner of that lock is doing (H selects it).
    if let Some(owner) = snap.and_then(|p| describe::owner_text(p, t)) {
        rows.push(note_row("--", "", owner, String::new(), theme.header));
    }
    for (i, k) in t.facts().kernel_stack.iter().enumerate() {
        rows.push(note_row(
            &format!("k{i}"),
            "kernel",
            k.clone(),
            String::new(),
            theme.dim,
        ));
    }
    if let Some(e) = t.error() {
        rows.push(note_row("!", "", e.to_string(), String::new(), theme.error));
    }
    // Why the stack ends short of the thread's root, once: the gist beside the frames'
    // names, the module or figures beside their modules (the pane is narrow).
    if let Some((gist, detail)) = describe::stack_end_gist(t) {
        rows.push(note_row("…", "", gist, detail, theme.dim));
    }
    rows.extend(module_note_rows(snap, theme, t));
    rows
}

/// Why frames of this stack have no names: the trace's notes on its modules (no debuginfo,
/// an unreadable ELF file), each once, as "reason" beside the module's name.
fn module_note_rows(snap: Option<&Process>, theme: &Theme, t: &Thread) -> Vec<PieceRow> {
    let Some(snap) = snap else {
        return Vec::new();
    };
    snap.missing_debuginfo()
        .iter()
        .filter_map(|note| Some((t.module_note(note)?, &note.problem)))
        .map(|(m, problem)| {
            note_row(
                "i",
                "",
                problem_gist(problem),
                basename(&m.path).to_string(),
                theme.dim,
            )
        })
        .collect()
}

/// A module's problem in short: the details (the parse error, the build-id and the package
/// path) are in `dump`, the pane is narrow.
fn problem_gist(problem: &ModuleProblem) -> String {
    match problem {
        ModuleProblem::NoDebuginfo { .. } => "no debuginfo".into(),
        ModuleProblem::UnreadableElf { .. } => "unreadable ELF file: no symbols".into(),
        ModuleProblem::DebugInfoTooLarge { .. } => problem.to_string(),
        // A saved snapshot's words, not typed: its parenthesized details left out.
        ModuleProblem::Noted { reason } => without_parentheses(reason),
    }
}

/// A frame's symbol cell (`name+0xoff`, `[i] name` for an inlined function) and place cell
/// (`dir/file:line`, else the module's name).
pub fn frame_cells(f: &crate::tracer::Frame) -> (String, String) {
    let module = f.location().map(short_location).or_else(|| {
        f.module().map(|m| {
            if f.symbol().is_some() {
                basename(&m.path).to_string()
            } else {
                format!("{}+{:#x}", basename(&m.path), m.offset)
            }
        })
    });
    (describe::frame_symbol(f), module.unwrap_or_default())
}

/// `file:line` with the file's last two path components.
/// `text` without its parenthesized parts: "unreadable ELF file (bad magic): no symbols" →
/// "unreadable ELF file: no symbols".
fn without_parentheses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" :", ":")
}

fn short_location(l: &crate::tracer::Location) -> String {
    let mut parts = l.file.rsplit('/').filter(|p| !p.is_empty());
    let last = parts.next().unwrap_or("");
    let file = match parts.next() {
        Some(dir) => format!("{dir}/{last}"),
        None => last.to_string(),
    };
    format!("{file}:{}", l.line)
}

/// How many innermost frames of `t` differ from the same thread's stack in the diff's older
/// snapshot (0 outside the diff view, or when the thread is new or unchanged).
fn changed_inner_frames(inspector: &Inspector, t: &Thread) -> usize {
    use crate::tracer::diff::Change;
    if inspector.view() != View::Diff {
        return 0;
    }
    let change = inspector
        .history()
        .diff()
        .and_then(|d| d.threads.iter().find(|td| td.tid == t.id()))
        .map(|td| &td.change);
    match change {
        Some(Change::Changed { common_outer }) => t.frames().len().saturating_sub(*common_outer),
        _ => 0,
    }
}
