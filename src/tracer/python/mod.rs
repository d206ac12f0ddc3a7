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

use std::os::unix::ffi::OsStrExt;

use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::Thread;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::symbolize::symbols::{KeyCache, Symbolizer};

/// Adds Python frames and facts to the threads of `pid` when it runs a CPython runtime; costs
/// one module lookup otherwise.
pub(crate) fn add_frames(
    pid: i32,
    threads: &mut [Thread],
    symbolizer: &mut Symbolizer,
    maps: &MemoryMaps,
    keys: &mut KeyCache,
) {
    let Some((path, symbols, bias)) = symbolizer.python_module(maps, keys) else {
        return;
    };
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
    let states = layout.and_then(|layout| {
        let mut reader = objects::Reader::new(mem, layout, code_type);
        let mut states = walk::thread_states(&mut reader, runtime)?;
        if layout.ts_native_tid.is_none() {
            let pthreads: Vec<u64> = states.iter().map(|s| s.thread_id).collect();
            let tids: Vec<u32> = threads.iter().map(Thread::id).collect();
            let map = threads::tids_of(&reader, &pthreads, &tids);
            for s in &mut states {
                s.native_tid = map.get(&s.thread_id).copied().unwrap_or(0);
            }
        }
        Ok(states)
    });
    match states {
        Ok(states) => splice::into_threads(threads, &states),
        Err(why) => splice::note_all(threads, &why),
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
