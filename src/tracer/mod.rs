//! The tracer library: stops a process's threads with ptrace, unwinds their stacks with
//! libunwind, resolves symbols from our own per-module tables, and returns plain data.
//!
//! Public shape of the `rstack` crate: [`trace`], [`TraceOptions`], [`Process`], [`Thread`],
//! [`Frame`], [`Symbol`]. A [`Tracer`] keeps its symbol cache across traces (a live view
//! re-traces the same process every few seconds). Every thread we stop is resumed on every
//! path: success, error, cancellation and panic (see the `stop` module).

mod analysis;
mod arch;
mod capture;
mod error;
mod failures;
#[doc(hidden)]
pub mod fuzz;
mod golang;
mod memory;
mod model;
mod options;
mod procfs;
mod snapshot;
mod stop;
mod symbolize;
pub mod text;
mod unwind;

pub use analysis::{diff, group};
#[doc(hidden)]
pub use golang::golayout;
pub use snapshot::{schema, snapfile};
#[doc(hidden)]
pub use unwind::sigmask;

use analysis::{mutex, waits};
use capture::atstop;
use golang::goroutines;
use procfs::{maps, procinfo};
use stop::{attach, watchdog};
use symbolize::{cachedir, demangle, symbols};
use unwind::{ends, unwinder};

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub use attach::AttachMethod;
pub use cachedir::{CacheRefusal, CacheRefused};
pub use demangle::demangle;
pub use error::{Error, Result};
pub use failures::{InflateLimit, ModuleNote, ModuleProblem, ThreadError, UnwindFailure};
pub use model::{
    Frame, Goroutine, InvalidFrame, Leaving, Location, LockHint, Mode, Module, Process, StackEnd,
    Symbol, Syscall, Thread, ThreadFacts, Timings, Unguarded,
};
pub use options::{TraceOptions, UnwindMethod, default_line_cache};
#[doc(hidden)]
pub use procfs::stat::Stat as ProcStat;
#[doc(hidden)]
pub use procfs::status::Status as ProcStatus;
pub use procinfo::{TargetId, target_of};
pub use watchdog::NoGuard;

use atstop::AtStop;
use attach::{AttachError, StoppedThread};
use capture::thread::Capture;
use maps::MemoryMaps;
use procinfo::{TaskDir, TaskDirs, TaskFacts};
use symbols::{KeyCache, Symbolizer, Want};
use unwinder::{RawFrame, Unwinder, Walk};

/// Traces `pid` with the default options (rolling mode, names and symbols on).
pub fn trace(pid: u32) -> Result<Process> {
    TraceOptions::new().trace(pid)
}

/// A thread's stack as captured, before symbolization (which runs after the thread resumed).
struct Captured {
    tid: i32,
    name: Option<String>,
    facts: ThreadFacts,
    walk: Walk,
    error: Option<ThreadError>,
    stopped_for: Duration,
    /// The symbolized stack of an earlier trace, still true (see [`Unchanged`]).
    reused: Option<Unchanged>,
    /// What identifies this thread's state for the next trace, if it was captured without a
    /// stop: its start time and run record.
    mark: Option<(u64, Vec<u8>)>,
}

/// A thread's symbolized stack, kept for the next trace. A thread blocked in a system call
/// whose run record (`schedstat`) has not changed since has not run: its stack is the same,
/// so the next trace reads two small files for it instead of capturing, unwinding and
/// symbolizing it again (most threads of a live view sit parked from one refresh to the next).
#[derive(Debug, Clone)]
struct Unchanged {
    start: u64,
    record: Vec<u8>,
    frames: Arc<[Frame]>,
    end: Option<StackEnd>,
    error: Option<ThreadError>,
    facts: ThreadFacts,
    /// The trace's notes on the modules of this stack (no debuginfo, unreadable ELF).
    notes: Vec<Arc<ModuleNote>>,
}

