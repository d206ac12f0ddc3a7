//! Which frame of a stack says what a thread is doing, and why a stack ends short of the
//! thread's root: for the threads pane's TOP FRAME, the group names of `diff`, and the
//! frames pane's last row.

use crate::tracer::{Frame, FrameKind, StackEnd, Thread};

use super::basename;

/// The innermost frame worth showing for a thread: the first one outside libc, pthread, the
/// dynamic loader, the vDSO, the Rust standard library and the futex wrappers.
pub fn interesting_frame(t: &Thread) -> Option<&Frame> {
    const WRAPPERS: [&str; 9] = [
        "std::",
        "<std::",
        "core::",
        "<core::",
        "alloc::",
        "<alloc::",
        "parking_lot",
        "syscall",
        "__",
    ];
    let boring_module = |f: &Frame| {
        f.module().is_some_and(|m| {
            let base = basename(&m.path);
            base.starts_with("libc.so")
                || base.starts_with("libpthread")
                || base.starts_with("ld-linux")
                || base == "[vdso]"
        })
    };
    t.frames()
        .iter()
        .find(|f| {
            let name = f.symbol().map(|s| s.name()).unwrap_or("");
            f.symbol().is_some()
                && !boring_module(f)
                && !name.contains("futex")
                && !name.contains(" as core::")
                && !name.contains(" as std::")
                && !WRAPPERS.iter().any(|w| name.starts_with(w))
        })
        .or_else(|| {
            t.frames()
                .iter()
                .find(|f| f.symbol().is_some() && !boring_module(f))
        })
        .or_else(|| t.frames().first())
}

/// Why a stack ends short of its root, in two short parts for a narrow pane: (gist, detail),
/// e.g. ("cut: stack copy too short (64 KiB)", "72 KiB would do"). None for a whole stack.
pub fn stack_end_gist(t: &Thread) -> Option<(String, String)> {
    Some(match t.stack_end()? {
        StackEnd::Root => return None,
        StackEnd::NoUnwindInfo { module, address } => (
            format!("cut: no unwind info at {address:#x}"),
            module
                .as_deref()
                .map(basename)
                .unwrap_or_default()
                .to_string(),
        ),
        StackEnd::CopyTooShort { copied, needed } => (
            format!("cut: stack copy too short ({} KiB)", copied / 1024),
            needed
                .map(|n| format!("{} KiB would do", n.div_ceil(1024)))
                .unwrap_or_default(),
        ),
        StackEnd::FrameLimit { limit } => {
            ("cut at the frame limit".into(), format!("{limit} frames"))
        }
        _ => (t.end_note()?, String::new()),
    })
}

/// A frame's symbol as the frames pane shows it: `name+0xoff`, `[i] name` for an inlined
/// function, `[py] name` for a Python function, marked when it is a signal handler's or a frameless one's.
pub fn frame_symbol(f: &Frame) -> String {
    let symbol = match f.symbol() {
        // A Python function has no address to be at an offset of.
        Some(s) if f.kind() == FrameKind::Python => format!("[py] {}", s.name()),
        Some(s) if f.is_inlined() => format!("[i] {}", s.name()),
        Some(s) => format!("{}+{:#x}", s.name(), s.offset()),
        None if f.is_inlined() => "[i] ??".to_string(),
        None => "??".to_string(),
    };
    if f.is_signal() {
        format!("<signal handler called> {symbol}")
    } else if f.is_frameless() {
        format!("[frameless] {symbol}")
    } else {
        symbol
    }
}

/// The columns [`frame_symbol`] takes on a terminal.
pub fn frame_width(f: &Frame) -> usize {
    unicode_width::UnicodeWidthStr::width(frame_symbol(f).as_str())
}
