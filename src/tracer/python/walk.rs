//! The walk of a live CPython runtime: interpreters, their thread states, and each thread
//! state's frame chain, cut into one group per evaluator activation. Every loop is bounded and
//! every pointer read checked; a read that fails mid-chain ends that chain with a note.

use std::collections::{HashMap, HashSet};

use super::layout::{FrameRoot, Gil};
use super::objects::{Copied, Reader};

/// Most interpreters, thread states per interpreter, and frames per thread state walked.
const MAX_INTERPRETERS: usize = 256;
const MAX_THREADS: usize = 4096;
const MAX_FRAMES: usize = 4096;
/// Bytes copied under a stopped thread's innermost frame (3.11+).
const COPY_WINDOW: u64 = 4096;
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

/// A thread state as listed: its address, its interpreter, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Listed {
    pub interp: u64,
    pub tstate: u64,
    /// `pthread_self()` of the thread.
    pub thread_id: u64,
    /// The kernel tid (3.11+; 0 when not known).
    pub native_tid: u32,
}

/// Every thread state of every interpreter, interpreters in the runtime's order (newest
/// first), or why the runtime could not be walked.
pub(super) fn list(r: &Reader, runtime: u64) -> Result<Vec<Listed>, String> {
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
            out.push(Listed {
                interp,
                tstate: ts,
                thread_id: r.word(ts + l.ts_thread_id).unwrap_or(0),
                native_tid: l
                    .ts_native_tid
                    .and_then(|o| r.word(ts + o))
                    .map_or(0, |w| w as u32),
            });
            ts = r.word(ts + l.ts_next).unwrap_or(0);
        }
        interp = r.word(interp + l.is_next).unwrap_or(0);
    }
    Ok(out)
}

/// Every thread state of every interpreter with its frames, as [`list`] lists them, but
/// those in `skip`, which are left out; a thread state in `copies` has its frame chain read
/// from the pages copied during its thread's stop.
pub(super) fn thread_states(
    r: &mut Reader,
    runtime: u64,
    copies: &mut HashMap<u64, Copied>,
    skip: &HashSet<u64>,
) -> Result<Vec<PyThreadState>, String> {
    let listed = list(r, runtime)?;
    let mut out = Vec::new();
    let mut interp = None;
    let (mut holder, mut names) = (None, HashMap::new());
    for t in listed.into_iter().filter(|t| !skip.contains(&t.tstate)) {
        if interp != Some(t.interp) {
            interp = Some(t.interp);
            holder = gil_holder(r, runtime, t.interp);
            names = super::names::of(r, t.interp);
        }
        let mut state = PyThreadState {
            thread_id: t.thread_id,
            native_tid: t.native_tid,
            holds_gil: holder == Some(t.tstate),
            name: names.get(&t.thread_id).cloned(),
            ..Default::default()
        };
        r.set_overlay(copies.remove(&t.tstate).unwrap_or_default());
        frames(r, t.tstate, &mut state);
        r.set_overlay(Copied::new());
        out.push(state);
    }
    Ok(out)
}

/// Reads the frame heads of thread state `ts`'s chain, innermost first, as far as `r` lets:
/// with a copying reader, during the thread's stop, this copies what [`thread_states`]
/// reads the chain from later (the same reads: the root's words, then each head).
pub(super) fn copy_chain(r: &Reader, ts: u64) {
    let l = r.layout;
    let Some(mut frame) = first_frame(r, ts) else {
        return;
    };
    let len = head_len(&l);
    // From 3.11 the frames lie in the thread's data stack, callers below callees: one read
    // of the window under the innermost frame holds most of the chain (a frame is ~100-300
    // bytes). Where the window reaches below the data stack's mapping, the read fails and
    // the heads are read one by one.
    if l.minor >= 11 && frame.is_multiple_of(8) && frame > COPY_WINDOW {
        let _ = r.bytes(frame - COPY_WINDOW, COPY_WINDOW as usize + len);
    }
    let mut seen = HashSet::new();
    while frame != 0 && seen.len() < MAX_FRAMES && r.can_copy() && seen.insert(frame) {
        let Some(head) = r.bytes(frame, len) else {
            return;
        };
        let o = l.f_back as usize;
        frame = head
            .get(o..o + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    }
}

/// The innermost frame of thread state `ts` (0: none), None when unreadable.
fn first_frame(r: &Reader, ts: u64) -> Option<u64> {
    match r.layout.root {
        FrameRoot::Frame(off) | FrameRoot::Current(off) => r.word(ts + off),
        FrameRoot::CFrame { cframe, current } => r.word(ts + cframe).and_then(|cf| {
            if cf == 0 {
                Some(0)
            } else {
                r.word(cf + current)
            }
        }),
    }
}

/// Bytes of a frame's head read at once: every field used lies in it (offsets are below 2^24:
/// checked for the debug offsets, constants otherwise).
fn head_len(l: &super::layout::Layout) -> usize {
    [l.f_lasti, l.f_back, l.f_code]
        .into_iter()
        .chain(l.f_owner)
        .chain(l.f_is_entry)
        .max()
        .unwrap_or(0) as usize
        + 8
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
    let Some(mut frame) = first_frame(r, ts) else {
        state.note = Some("Python frames unreadable: the thread moved on".into());
        return;
    };
    let mut group: Vec<PyFrame> = Vec::new();
    let mut seen = HashSet::new();
    let head_len = head_len(&l);
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
            head.get(o..o + 8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        };
        let back = word(l.f_back);
        let byte = |off: u64| head.get(off as usize).copied().unwrap_or(0);
        let owner = l.f_owner.map(byte);
        if owner == Some(OWNED_BY_CSTACK) && l.minor >= 12 {
            // The evaluator activation that pushed this shim runs the frames above it.
            state.groups.push(std::mem::take(&mut group));
            frame = back;
            continue;
        }
        let code = word(l.f_code);
        let lasti = match l.lasti {
            super::layout::Lasti::Pointer => word(l.f_lasti),
            _ => word(l.f_lasti) & 0xffff_ffff,
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
            Some(off) => byte(off) != 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::memory::RemoteMemory;
    use crate::tracer::python::layout;

    /// Garbage where the runtime should be, and a frame chain that loops: every version's
    /// walk ends, with no panic and no invented frame.
    #[test]
    fn garbage_and_loops_end_the_walk() {
        let me = RemoteMemory::new(std::process::id() as i32);
        let mut noise: Vec<u64> = (0..4096u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555)
            .collect();
        for minor in 7..=12 {
            let l = layout::fixed(minor).unwrap();
            let mut r = Reader::new(me, l, 1);
            let runtime = noise.as_ptr() as u64;
            let _ = thread_states(&mut r, runtime, &mut HashMap::new(), &HashSet::new());
        }
        // A thread state whose only frame points back at itself (3.13-style root).
        let base = noise.as_mut_ptr() as u64;
        let mut l = layout::fixed(12).unwrap();
        l.root = FrameRoot::Current(0);
        noise[0] = base + 64; // tstate+0: the frame
        noise[8 + 1] = base + 64; // frame.previous (offset 8) -> itself
        noise[8] = 0; // frame.code: none
        let mut r = Reader::new(me, l, 1);
        let mut state = PyThreadState::default();
        frames(&mut r, base, &mut state);
        assert!(state.groups.iter().all(Vec::is_empty), "{:?}", state.groups);
        assert!(state.note.is_some());
    }
}