/// What was taken of a stopped (or blocked) thread: a capture to unwind, or a finished walk.
enum Taken {
    Capture(Box<Capture>),
    Walk(Walk),
    Failed(ThreadError),
}

/// What the capture pass has of a thread: something taken now, or its stack carried over.
enum Got {
    Taken(Taken),
    Reused(Box<Unchanged>),
}

/// One thread as the capture pass left it.
struct Pending {
    tid: i32,
    name: Option<String>,
    facts: ThreadFacts,
    got: Got,
    stopped_for: Duration,
    mark: Option<(u64, Vec<u8>)>,
}

/// A long-lived tracer: the same options for every trace, and caches (symbol tables) that
/// survive between traces.
///
/// It stays on the thread that created it: a ptrace attachment belongs to the attaching
/// thread, and threads that stopped late are resumed when the tracer drops. So it is neither
/// `Send` nor `Sync`; a program that traces in the background creates its tracer on the
/// background thread (as the inspector's worker does) and sends the [`Process`]es back.
///
/// ```compile_fail,E0277
/// fn send<T: Send>(_: T) {}
/// send(rstack_tui::Tracer::new(rstack_tui::TraceOptions::new()));
/// ```
pub struct Tracer {
    options: TraceOptions,
    symbolizer: Symbolizer,
    never: Arc<AtomicBool>,
    /// The last trace's stacks of threads captured without a stop, by tid, for the process
    /// traced last.
    unchanged: std::collections::HashMap<i32, Unchanged>,
    unchanged_pid: i32,
    /// Thread files kept open for the next trace of the same process.
    kept: procinfo::KeptFiles,
    /// The current trace's attaches without the watchdog's guard.
    unguarded: Option<Unguarded>,
    /// Not `Send` or `Sync` (see above).
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl Tracer {
    pub fn new(options: TraceOptions) -> Tracer {
        Tracer {
            options,
            symbolizer: Symbolizer::new(),
            never: Arc::default(),
            unchanged: Default::default(),
            unchanged_pid: 0,
            kept: Default::default(),
            unguarded: None,
            _this_thread: std::marker::PhantomData,
        }
    }

    /// The options this tracer uses.
    pub fn options_mut(&mut self) -> &mut TraceOptions {
        &mut self.options
    }

    /// For a program about to exit: resumes late stoppers as `drop` does, but leaves the
    /// caches (megabytes of symbol and line tables) to the exit instead of freeing them.
    pub fn finish(self) {
        attach::release_lingering(Duration::from_millis(100));
        std::mem::forget(self);
    }

    /// Why the line cache directory ([`TraceOptions::line_cache`]) is not used, if it was
    /// refused: once, at the first call after the trace that tried it.
    pub fn take_line_cache_refused(&mut self) -> Option<CacheRefused> {
        self.symbolizer.take_line_cache_refused()
    }

    /// Number of modules whose symbol tables are cached.
    pub fn cached_modules(&self) -> usize {
        self.symbolizer.cached_modules()
    }

    /// Traces `pid`: every live thread's name, /proc facts and stack.
    pub fn trace(&mut self, pid: u32) -> Result<Process> {
        let started = Instant::now();
        let taken_at = SystemTime::now();
        attach::release_lingering(Duration::ZERO);
        self.unguarded = None;
        let requested = i32::try_from(pid).map_err(|_| Error::NoSuchProcess { pid: -1 })?;
        let pid = procinfo::check_target(requested)?;
        if pid != self.unchanged_pid {
            self.unchanged.clear();
            self.kept.clear();
        }
        let command = procinfo::command(pid);
        let mut clock = Lap::new();
        let maps = MemoryMaps::read(pid)?;
        self.symbolizer.set_debug_dirs(&self.options.debug_dirs);
        self.symbolizer
            .set_line_cache(self.options.line_cache.as_deref());
        let mut keys = KeyCache::new(pid, self.options.symbols && self.options.lines);
        let tables = self.symbolizer.unwind_tables(&maps, &mut keys);
        let mut unwinder = Unwinder::new(pid, tables, maps.read_only())
            .map_err(|message| Error::Unwind { tid: pid, message })?;
        unwinder.know_code(&maps);
        let prepare = clock.lap();
        let (pending, window) = if self.options.snapshot {
            self.capture_snapshot(pid, &unwinder, &maps)?
        } else {
            self.capture_rolling(pid, &unwinder, &maps)?
        };
        let capture = clock.lap();
        // Every thread runs again: unwind the captures.
        let mut captured = self.unwind_all(pid, pending, &unwinder, &maps)?;
        let unwind = clock.lap();
        if captured.is_empty() {
            return Err(if procinfo::is_alive(pid) {
                Error::Unwind {
                    tid: pid,
                    message: "no thread could be stopped".into(),
                }
            } else {
                Error::ProcessExited { pid }
            });
        }
        drop(unwinder);
        let reused = captured.iter().filter(|c| c.reused.is_some()).count();
        let marks: Vec<Option<(u64, Vec<u8>)>> =
            captured.iter_mut().map(|c| c.mark.take()).collect();
        let libc = mutex::Libc::of(&maps);
        let (mut maps, mut keys) = (maps, keys);
        let (mut threads, missing_debuginfo) = self.symbolize(pid, captured, &mut maps, &mut keys);
        // Every thread runs again: read the Go runtime's goroutines.
        let want = Want {
            symbols: self.options.symbols,
            lines: self.options.symbols && self.options.lines,
        };
        let (goroutines, goroutines_note) =
            goroutines::list(pid, &mut self.symbolizer, &maps, &mut keys, want).unwrap_or_default();
        self.symbolizer.end_trace();
        let (lines_remembered, lines_looked_up) = self.symbolizer.take_line_counts();
        self.remember_unchanged(pid, &threads, marks, &missing_debuginfo);
        let symbolize = clock.lap();
        // Every thread runs again: read the futex words behind the waits.
        let deadlocks = waits::explain(pid, libc, &mut threads);
        let timings = Timings {
            prepare,
            capture,
            unwind,
            symbolize,
            waits: clock.lap(),
            reused,
            lines_remembered,
            lines_looked_up,
        };
        let longest_stop = threads
            .iter()
            .map(|t| t.stopped_for)
            .max()
            .unwrap_or_default()
            .max(window);
        Ok(Process {
            id: pid as u32,
            command,
            threads,
            taken_at,
            mode: if self.options.snapshot {
                Mode::Snapshot
            } else {
                Mode::Rolling
            },
            elapsed: started.elapsed(),
            longest_stop,
            deadlocks,
            missing_debuginfo,
            unguarded: self.unguarded.take(),
            timings,
            goroutines,
            goroutines_note,
        })
    }

    /// Keeps the stacks of the threads captured without a stop, for the next trace.
    fn remember_unchanged(
        &mut self,
        pid: i32,
        threads: &[Thread],
        marks: Vec<Option<(u64, Vec<u8>)>>,
        notes: &[ModuleNote],
    ) {
        self.unchanged.clear();
        self.unchanged_pid = pid;
        for (t, mark) in threads.iter().zip(marks) {
            if let Some((start, record)) = mark {
                self.unchanged.insert(
                    t.id as i32,
                    Unchanged {
                        start,
                        record,
                        frames: t.frames.clone(),
                        end: t.end.clone(),
                        error: t.error.clone(),
                        facts: t.facts.clone(),
                        notes: notes
                            .iter()
                            .filter(|n| t.module_note(n).is_some())
                            .map(|n| Arc::new(n.clone()))
                            .collect(),
                    },
                );
            }
        }
    }

    fn cancel(&self) -> &AtomicBool {
        self.options.cancel.as_deref().unwrap_or(&self.never)
    }

    fn cancelled(&self) -> bool {
        self.cancel().load(Ordering::Relaxed)
    }

    fn copying(&self) -> bool {
        self.options.unwind_method == UnwindMethod::Copy && !self.options.caller_attached
    }

    /// What to do with a thread in a ptrace stop: capture it (copy mode), or walk it now. Also
    /// where the stop found it, to settle its facts with once it runs again.
    fn take(&self, tid: i32, unwinder: &Unwinder, maps: &MemoryMaps) -> (Taken, Option<AtStop>) {
        if self.copying() {
            match Capture::stopped(tid, maps, self.options.stack_copy_limit) {
                Ok(c) => {
                    let at = c.at_stop;
                    (Taken::Capture(Box::new(c)), at)
                }
                Err(e) => (Taken::Failed(e), None),
            }
        } else {
            let at = AtStop::read(tid);
            (
                Taken::Walk(unwinder.unwind(tid, self.options.max_frames)),
                at,
            )
        }
    }

    /// Captures thread `tid`, blocked in a system call, without stopping it, if the scheduler
    /// shows it did not run while we read it. `before` is its run record read before `facts`.
    fn take_blocked(
        &self,
        task: &TaskDir,
        before: Option<Vec<u8>>,
        facts: &TaskFacts,
        maps: &MemoryMaps,
    ) -> Option<Capture> {
        let before = before?;
        let at = facts.blocked.as_ref()?;
        if !matches!(facts.facts.state, Some('S' | 'D')) {
            return None;
        }
        let capture = Capture::blocked(task.tid(), at, maps, self.options.stack_copy_limit);
        (task.run_record()? == before).then_some(capture)
    }

    /// Captures one thread at a time: a blocked thread without stopping it (copy mode), any
    /// other by stopping it just for the capture (or, with ptrace unwinding, the walk).
    fn capture_rolling(
        &mut self,
        pid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<(Vec<Pending>, Duration)> {
        let mut out = Vec::new();
        let blocked_ok = self.copying() && !self.options.stop_blocked;
        let tids = procinfo::thread_ids(pid)?;
        let Some(dirs) = TaskDirs::open(pid, std::mem::take(&mut self.kept)) else {
            return Err(Error::ProcessExited { pid });
        };
        for &tid in &tids {
            if self.cancelled() {
                return Err(Error::Cancelled { pid });
            }
            let task = dirs.task(tid);
            let before = if blocked_ok { task.run_record() } else { None };
            let Some(stat) = procinfo::thread_stat(&task, self.options.thread_names) else {
                continue;
            };
            if let Some(record) = &before
                && let Some(prev) = self.unchanged.get(&tid)
                && prev.start == stat.start
                && prev.record == *record
                && matches!(stat.state, 'S' | 'D')
            {
                // Not run since the last trace: the same stack, and the same system call.
                let facts = ThreadFacts {
                    state: Some(stat.state),
                    user_time: stat.user_time,
                    system_time: stat.system_time,
                    lock: None,
                    state_before: None,
                    leaving: None,
                    ..prev.facts.clone()
                };
                out.push(Pending {
                    tid,
                    name: stat.name,
                    facts,
                    got: Got::Reused(Box::new(prev.clone())),
                    stopped_for: Duration::ZERO,
                    mark: Some((stat.start, record.clone())),
                });
                continue;
            }
            let start = stat.start;
            let mut facts = procinfo::thread_facts_after(&task, stat);
            if blocked_ok && let Some(c) = self.take_blocked(&task, before.clone(), &facts, maps) {
                out.push(Pending {
                    tid,
                    name: facts.name,
                    facts: facts.facts,
                    got: Got::Taken(Taken::Capture(Box::new(c))),
                    stopped_for: Duration::ZERO,
                    mark: before.map(|r| (start, r)),
                });
                continue;
            }
            let (taken, stopped_for) = match self.stop(pid, tid)? {
                Stop::Stopped(s) => {
                    let (taken, at) = self.take(tid, unwinder, maps);
                    let stopped_for = s.detach();
                    if let Some(at) = at {
                        atstop::settle(pid, &mut facts.facts, at);
                    }
                    (taken, stopped_for)
                }
                Stop::Gone => continue,
                Stop::Failed(error) => (Taken::Failed(error), Duration::ZERO),
            };
            out.push(Pending {
                tid,
                name: facts.name,
                facts: facts.facts,
                got: Got::Taken(taken),
                stopped_for,
                mark: None,
            });
        }
        self.kept = dirs.into_kept(&tids);
        Ok((out, Duration::ZERO))
    }

    /// Stops every thread (re-reading the thread list until no new thread appears), captures
    /// them all (or, with ptrace unwinding, walks them), then resumes them all.
    fn capture_snapshot(
        &mut self,
        pid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<(Vec<Pending>, Duration)> {
        let mut held: Vec<(StoppedThread, TaskFacts)> = Vec::new();
        let mut failed = Vec::new();
        let mut seen = HashSet::new();
        let mut seen_order = Vec::new();
        let mut first_stop: Option<Instant> = None;
        let Some(dirs) = TaskDirs::open(pid, Default::default()) else {
            return Err(Error::ProcessExited { pid });
        };
        loop {
            let tids = match procinfo::thread_ids(pid) {
                Ok(t) => t,
                Err(e) if held.is_empty() => return Err(e),
                Err(_) => break,
            };
            let fresh: Vec<i32> = tids.into_iter().filter(|t| seen.insert(*t)).collect();
            seen_order.extend(&fresh);
            if fresh.is_empty() {
                break;
            }
            for tid in fresh {
                if self.cancelled() {
                    return Err(Error::Cancelled { pid });
                }
                let Some(facts) =
                    procinfo::thread_facts(&dirs.task(tid), self.options.thread_names)
                else {
                    continue;
                };
                match self.stop(pid, tid)? {
                    Stop::Stopped(s) => {
                        first_stop.get_or_insert_with(Instant::now);
                        held.push((s, facts));
                        if self.options.panic_after_stops == Some(held.len()) {
                            panic!("panic_after_stops_for_tests: {} threads held", held.len());
                        }
                    }
                    Stop::Gone => {}
                    Stop::Failed(error) => failed.push(Pending {
                        tid,
                        name: facts.name,
                        facts: facts.facts,
                        got: Got::Taken(Taken::Failed(error)),
                        stopped_for: Duration::ZERO,
                        mark: None,
                    }),
                }
            }
        }
        let taken: Vec<(Taken, Option<AtStop>)> = held
            .iter()
            .map(|(s, _)| self.take(s.tid(), unwinder, maps))
            .collect();
        let window = first_stop.map(|t| t.elapsed()).unwrap_or_default();
        let mut out: Vec<Pending> = held
            .into_iter()
            .zip(taken)
            .map(|((stopped, mut facts), (taken, at))| {
                let tid = stopped.tid();
                let stopped_for = stopped.detach();
                if let Some(at) = at {
                    atstop::settle(pid, &mut facts.facts, at);
                }
                Pending {
                    tid,
                    name: facts.name,
                    facts: facts.facts,
                    got: Got::Taken(taken),
                    stopped_for,
                    mark: None,
                }
            })
            .collect();
        out.extend(failed);
        // Report threads in the order the kernel listed them, as rolling mode does.
        let order: std::collections::HashMap<i32, usize> = seen_order
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i))
            .collect();
        out.sort_by_key(|c| order.get(&c.tid).copied().unwrap_or(usize::MAX));
        Ok((out, window))
    }

    /// Unwinds every capture (the threads run again meanwhile).
    fn unwind_all(
        &mut self,
        pid: i32,
        pending: Vec<Pending>,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<Vec<Captured>> {
        let mut out = Vec::with_capacity(pending.len());
        for mut p in pending {
            let mut stopped_for = p.stopped_for;
            let mut mark = p.mark;
            let mut reused = None;
            let (walk, error) = match p.got {
                Got::Reused(u) => {
                    reused = Some(*u);
                    (Walk::default(), None)
                }
                Got::Taken(Taken::Walk(w)) => (w, None),
                Got::Taken(Taken::Failed(e)) => (Walk::default(), Some(e)),
                Got::Taken(Taken::Capture(c)) => {
                    let how = c.how;
                    let walk = unwinder.unwind_capture(p.tid, *c, self.options.max_frames);
                    if walk.missing_register && how == capture::thread::How::Blocked {
                        // Stopped after all: its run record no longer tells whether it ran.
                        mark = None;
                        let (walk, error, at) =
                            self.retake(pid, p.tid, walk, unwinder, maps, &mut stopped_for)?;
                        if let Some(at) = at {
                            atstop::settle(pid, &mut p.facts, at);
                        }
                        (walk, error)
                    } else {
                        (walk, None)
                    }
                }
            };
            out.push(Captured {
                tid: p.tid,
                name: p.name,
                facts: p.facts,
                walk,
                error,
                stopped_for,
                reused,
                mark,
            });
        }
        Ok(out)
    }

    /// A blocked thread whose `walk` needed a register it was not captured with: stopped,
    /// captured again with every register and unwound from that. If it cannot be, the first
    /// walk stands (with the error, if the capture failed). Also where the stop found it.
    fn retake(
        &mut self,
        pid: i32,
        tid: i32,
        walk: Walk,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
        stopped_for: &mut Duration,
    ) -> Result<(Walk, Option<ThreadError>, Option<AtStop>)> {
        if self.cancelled() {
            return Err(Error::Cancelled { pid });
        }
        let Stop::Stopped(s) = self.stop(pid, tid)? else {
            // Gone meanwhile, or not stopping: keep what the capture gave.
            return Ok((walk, None, None));
        };
        let (taken, at) = self.take(tid, unwinder, maps);
        *stopped_for = s.detach();
        Ok(match taken {
            // Every register was captured this time: no walk of it misses one.
            Taken::Capture(c) => (
                unwinder.unwind_capture(tid, *c, self.options.max_frames),
                None,
                at,
            ),
            Taken::Walk(w) => (w, None, at),
            Taken::Failed(e) => (walk, Some(e), None),
        })
    }

    /// Stops one thread, turning attach failures into a process-level error (permission,
    /// another tracer) or a per-thread one (did not stop in time).
    fn stop(&mut self, pid: i32, tid: i32) -> Result<Stop> {
        if self.options.caller_attached {
            return Ok(Stop::Stopped(StoppedThread::borrowed(tid)));
        }
        let deadline = Instant::now() + self.options.stop_timeout;
        let cancel = self
            .options
            .cancel
            .clone()
            .unwrap_or_else(|| self.never.clone());
        let mut unguarded = None;
        let attached =
            StoppedThread::attach(tid, self.options.method, deadline, &cancel, &mut unguarded);
        if let Some(why) = unguarded {
            self.unguarded
                .get_or_insert(Unguarded { attaches: 0, why })
                .attaches += 1;
        }
        match attached {
            Ok(s) => Ok(Stop::Stopped(s)),
            Err(AttachError::Gone) => Ok(Stop::Gone),
            Err(AttachError::Refused(errno)) => {
                // An exiting thread refuses ptrace with EPERM too: that is not a permission
                // problem, the thread is just gone.
                if !procinfo::is_alive_thread(pid, tid) {
                    return Ok(Stop::Gone);
                }
                if attach::is_lingering(tid) {
                    return Ok(Stop::Failed(ThreadError::StillStopping));
                }
                if let Some((tracer_pid, tracer)) =
                    procinfo::tracer_of(pid).or_else(|| procinfo::tracer_of(tid))
                {
                    return Err(Error::AlreadyTraced {
                        pid,
                        tracer_pid,
                        tracer,
                    });
                }
                Err(Error::PermissionDenied {
                    pid,
                    scope: procinfo::ptrace_scope(),
                    source: errno.into(),
                })
            }
            Err(AttachError::Failed(call, errno)) => Ok(Stop::Failed(ThreadError::Stop {
                call,
                errno: errno as i32,
            })),
            Err(AttachError::Timeout(l)) => {
                attach::linger(l);
                Ok(Stop::Failed(ThreadError::StopTimeout {
                    timeout: self.options.stop_timeout,
                }))
            }
            Err(AttachError::Cancelled(l)) => {
                attach::linger(l);
                Err(Error::Cancelled { pid })
            }
        }
    }

    /// Turns captured stacks into frames with modules and symbols. Also returns one note per
    /// module in some stack whose frames lack names or lines (e.g. missing debuginfo).
    fn symbolize(
        &mut self,
        pid: i32,
        captured: Vec<Captured>,
        maps: &mut MemoryMaps,
        keys: &mut KeyCache,
    ) -> (Vec<Thread>, Vec<ModuleNote>) {
        let want_symbols = self.options.symbols;
        let mut pass = SymbolizePass {
            symbolizer: &mut self.symbolizer,
            pid,
            want: Want {
                symbols: want_symbols,
                lines: want_symbols && self.options.lines,
            },
            maps,
            keys,
            reread: false,
            missing: Vec::new(),
            memo: std::collections::HashMap::new(),
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
    pid: i32,
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
}

impl SymbolizePass<'_> {
    /// The thread of a capture, with its symbolized frames (or those of an earlier trace,
    /// still true) and how its stack ends.
    fn thread(&mut self, c: Captured) -> Thread {
        if let Some(u) = c.reused {
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
        Thread {
            id: c.tid as u32,
            name: c.name,
            facts: c.facts,
            frames: frames.into(),
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
        if self.maps.find(raw.ip).is_none() && !self.reread {
            // A library loaded after our first read of the maps.
            self.reread = true;
            if let Ok(fresh) = MemoryMaps::read(self.pid) {
                *self.maps = fresh;
            }
            *self.keys = KeyCache::new(self.pid, self.want.lines);
        }
        let (module, symbol, location, inlined) = match self.maps.find(raw.ip) {
            Some(m) => {
                let r = self.memo.entry((raw.ip, lookup_ip)).or_insert_with(|| {
                    let r = self
                        .symbolizer
                        .resolve(m, raw.ip, lookup_ip, self.want, self.keys);
                    if let Some(line) = &r.missing_debuginfo {
                        note_once(&mut self.missing, line);
                    }
                    r
                });
                (
                    r.module.clone(),
                    r.symbol.clone(),
                    r.location.clone(),
                    r.inlined.clone(),
                )
            }
            None => (None, None, None, Vec::new()),
        };
        for (symbol, location) in inlined {
            frames.push(Frame {
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

impl Drop for Tracer {
    fn drop(&mut self) {
        // Give late stoppers a last chance; whatever remains is released by the next trace on
        // this thread, or detached by the kernel when this thread exits.
        attach::release_lingering(Duration::from_millis(100));
    }
}

/// Adds `note` to the trace's notes on modules unless it is there already.
fn note_once(notes: &mut Vec<Arc<ModuleNote>>, note: &Arc<ModuleNote>) {
    if !notes.contains(note) {
        notes.push(note.clone());
    }
}

/// Time since the last lap, for [`Timings`].
struct Lap(Instant);

impl Lap {
    fn new() -> Lap {
        Lap(Instant::now())
    }

    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        std::mem::replace(&mut self.0, now).elapsed()
    }
}

enum Stop {
    Stopped(StoppedThread),
    Gone,
    Failed(ThreadError),
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
