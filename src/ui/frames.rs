//! The frames pane: the selected thread's stack, innermost first: `#n`, address, demangled
//! symbol+offset (`[i] name` for an inlined function, scrolled by `←`/`→`), `file:line` and
//! the module dim beside it or, without line info, the module; the notes below span the pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Table, TableState};

use super::fit::{self, Column, Part, Piece, PieceRow};
use super::theme::Theme;
use crate::app::{Inspector, Pane, View};
use crate::describe::brief::{self, Row};
use crate::describe::{self, basename};
use crate::tracer::{FrameKind, ModuleProblem, Process, Thread};

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
    let block_title = fit::cut(&title(inspector, thread), area.width.into()).into_owned();
    let Some(t) = thread else {
        frame.render_widget(theme.pane(block_title, focused), area);
        return;
    };
    let rows = frame_rows(inspector, theme, t);
    let notes = note_rows(inspector.snapshot().map(|p| &**p), theme, t);
    let stack = Stack {
        rows,
        notes,
        selected: inspector.selected_frame_row(),
        offset: inspector.frames_offset(),
        focused,
    };
    render_stack(stack, theme, frame, area, block_title);
}

/// A stack to draw: its frames' rows, the notes below them, the selected frame.
pub struct Stack {
    pub rows: Vec<PieceRow>,
    /// (mark, label, text, detail) each.
    pub notes: Vec<PieceRow>,
    pub selected: usize,
    /// The first frame shown (kept in the app state, so clicks map to the row under them).
    pub offset: usize,
    pub focused: bool,
}

/// The frames as a table, the notes below them as lines that span the pane from the symbols'
/// column on, so no column's edge cuts a lock's owner or a kernel frame.
pub fn render_stack(stack: Stack, theme: &Theme, frame: &mut Frame, area: Rect, title: String) {
    let block = theme.pane(title, stack.focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let widths = fit::widths(&COLUMNS, &stack.rows, inner.width, false);
    let (_, body, constraints) = fit::table(&COLUMNS, &stack.rows, inner.width, false);
    let height = u16::try_from(stack.rows.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let table = Table::new(body, constraints)
        .row_highlight_style(theme.highlight(stack.focused))
        .column_spacing(1);
    let mut state = TableState::new()
        .with_offset(stack.offset)
        .with_selected(Some(stack.selected));
    frame.render_stateful_widget(table, Rect { height, ..inner }, &mut state);
    let marks = stack
        .notes
        .iter()
        .map(|(n, _)| fit::width(&n[0].text))
        .max();
    let mark_width = widths[0].or(marks).unwrap_or(0);
    let below = Rect {
        y: inner.y + height,
        height: inner.height - height,
        ..inner
    };
    let lines: Vec<Line> = stack
        .notes
        .iter()
        .map(|note| note_line(note, mark_width, widths[1], inner.width))
        .collect();
    frame.render_widget(Paragraph::new(lines), below);
}

/// A note as a line: its mark and label where the frames have their number and address, its
/// text and detail from the symbols' column on, cut (marked) only at the pane's edge.
fn note_line<'a>(
    (pieces, style): &PieceRow,
    mark_width: usize,
    address: Option<usize>,
    avail: u16,
) -> Line<'a> {
    let text = |i: usize| pieces.get(i).map_or("", |p: &Piece| p.text.as_str());
    let mut prefix = format!("{:<mark_width$} ", text(0));
    match address {
        Some(w) => prefix.push_str(&format!("{:<w$} ", text(1))),
        None if !text(1).is_empty() => prefix.push_str(&format!("{} ", text(1))),
        None => {}
    }
    let detail = match text(3) {
        "" => String::new(),
        d => format!("  {d}"),
    };
    let parts = [
        Part::new(Piece::whole(prefix).style(*style), 9),
        Part::new(Piece::text(text(2)).style(*style), 8),
        Part::new(Piece::text(detail).style(*style), 5),
    ];
    fit::line(&parts, avail)
}

/// " Stack of 4243 "worker-1" (stuck 12m: same stack, no CPU) in futex_wait(0x7f…) ", the
/// verdict once there is one, "(brief)" after it when the brief form leaves frames out; an interpreter thread's Python name where its OS name is generic.
fn title(inspector: &Inspector, thread: Option<&Thread>) -> String {
    let process_name = inspector
        .snapshot()
        .and_then(|s| s.threads().iter().find(|t| t.id() == s.id()))
        .and_then(|t| t.name());
    match thread {
        Some(t) => format!(
            " Stack of {} {}{}{}{} ",
            t.id(),
            Some(describe::shown_thread_name(t, process_name))
                .filter(|n| !n.is_empty())
                .map(|n| format!("\"{n}\""))
                .unwrap_or_default(),
            // The verdict with its evidence: the threads pane has room for the word only.
            inspector
                .history()
                .verdict(t.id())
                .filter(|v| v.is_verdict())
                .map(|v| format!(" ({})", v.text()))
                .unwrap_or_default(),
            t.facts()
                .wait
                .as_ref()
                .map(|w| format!(" in {w}"))
                .unwrap_or_default(),
            if inspector.brief() && t.frames().iter().any(|f| f.kind() == FrameKind::Python) {
                " (brief)"
            } else {
                ""
            }
        ),
        None => " Stack ".to_string(),
    }
}

/// One row per frame (in brief, a row in place of the interpreter frames left out); in the
/// diff view, the inner frames that differ from the older snapshot's stack of the same thread
/// are marked, the common outer frames stay plain.
fn frame_rows(inspector: &Inspector, theme: &Theme, t: &Thread) -> Vec<PieceRow> {
    let changed = changed_inner_frames(inspector, t);
    let pattern = inspector.search().pattern();
    let frames = t.frames();
    inspector
        .frame_rows()
        .into_iter()
        .filter_map(|row| {
            let i = match row {
                Row::Frame(i) => i,
                Row::Hidden(n) => return Some(hidden_row(n, theme)),
            };
            let f = frames.get(i)?;
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
            Some((pieces, style))
        })
        .collect()
}

/// The row in place of `n` interpreter frames the brief form leaves out.
fn hidden_row(n: usize, theme: &Theme) -> PieceRow {
    (
        vec![
            Piece::whole(".."),
            Piece::whole(""),
            Piece::text(brief::hidden_text(n)),
            Piece::whole(""),
            Piece::text(""),
        ],
        theme.dim,
    )
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
    // A Python frame's name and place stand apart from the native frames around it; it has
    // no address of its own.
    let python = f.kind() == FrameKind::Python;
    let style = if python { theme.python } else { Style::new() };
    let address = if python {
        String::new()
    } else {
        format!("{:#014x}", f.ip())
    };
    vec![
        Piece::whole(format!("{mark}{i}")),
        Piece::whole(address),
        Piece::text(symbol).scrolled(skip).style(style),
        Piece::whole(place).style(style),
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
    // A holder in another process its wait chain leads to (H opens it).
    if let Some(peer) = super::chains::peer_detail(t) {
        rows.push(note_row("--", "", peer, String::new(), theme.header));
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
        ModuleProblem::BuildIdMismatch { .. } => "another build than the core's: not used".into(),
        ModuleProblem::NotFound => "file not found: --exe or --sysroot".into(),
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
