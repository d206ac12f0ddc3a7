//! The symbolize stage: raw frames to frames with modules, symbols, lines and inlined calls,
//! each (ip, lookup address) resolved once per trace, each distinct stack built once and shared
//! by the threads on it, and one note per module that lacks them.

use std::sync::Arc;
use std::time::Duration;

use super::Tracer;
use super::stages::WalkedThread;
use crate::tracer::procfs::maps::{Mapping, MappingKind, MemoryMaps};
use crate::tracer::symbolize::perfmap::PerfMap;
use crate::tracer::symbolize::symbols::{self, KeyCache, Symbolizer, Want};
use crate::tracer::unwind::ends;
use crate::tracer::unwind::unwinder::RawFrame;
use crate::tracer::{Frame, ModuleNote, StackEnd, Thread, ThreadError};

impl Tracer {
    /// Turns captured stacks into frames with modules and symbols. Also returns one note per
    /// module in some stack whose frames lack names or lines (e.g. missing debuginfo).
    /// `live`: the process whose maps are read again for an address they lack; a core's maps
    /// are all there is (reading them again would open a live process's, or nothing).
    pub(super) fn symbolize(
        &mut self,
        live: Option<i32>,
        captured: Vec<WalkedThread>,
        maps: &mut MemoryMaps,
        keys: &mut KeyCache,
    ) -> (Vec<Thread>, Vec<ModuleNote>) {
        let want_symbols = self.options.symbols;
        let mut pass = SymbolizePass {
            symbolizer: &mut self.symbolizer,
            live,
            want: Want {
                symbols: want_symbols,
                lines: want_symbols && self.options.lines,
            },
            maps,
            keys,
            reread: false,
            missing: Vec::new(),
            memo: std::collections::HashMap::new(),
            stacks: std::collections::HashMap::new(),
            perf_map: None,
        };
        let threads = captured.into_iter().map(|c| pass.thread(c)).collect();
        (
            threads,
            pass.missing.iter().map(|n| ModuleNote::clone(n)).collect(),
        )
    }
}

/// One symbolization of a trace's captured stacks (see [`Tracer::symbolize`]).
struct SymbolizePass<'a> {
    symbolizer: &'a mut Symbolizer,
    /// The live process whose maps may be read again; None for a core.
    live: Option<i32>,
    want: Want,
    maps: &'a mut MemoryMaps,
    keys: &'a mut KeyCache,
    /// The maps were read again for an address they lacked (done at most once).
    reread: bool,
    /// The notes on modules without symbols or lines, each once.
    missing: Vec<Arc<ModuleNote>>,
    /// Threads parked in the same code share almost every address: each (ip, lookup
    /// address) is resolved once.
    memo: std::collections::HashMap<(u64, u64), symbols::Resolved>,
    /// The stacks built so far, by what they were built from: a pool of a thousand threads
    /// parked in the same code holds one copy of its frames, not a thousand (a Rust frame's
    /// names and paths take about 500 bytes).
    stacks: std::collections::HashMap<StackKey, Vec<BuiltStack>>,
    /// The target's perf map, looked for at the first frame in anonymous code (once a trace).
    perf_map: Option<Option<Arc<PerfMap>>>,
}

/// What a stack's frames follow from, but for how its walk ended: each frame's (ip, signal
/// frame, frameless), and the innermost frame's RAX.
type StackKey = (Vec<(u64, bool, bool)>, Option<u64>);

/// A stack built for a key: how the walk ended, the frames, and how the stack ends.
type BuiltStack = (StackEnd, Arc<[Frame]>, StackEnd);

