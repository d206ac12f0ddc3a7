//! A trace from start to end, in stages over every thread: take (stop a thread just long
//! enough to capture its registers and stack, or read a blocked one without stopping it),
//! unwind the captures while the threads run again, symbolize, then read the waits. The
//! [`Tracer`] keeps what one trace can give the next (symbol tables, stacks that cannot have
//! changed, open thread files).

mod capture_pass;
mod core_pass;
mod kept;
mod stages;
mod symbolize_pass;
mod unwind_pass;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::tracer::analysis::{mutex, waits};
use crate::tracer::golang::goroutines;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::procfs::procinfo::{self};
use crate::tracer::stop::attach::{self};
use crate::tracer::stop::priority::StopPriority;
use crate::tracer::symbolize::cachedir::CacheRefused;
use crate::tracer::symbolize::symbols::{KeyCache, Symbolizer, Want};
use crate::tracer::unwind::unwinder::Unwinder;
use crate::tracer::{Error, Mode, Process, Result, Timings, TraceOptions, Unguarded, UnwindMethod};
use stages::KeptStack;

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
    unchanged: std::collections::HashMap<i32, KeptStack>,
    unchanged_pid: i32,
    /// Thread files kept open for the next trace of the same process.
    kept: procinfo::KeptFiles,
    /// The current trace's attaches without the watchdog's guard.
    unguarded: Option<Unguarded>,
    /// How the current trace ran while it held threads stopped.
    stop_priority: StopPriority,
    /// The current trace's CPython runtime, found before the capture.
    python: Option<crate::tracer::python::Prepared>,
    /// Frame chains of its threads copied during their stops.
    python_copies: std::cell::RefCell<crate::tracer::python::Copies>,
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
            stop_priority: StopPriority::NoStop,
            python: None,
            python_copies: Default::default(),
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
        self.stop_priority = StopPriority::NoStop;
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
        self.prepare_python(pid, &maps, &mut keys);
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
        let kept_tids = kept::tids(&captured);
        let reused = kept_tids.len();
        let marks: Vec<Option<(u64, Vec<u8>)>> =
            captured.iter_mut().map(|c| c.mark.take()).collect();
        let libc = mutex::Libc::of(&maps);
        let (mut maps, mut keys) = (maps, keys);
        let (mut threads, missing_debuginfo) =
            self.symbolize(Some(pid), captured, &mut maps, &mut keys);
        // Every thread runs again: read the Go runtime's goroutines.
        let want = Want {
            symbols: self.options.symbols,
            lines: self.options.symbols && self.options.lines,
        };
        let (goroutines, goroutines_note) =
            goroutines::list(pid, &mut self.symbolizer, &maps, &mut keys, want).unwrap_or_default();
        self.symbolizer.end_trace();
        let (lines_remembered, lines_looked_up) = self.symbolizer.take_line_counts();
        let symbolize = clock.lap();
        // Every thread runs again: read the Python interpreter's frames, if it runs one.
        let with_python = self.python_frames(&mut threads, &kept_tids);
        self.remember_kept(pid, &threads, marks, &missing_debuginfo, with_python);
        let python = clock.lap();
        // Every thread runs again: read the futex words behind the waits.
        let deadlocks = waits::explain(pid, libc, &mut threads);
        let waits = clock.lap();
        // Every thread runs again: follow the waits to the processes at their other ends.
        let wait_cycles = self.wait_chains(pid, &mut threads);
        let timings = Timings {
            prepare,
            capture,
            unwind,
            symbolize,
            python,
            waits,
            chains: clock.lap(),
            reused,
            lines_remembered,
            lines_looked_up,
            stop_priority: self.stop_priority,
        };
        let longest_stop = longest_stop(&threads, window);
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
            wait_cycles,
            missing_debuginfo,
            unguarded: self.unguarded.take(),
            timings,
            goroutines,
            goroutines_note,
        })
    }

    /// Finds a CPython runtime and its thread states, so stopped threads' frame chains are
    /// copied during their stops (with symbols only: the evaluator frames are found by name).
    fn prepare_python(&mut self, pid: i32, maps: &MemoryMaps, keys: &mut KeyCache) {
        self.python_copies.get_mut().clear();
        self.python = None;
        if self.options.symbols && self.options.python {
            let tids = || {
                procinfo::thread_ids(pid)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t as u32)
                    .collect()
            };
            self.python =
                crate::tracer::python::prepare(pid, &mut self.symbolizer, maps, keys, tids);
        }
    }

    /// Copies thread `tid`'s Python frame chain: called while it is stopped.
    pub(super) fn copy_python_chain(&self, tid: i32) {
        if let Some(p) = &self.python {
            p.copy(tid as u32, &mut self.python_copies.borrow_mut());
        }
    }

    /// Splices the CPython runtime's frames into the threads but those in `kept`, whose
    /// stacks (Python frames included) were kept from the last trace. False when the trace
    /// reads no Python frames.
    fn python_frames(
        &mut self,
        threads: &mut [crate::tracer::Thread],
        kept: &std::collections::HashSet<u32>,
    ) -> bool {
        let Some(p) = self.python.take() else {
            return false;
        };
        p.add_frames(threads, self.python_copies.take(), kept);
        true
    }

    /// Whether this trace reads Python frames (known once [`Self::prepare_python`] ran).
    pub(super) fn reads_python(&self) -> bool {
        self.python.is_some()
    }

    /// The blocked threads' wait chains, when asked for, and the cycles they close.
    fn wait_chains(
        &self,
        pid: i32,
        threads: &mut [crate::tracer::Thread],
    ) -> Vec<crate::tracer::WaitCycle> {
        if !self.options.chains {
            return Vec::new();
        }
        crate::tracer::chains::build(pid as u32, threads, self.options.chain_scan)
    }

    pub(super) fn cancel(&self) -> &AtomicBool {
        self.options.cancel.as_deref().unwrap_or(&self.never)
    }

    pub(super) fn cancelled(&self) -> bool {
        self.cancel().load(Ordering::Relaxed)
    }

    pub(super) fn copying(&self) -> bool {
        self.options.unwind_method == UnwindMethod::Copy && !self.options.caller_attached
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // Give late stoppers a last chance; whatever remains is released by the next trace on
        // this thread, or detached by the kernel when this thread exits.
        attach::release_lingering(Duration::from_millis(100));
    }
}

/// The longest any thread was held: its own stop, or the snapshot's window.
fn longest_stop(threads: &[crate::tracer::Thread], window: Duration) -> Duration {
    threads
        .iter()
        .map(|t| t.stopped_for)
        .max()
        .unwrap_or_default()
        .max(window)
}

/// Time since the last lap, for [`Timings`].
pub(super) struct Lap(Instant);

impl Lap {
    fn new() -> Lap {
        Lap(Instant::now())
    }

    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        std::mem::replace(&mut self.0, now).elapsed()
    }
}
