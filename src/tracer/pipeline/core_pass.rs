//! A core file traced as a process: its memory mounted where every reader of a process's
//! memory finds it, its maps and threads from its notes, then the live path's own unwinder,
//! symbolizer, Python walk and lock analysis. Nothing of it reads `/proc` for the core's ids.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::Tracer;
use super::stages::WalkedThread;
use crate::tracer::analysis::{mutex, waits};
use crate::tracer::capture::thread::Capture;
use crate::tracer::coredump::{self, Core};
use crate::tracer::memory;
use crate::tracer::symbolize::symbols::KeyCache;
use crate::tracer::unwind::unwinder::Unwinder;
use crate::tracer::{Error, Mode, Process, Result, Syscall, ThreadFacts, Timings};

impl Tracer {
    /// Traces core file `core`: each thread's stack from the registers and memory it holds,
    /// its modules opened by the paths it records inside `root` (`/`, or a sysroot).
    pub fn trace_core(&mut self, core: Arc<Core>, root: &Path) -> Result<Process> {
        let started = Instant::now();
        let mut clock = super::Lap::new();
        let source = Arc::new(coredump::CoreMemory::new(core.clone(), root));
        let mut maps = coredump::maps(&core, source.moved());
        let mounted = memory::mount(source);
        let id = mounted.id();
        self.symbolizer.set_debug_dirs(&self.options.debug_dirs);
        self.symbolizer
            .set_line_cache(self.options.line_cache.as_deref());
        let lines = self.options.symbols && self.options.lines;
        let mut keys = KeyCache::for_core(id, root, lines);
        let tables = self.symbolizer.unwind_tables(&maps, &mut keys);
        let mut unwinder = Unwinder::new(id, tables, maps.read_only())
            .map_err(|message| Error::Unwind { tid: id, message })?;
        unwinder.know_code(&maps);
        self.python = None;
        if self.options.symbols && self.options.python {
            let tids = || core.threads.iter().map(|t| t.tid).collect();
            self.python =
                crate::tracer::python::prepare(id, &mut self.symbolizer, &maps, &mut keys, tids);
        }
        let prepare = clock.lap();
        let mut walked = Vec::with_capacity(core.threads.len());
        for t in &core.threads {
            let capture =
                Capture::from_core(id, &t.user_regs(), &maps, self.options.stack_copy_limit);
            // Read through the mounted id, never the core's tid: that may be a live thread here.
            let walk = unwinder.unwind_capture(id, capture, self.options.max_frames);
            walked.push(WalkedThread {
                tid: t.tid as i32,
                // A core names the process (its main thread's comm), not the other threads.
                name: (Some(t.tid) == core.pid)
                    .then(|| core.name.clone())
                    .flatten(),
                facts: facts_of(t),
                walk,
                error: None,
                stopped_for: Duration::ZERO,
                kept: None,
                mark: None,
            });
        }
        drop(unwinder);
        let unwind = clock.lap();
        let libc = mutex::Libc::of(&maps);
        let (mut threads, missing_debuginfo) = self.symbolize(None, walked, &mut maps, &mut keys);
        self.symbolizer.end_trace();
        let (lines_remembered, lines_looked_up) = self.symbolizer.take_line_counts();
        let symbolize = clock.lap();
        self.python_frames(&mut threads, &Default::default());
        let python = clock.lap();
        let deadlocks = waits::explain(id, libc, &mut threads);
        let waits = clock.lap();
        drop(mounted);
        Ok(Process {
            id: core.pid.unwrap_or(0),
            command: core
                .args
                .clone()
                .filter(|a| !a.is_empty())
                .or_else(|| core.name.clone())
                .unwrap_or_default(),
            threads,
            taken_at: core.written.unwrap_or_else(SystemTime::now),
            mode: Mode::Core,
            elapsed: started.elapsed(),
            longest_stop: Duration::ZERO,
            deadlocks,
            wait_cycles: Vec::new(),
            missing_debuginfo,
            unguarded: None,
            timings: Timings {
                prepare,
                unwind,
                symbolize,
                python,
                waits,
                lines_remembered,
                lines_looked_up,
                ..Timings::default()
            },
            goroutines: Vec::new(),
            goroutines_note: None,
        })
    }
}

/// What a core says of a thread: the system call it was in (its state is not recorded).
fn facts_of(t: &coredump::CoreThread) -> ThreadFacts {
    ThreadFacts {
        syscall: t.syscall().map(|(number, args)| Syscall { number, args }),
        ..ThreadFacts::default()
    }
}
