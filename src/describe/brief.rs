//! The brief form of an interpreter thread's stack: its Python frames with the interpreter's
//! own native frames between them left out (the C functions the Python code called, and the
//! frames outside the outermost Python frame, stay).

use crate::tracer::{Frame, FrameKind};

/// Which of `frames` the brief form shows. A stack without Python frames is shown whole;
/// otherwise a native frame between the innermost and the outermost Python frame goes when
/// its module is the interpreter's (the module of an evaluator frame, `_PyEval_EvalFrame…`).
pub fn shown(frames: &[Frame]) -> Vec<bool> {
    let python = |f: &Frame| f.kind() == FrameKind::Python;
    let (Some(first), Some(last)) = (
        frames.iter().position(python),
        frames.iter().rposition(python),
    ) else {
        return vec![true; frames.len()];
    };
    let interpreter: Vec<&str> = frames
        .iter()
        .filter(|f| {
            f.symbol()
                .is_some_and(|s| s.name().starts_with("_PyEval_EvalFrame"))
        })
        .filter_map(|f| f.module().map(|m| m.path.as_str()))
        .collect();
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let between = first < i && i < last;
            let own = f.kind() == FrameKind::Native
                && f.module()
                    .is_some_and(|m| interpreter.contains(&m.path.as_str()));
            !(between && own)
        })
        .collect()
}

/// A row of a stack's brief form: a frame, or the interpreter frames left out in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// The frame of this index in the whole stack.
    Frame(usize),
    /// This many interpreter frames left out ("N interpreter frames").
    Hidden(usize),
}

/// The rows of `frames` in the brief form ([`shown`]), or whole when not `brief`.
pub fn rows(frames: &[Frame], brief: bool) -> Vec<Row> {
    if !brief {
        return (0..frames.len()).map(Row::Frame).collect();
    }
    let mut out = Vec::new();
    let mut hidden = 0;
    for (i, shown) in shown(frames).into_iter().enumerate() {
        if !shown {
            hidden += 1;
            continue;
        }
        if hidden > 0 {
            out.push(Row::Hidden(hidden));
            hidden = 0;
        }
        out.push(Row::Frame(i));
    }
    out
}

/// "12 interpreter frames": what a [`Row::Hidden`] says.
pub fn hidden_text(n: usize) -> String {
    format!("{n} interpreter frames")
}