impl SymbolizePass<'_> {
    /// The thread of a capture, with its symbolized frames (or those of an earlier trace,
    /// still true) and how its stack ends.
    fn thread(&mut self, c: WalkedThread) -> Thread {
        if let Some(u) = c.kept {
            for note in &u.notes {
                note_once(&mut self.missing, note);
            }
            return Thread {
                id: c.tid as u32,
                name: c.name,
                facts: c.facts,
                frames: u.frames,
                error: u.error,
                end: u.end,
                stopped_for: Duration::ZERO,
            };
        }
        let key: StackKey = (
            c.walk
                .frames
                .iter()
                .map(|f| (f.ip, f.is_signal, f.frameless))
                .collect(),
            c.walk.first_rax,
        );
        let walk_end = c.walk.end.clone();
        if let Some(walk_end) = &walk_end
            && let Some((_, frames, end)) = self
                .stacks
                .get(&key)
                .and_then(|built| built.iter().find(|(e, _, _)| e == walk_end))
        {
            return Thread {
                id: c.tid as u32,
                name: c.name,
                facts: c.facts,
                frames: frames.clone(),
                error: c.error,
                end: Some(end.clone()),
                stopped_for: c.stopped_for,
            };
        }
        let mut frames = Vec::with_capacity(c.walk.frames.len());
        for i in 0..c.walk.frames.len() {
            self.push_frames(&mut frames, &c.walk.frames, i);
        }
        let (error, end) = if frames.is_empty() {
            // No frame: why the walk found none is the thread's error.
            let why = c.walk.error.map(ThreadError::Unwind).or_else(|| {
                c.walk
                    .end
                    .filter(|end| *end != StackEnd::Root)
                    .map(ThreadError::NoFrames)
            });
            (c.error.or(why), None)
        } else {
            let end = c.walk.end.unwrap_or(StackEnd::Root);
            (
                c.error,
                Some(ends::finish(&mut frames, end, c.walk.first_rax, self.maps)),
            )
        };
        let frames: Arc<[Frame]> = frames.into();
        if let (Some(walk_end), Some(end)) = (walk_end, &end)
            && !frames.is_empty()
        {
            let built = self.stacks.entry(key).or_default();
            built.push((walk_end, frames.clone(), end.clone()));
        }
        Thread {
            id: c.tid as u32,
            name: c.name,
            facts: c.facts,
            frames,
            error,
            end,
            stopped_for: c.stopped_for,
        }
    }

    /// Appends the frames of walked frame `i` of `raw_frames`: like gdb, the functions
    /// inlined there first (innermost first), each a frame at the same ip, then the physical
    /// frame with the call's line.
    fn push_frames(&mut self, frames: &mut Vec<Frame>, raw_frames: &[RawFrame], i: usize) {
        let raw = raw_frames[i];
        let lookup_ip = lookup_address(raw_frames, i);
        if let Some(pid) = self.live
            && !self.reread
            && self.maps.find(raw.ip).is_none()
            && self.maps.region(raw.ip).is_none()
        {
            // A library loaded after our first read of the maps (an address in memory the
            // maps hold but not as code is a walk gone into data: a Go thread's, past
            // runtime.mcall, ends at runtime.g0 on every dump).
            self.reread = true;
            if let Ok(fresh) = MemoryMaps::read(pid) {
                *self.maps = fresh;
            }
            *self.keys = KeyCache::new(pid, self.want.lines);
        }
        // JIT code: anonymous memory, named (`[anon:...]`) or not; never a file's code.
        let anonymous = |m: &Mapping| matches!(m.kind, MappingKind::Other(_));
        if self.want.symbols
            && self.perf_map.is_none()
            && self.maps.find(raw.ip).is_some_and(anonymous)
        {
            self.perf_map = Some(self.symbolizer.perf_map(self.keys));
        }
        let (module, symbol, location, inlined, kind) = match self.maps.find(raw.ip) {
            Some(m) => {
                let perf_map = self.perf_map.as_ref().and_then(Option::as_deref);
                let r = self.memo.entry((raw.ip, lookup_ip)).or_insert_with(|| {
                    if anonymous(m)
                        && let Some(r) =
                            perf_map.and_then(|map| symbols::resolve_jit(map, m, raw.ip, lookup_ip))
                    {
                        return r;
                    }
                    let r = self
                        .symbolizer
                        .resolve(m, raw.ip, lookup_ip, self.want, self.keys);
                    if let Some(line) = &r.missing_debuginfo {
                        note_once(&mut self.missing, line);
                    }
                    r
                });
                // A frame the perf map named is JIT code.
                let kind = if r.jit {
                    crate::tracer::FrameKind::Jit
                } else {
                    crate::tracer::FrameKind::Native
                };
                (
                    r.module.clone(),
                    r.symbol.clone(),
                    r.location.clone(),
                    r.inlined.clone(),
                    kind,
                )
            }
            None => (
                None,
                None,
                None,
                Vec::new(),
                crate::tracer::FrameKind::Native,
            ),
        };
        for (symbol, location) in inlined {
            frames.push(Frame {
                kind: crate::tracer::FrameKind::Native,
                ip: raw.ip,
                is_signal: false,
                symbol,
                module: module.clone(),
                location,
                inlined: true,
                frameless: false,
            });
        }
        frames.push(Frame {
            kind,
            ip: raw.ip,
            is_signal: raw.is_signal,
            symbol,
            module,
            location,
            inlined: false,
            frameless: raw.frameless,
        });
    }
}

/// Adds `note` to the trace's notes on modules unless it is there already.
fn note_once(notes: &mut Vec<Arc<ModuleNote>>, note: &Arc<ModuleNote>) {
    if !notes.contains(note) {
        notes.push(note.clone());
    }
}

/// The address to look a frame's function up by: a return address points after the call, and
/// may be the first byte of the next function, so use the byte before it. The innermost frame
/// and a frame interrupted by a signal hold the exact address; so does a signal trampoline.
fn lookup_address(frames: &[RawFrame], i: usize) -> u64 {
    let frame = frames[i];
    let exact = i == 0 || frame.is_signal || frames[i - 1].is_signal;
    if exact {
        frame.ip
    } else {
        frame.ip.saturating_sub(1)
    }
}
