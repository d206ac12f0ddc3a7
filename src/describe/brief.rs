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
