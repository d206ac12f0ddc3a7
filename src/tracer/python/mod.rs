//! Python frames in native stacks: finds a CPython 3.7-3.13 runtime (`_PyRuntime`) in the
//! target, walks its thread states after the threads were resumed, and splices each thread's
//! Python frames in at the evaluator frames that run them.

mod layout;
mod lines;
mod names;
mod objects;
mod splice;
mod threads;
mod walk;

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::Thread;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::symbolize::symbols::{KeyCache, Symbolizer};

/// Reads of each stopped thread's frame chain during its stop (~4 µs each here): the root
/// (one or two words), from 3.11 the data stack under the innermost frame, then frame
/// heads innermost first; the frames past them, the outer ones, which change least, are
/// read after the thread runs again.
const COPY_READS: usize = 4;

/// Frame chains copied during stops, by thread state.
pub(crate) type Copies = HashMap<u64, objects::Copied>;

/// A CPython runtime found in the target before its threads are captured: where it is, its
/// layout, and which thread states each OS thread has, so that the frame chain of a thread we
/// stop is copied during that stop. Read after the thread ran on, a running thread's chain
/// can pair a callee with its caller's next call.
pub(crate) struct Prepared {
    mem: RemoteMemory,
    runtime: u64,
    code_type: u64,
    layout: Result<layout::Layout, String>,
    /// tid → its thread states (one per interpreter it entered).
    by_tid: HashMap<u32, Vec<u64>>,
}

/// Finds the CPython runtime of `pid`, if it runs one, and lists its thread states (costs
/// one module lookup otherwise). `tids` lists the process's threads.
pub(crate) fn prepare(
    pid: i32,
    symbolizer: &mut Symbolizer,
    maps: &MemoryMaps,
    keys: &mut KeyCache,
    tids: impl FnOnce() -> Vec<u32>,
) -> Option<Prepared> {
    let (path, symbols, bias) = symbolizer.python_module(maps, keys)?;
    let mem = RemoteMemory::new(pid);
    let runtime = symbols.runtime.wrapping_add(bias);
    let code_type = if symbols.code_type == 0 {
        0
    } else {
        symbols.code_type.wrapping_add(bias)
    };
    let layout = match version(&mem, &path, symbols.version.map(|v| v.wrapping_add(bias))) {
        None => Err("the CPython version is unknown".to_string()),
        Some(minor) if minor >= 13 => {
            let mut table = vec![0u8; layout::DEBUG_OFFSETS_LEN];
            if mem.read_exact(runtime, &mut table) {
                layout::from_debug_offsets(&table).map_err(|e| e.to_string())
            } else {
                Err("the CPython runtime is unreadable".into())
            }
        }
        Some(minor) => layout::fixed(minor).map_err(|e| e.to_string()),
    };
    let mut by_tid: HashMap<u32, Vec<u64>> = HashMap::new();
    if let Ok(layout) = layout {
        let reader = objects::Reader::new(mem, layout, code_type);
        let listed = walk::list(&reader, runtime).unwrap_or_default();
        let tid_of = native_tids(&reader, &listed, &tids());
        for t in &listed {
            if let Some(&tid) = tid_of.get(&t.tstate) {
                by_tid.entry(tid).or_default().push(t.tstate);
            }
        }
    }
    Some(Prepared {
        mem,
        runtime,
        code_type,
        layout,
        by_tid,
    })
}

/// Each listed thread state's tid: its own record of it (3.11+), else found from its
/// `pthread_t`.
fn native_tids(r: &objects::Reader, listed: &[walk::Listed], tids: &[u32]) -> HashMap<u64, u32> {
    if r.layout.ts_native_tid.is_some() {
        return listed
            .iter()
            .filter(|t| t.native_tid != 0)
            .map(|t| (t.tstate, t.native_tid))
            .collect();
    }
    let pthreads: Vec<u64> = listed.iter().map(|t| t.thread_id).collect();
    let map = threads::tids_of(r, &pthreads, tids);
    listed
        .iter()
        .filter_map(|t| Some((t.tstate, *map.get(&t.thread_id)?)))
        .collect()
}

impl Prepared {
    /// Copies the frame chains of thread `tid` into `copies`: called while it is stopped.
    pub(crate) fn copy(&self, tid: u32, copies: &mut Copies) {
        let (Ok(layout), Some(states)) = (&self.layout, self.by_tid.get(&tid)) else {
            return;
        };
        for &ts in states {
            let r = objects::Reader::copying(self.mem, *layout, COPY_READS);
            walk::copy_chain(&r, ts);
            copies.insert(ts, r.into_copied());
        }
    }

    /// Adds Python frames and facts to `threads` but those in `kept` (whose stacks were kept
    /// from the last trace with their Python frames: they have not run since), once every
    /// thread runs again; a chain copied during its thread's stop is read from the copy.
    pub(crate) fn add_frames(
        self,
        threads: &mut [Thread],
        mut copies: Copies,
        kept: &std::collections::HashSet<u32>,
    ) {
        let tids: Vec<u32> = threads.iter().map(Thread::id).collect();
        // Their thread states' chains are not read: the cost follows the threads that ran.
        let skip: std::collections::HashSet<u64> = kept
            .iter()
            .filter_map(|tid| self.by_tid.get(tid))
            .flatten()
            .copied()
            .collect();
        let states = self.layout.and_then(|layout| {
            let mut reader = objects::Reader::new(self.mem, layout, self.code_type);
            let mut states = walk::thread_states(&mut reader, self.runtime, &mut copies, &skip)?;
            if layout.ts_native_tid.is_none() {
                let pthreads: Vec<u64> = states.iter().map(|s| s.thread_id).collect();
                let map = threads::tids_of(&reader, &pthreads, &tids);
                for s in &mut states {
                    s.native_tid = map.get(&s.thread_id).copied().unwrap_or(0);
                }
            }
            Ok(states)
        });
        match states {
            Ok(states) => splice::into_threads(threads, &states, kept),
            Err(why) => splice::note_all(threads, &why),
        }
    }
}

/// The CPython minor version: `Py_Version` (3.11+) when exported, else the file's name
/// (`libpython3.9.so.1.0`, `python3.11`).
fn version(mem: &RemoteMemory, path: &std::path::Path, py_version: Option<u64>) -> Option<u8> {
    if let Some(at) = py_version {
        let mut b = [0u8; 4];
        if mem.read_exact(at, &mut b) {
            let hex = u32::from_le_bytes(b);
            if hex >> 24 == 3 {
                return Some((hex >> 16) as u8);
            }
        }
    }
    let name = path.file_name()?.as_bytes();
    let at = name.windows(8).position(|w| w == b"python3.")? + 8;
    let digits: Vec<u8> = name[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}
