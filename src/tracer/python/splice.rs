//! Puts each thread's Python frames into its native stack: the k-th group of Python frames
//! (one evaluator activation's, innermost first) goes right inside the k-th native
//! `_PyEval_EvalFrameDefault` frame from the top, so the stack reads as one ordered list.

use std::sync::Arc;

use super::walk::{PyFrame, PyThreadState};
use crate::tracer::model::{Frame, FrameKind, Location, PythonThread, Symbol, Thread};

/// The evaluator's symbol (`.cold` parts included).
const EVALUATOR: &str = "_PyEval_EvalFrameDefault";

/// Splices the thread states' frames into the threads they belong to (by tid), but those in
/// `kept`, which hold theirs from the last trace.
pub(super) fn into_threads(
    threads: &mut [Thread],
    states: &[PyThreadState],
    kept: &std::collections::HashSet<u32>,
) {
    for thread in threads.iter_mut().filter(|t| !kept.contains(&t.id)) {
        let mine: Vec<&PyThreadState> = states
            .iter()
            .filter(|s| s.native_tid != 0 && s.native_tid == thread.id)
            .collect();
        if mine.is_empty() {
            continue;
        }
        // Several thread states on one thread: one per interpreter it entered, the newest
        // interpreter's (first in the list) innermost.
        let groups: Vec<&Vec<PyFrame>> = mine.iter().flat_map(|s| s.groups.iter()).collect();
        let mut note = mine.iter().find_map(|s| s.note.clone());
        let evaluators = thread.frames.iter().filter(|f| is_evaluator(f)).count();
        // The Python frames were read after the thread ran on: if they no longer fit its
        // native stack (one evaluator more is an activation whose frame already returned),
        // the thread moved on, and splicing them in would mislabel its frames.
        if groups.len() > evaluators || evaluators > groups.len() + 1 {
            note = Some(format!(
                "Python frames left out: the thread moved on before they were read \
                 ({} Python activations, {evaluators} evaluator frames)",
                groups.len()
            ));
        } else {
            thread.frames = splice(&thread.frames, &groups).into();
        }
        thread.facts.python = Some(PythonThread {
            holds_gil: mine.iter().any(|s| s.holds_gil),
            // The name in the oldest interpreter (last in the list), which started the
            // thread: in a subinterpreter it may be that one's "MainThread".
            name: mine.iter().rev().find_map(|s| s.name.clone()),
            note,
        });
    }
}

/// Marks every thread's Python facts with why the runtime could not be walked.
pub(super) fn note_all(threads: &mut [Thread], why: &str) {
    if let Some(main) = threads.first_mut() {
        main.facts.python = Some(PythonThread {
            note: Some(format!("Python frames unavailable: {why}")),
            ..Default::default()
        });
    }
}

/// The frames with the groups spliced in, the k-th group inside the k-th evaluator frame.
fn splice(native: &Arc<[Frame]>, groups: &[&Vec<PyFrame>]) -> Vec<Frame> {
    let mut out = Vec::with_capacity(native.len() + groups.iter().map(|g| g.len()).sum::<usize>());
    let mut next = groups.iter();
    let mut i = 0;
    while i < native.len() {
        // A physical frame and the functions inlined into it share an ip: the whole run is
        // one activation.
        let mut end = i;
        while end + 1 < native.len() && native[end].inlined && native[end + 1].ip == native[i].ip {
            end += 1;
        }
        let evaluates = native[i..=end].iter().any(is_evaluator);
        if evaluates && let Some(group) = next.next() {
            out.extend(group.iter().map(python_frame));
        }
        out.extend(native[i..=end].iter().cloned());
        i = end + 1;
    }
    out
}

fn is_evaluator(f: &Frame) -> bool {
    f.kind == FrameKind::Native
        && f.symbol.as_ref().is_some_and(|s| {
            s.raw_name
                .strip_prefix(EVALUATOR)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
}

/// A Python frame in the model: no ip and no module; the function as its symbol, the file
/// and line as its location (line 0 when the line table has none for the instruction).
fn python_frame(f: &PyFrame) -> Frame {
    Frame {
        kind: FrameKind::Python,
        ip: 0,
        is_signal: false,
        symbol: Some(Symbol {
            name: f.function.clone(),
            raw_name: f.name.clone(),
            offset: 0,
            address: 0,
            size: 0,
        }),
        module: None,
        location: Some(Location {
            file: f.file.clone(),
            line: f.line.unwrap_or(0),
            column: None,
        }),
        inlined: false,
        frameless: false,
    }
}
