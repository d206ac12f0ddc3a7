//! The walk of a live CPython runtime: interpreters, their thread states, and each thread
//! state's frame chain, cut into one group per evaluator activation. Every loop is bounded and
//! every pointer read checked; a read that fails mid-chain ends that chain with a note.

use std::collections::HashSet;

use super::layout::{FrameRoot, Gil};
use super::objects::Reader;

/// Most interpreters, thread states per interpreter, and frames per thread state walked.
const MAX_INTERPRETERS: usize = 256;
const MAX_THREADS: usize = 4096;
const MAX_FRAMES: usize = 4096;
/// `FRAME_OWNED_BY_CSTACK` (3.12+): an evaluator's entry shim, not a Python function.
const OWNED_BY_CSTACK: u8 = 3;

/// One Python frame as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PyFrame {
    /// Qualified name where the version has one, else the name.
    pub function: String,
    pub name: String,
    pub file: String,
    pub line: Option<u32>,
}

/// One thread state: which OS thread, and its frames grouped by evaluator activation
/// (innermost group first, each group innermost frame first).
#[derive(Debug, Clone, Default)]
pub(super) struct PyThreadState {
    /// `pthread_self()` of the thread.
    pub thread_id: u64,
    /// The kernel tid (3.11+; 0 when not known).
    pub native_tid: u32,
    pub holds_gil: bool,
    /// The `threading` name.
    pub name: Option<String>,
    pub groups: Vec<Vec<PyFrame>>,
    /// Why the chain was cut, if it was.
    pub note: Option<String>,
}

/// Every thread state of every interpreter, interpreters in the runtime's order (newest
/// first), or why the runtime could not be walked.
pub(super) fn thread_states(r: &mut Reader, runtime: u64) -> Result<Vec<PyThreadState>, String> {
    let l = r.layout;
    let mut interp = r
        .word(runtime + l.interp_head)
        .ok_or("the interpreter list is unreadable")?;
    if interp == 0 {
        return Err("the interpreter is not initialised (or has shut down)".into());
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..MAX_INTERPRETERS {
        if interp == 0 || !seen.insert(interp) {
            break;
        }
        let holder = gil_holder(r, runtime, interp);
        let names = super::names::of(r, interp);
        let mut ts = r.word(interp + l.is_tstate_head).unwrap_or(0);
        let mut seen_ts = HashSet::new();
        for _ in 0..MAX_THREADS {
            if ts == 0 || !seen_ts.insert(ts) {
                break;
            }
            if r.word(ts + l.ts_interp) != Some(interp) {
                // Not a thread state of this interpreter: freed while we read the list.
                break;
            }
            let mut state = PyThreadState {
                thread_id: r.word(ts + l.ts_thread_id).unwrap_or(0),
                native_tid: l
                    .ts_native_tid
                    .and_then(|o| r.word(ts + o))
                    .map_or(0, |w| w as u32),
                holds_gil: holder == Some(ts),
                name: None,
                ..Default::default()
            };
            state.name = names.get(&state.thread_id).cloned();
            frames(r, ts, &mut state);
            out.push(state);
            ts = r.word(ts + l.ts_next).unwrap_or(0);
        }
        interp = r.word(interp + l.is_next).unwrap_or(0);
    }
    Ok(out)
}

/// The thread state holding the GIL that `interp` uses, if the GIL is held.
fn gil_holder(r: &Reader, runtime: u64, interp: u64) -> Option<u64> {
    let (gil, holder, locked) = match r.layout.gil {
        Gil::Runtime { holder, locked } => (runtime, holder, locked),
        Gil::Interpreter {
            pointer,
            holder,
            locked,
        } => (r.word(interp + pointer)?, holder, locked),
    };
    if gil == 0 {
        return None;
    }
    let locked = r.word(gil + locked)? as u32;
    (locked != 0).then(|| r.word(gil + holder)).flatten()
}

/// Reads the frame chain of thread state `ts` into `state.groups`.
fn frames(r: &mut Reader, ts: u64, state: &mut PyThreadState) {
    let l = r.layout;
    let first = match l.root {
        FrameRoot::Frame(off) | FrameRoot::Current(off) => r.word(ts + off),
        FrameRoot::CFrame { cframe, current } => r.word(ts + cframe).and_then(|cf| {
            if cf == 0 {
                Some(0)
            } else {
                r.word(cf + current)
            }
        }),
    };
    let Some(mut frame) = first else {
        state.note = Some("Python frames unreadable: the thread moved on".into());
        return;
    };
    let mut group: Vec<PyFrame> = Vec::new();
    let mut seen = HashSet::new();
    let head_len = (l.f_lasti.max(l.f_owner.unwrap_or(0)).max(l.f_back) + 8) as usize;
    let mut count = 0;
    while frame != 0 {
        count += 1;
        if count > MAX_FRAMES {
            state.note = Some(format!("Python stack cut at {MAX_FRAMES} frames"));
            break;
        }
        if !seen.insert(frame) || !frame.is_multiple_of(8) {
            state.note = Some("Python frames torn: the thread moved on while read".into());
            break;
        }
        let Some(head) = r.bytes(frame, head_len) else {
            state.note = Some("Python frames torn: the thread moved on while read".into());
            break;
        };
        let word = |off: u64| {
            let o = off as usize;
            u64::from_le_bytes(head[o..o + 8].try_into().unwrap_or_default())
        };
        let back = word(l.f_back);
        let owner = l.f_owner.map(|o| head[o as usize]);
        if owner == Some(OWNED_BY_CSTACK) && l.minor >= 12 {
            // The evaluator activation that pushed this shim runs the frames above it.
            state.groups.push(std::mem::take(&mut group));
            frame = back;
            continue;
        }
        let code = word(l.f_code);
        let lasti = match l.lasti {
            super::layout::Lasti::Pointer => word(l.f_lasti),
            _ => u64::from(u32::from_le_bytes(
                head[l.f_lasti as usize..l.f_lasti as usize + 4]
                    .try_into()
                    .unwrap_or_default(),
            )),
        };
        let line = r.line(code, lasti);
        match r.code(code) {
            Some(c) => group.push(PyFrame {
                function: c.qualname.clone().unwrap_or_else(|| c.name.clone()),
                name: c.name.clone(),
                file: c.file.clone(),
                line,
            }),
            None if l.minor >= 13 => {
                // 3.13 frames may run a non-code object (internal frames): not shown.
            }
            None => {
                state.note = Some("Python frames torn: a frame's code was unreadable".into());
                break;
            }
        }
        let entry = match l.f_is_entry {
            Some(off) => head[off as usize] != 0,
            None => l.minor <= 10,
        };
        if entry {
            state.groups.push(std::mem::take(&mut group));
        }
        frame = back;
    }
    if !group.is_empty() {
        state.groups.push(group);
    }
}
