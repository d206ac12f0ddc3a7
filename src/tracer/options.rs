//! How a trace is made: what [`TraceOptions`] a caller can set (rolling or snapshot mode,
//! names, symbols, lines, how threads are stopped and unwound, limits) and their defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::stop::attach::AttachMethod;
use super::symbolize::cachedir;
use super::{Process, Result, Tracer};

/// The usual place for [`TraceOptions::line_cache`]: `$XDG_CACHE_HOME/rstack-tui`, else
/// `~/.cache/rstack-tui`.
pub fn default_line_cache() -> Option<PathBuf> {
    cachedir::CacheDir::default_path()
}

/// Options for a trace, set builder-style as in `rstack`.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub(super) snapshot: bool,
    pub(super) thread_names: bool,
    pub(super) symbols: bool,
    pub(super) lines: bool,
    /// The caller has attached every thread already; we neither attach nor detach.
    pub(super) caller_attached: bool,
    pub(super) method: AttachMethod,
    pub(super) max_frames: usize,
    pub(super) stop_timeout: Duration,
    pub(super) cancel: Option<Arc<AtomicBool>>,
    pub(super) panic_after_stops: Option<usize>,
    pub(super) debug_dirs: Vec<PathBuf>,
    pub(super) unwind_method: UnwindMethod,
    pub(super) stack_copy_limit: usize,
    pub(super) stop_blocked: bool,
    pub(super) line_cache: Option<PathBuf>,
    pub(super) python: bool,
    pub(super) chains: bool,
    pub(super) chain_scan: Duration,
}

/// How stacks are unwound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnwindMethod {
    /// Capture registers and a copy of the stack, resume the thread, then unwind the copy
    /// (the default: a thread is stopped only for the capture).
    #[default]
    Copy,
    /// libunwind's ptrace accessors, walking while the thread is stopped (the reference).
    Ptrace,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            snapshot: false,
            thread_names: true,
            symbols: true,
            lines: true,
            caller_attached: false,
            method: AttachMethod::Seize,
            max_frames: 1024,
            stop_timeout: Duration::from_secs(1),
            cancel: None,
            panic_after_stops: None,
            debug_dirs: Vec::new(),
            unwind_method: UnwindMethod::Copy,
            stack_copy_limit: 1 << 20,
            stop_blocked: false,
            line_cache: None,
            python: true,
            chains: true,
            chain_scan: crate::tracer::chains::QUICK_SCAN,
        }
    }
}

impl TraceOptions {
    /// Default options: rolling mode, thread names and symbols on, we attach ourselves.
    pub fn new() -> TraceOptions {
        TraceOptions::default()
    }

    /// Stop every thread before unwinding any (a consistent picture, a longer stop) instead
    /// of one thread at a time.
    pub fn snapshot(&mut self, snapshot: bool) -> &mut TraceOptions {
        self.snapshot = snapshot;
        self
    }

    /// Read thread names.
    pub fn thread_names(&mut self, thread_names: bool) -> &mut TraceOptions {
        self.thread_names = thread_names;
        self
    }

    /// Resolve symbols.
    pub fn symbols(&mut self, symbols: bool) -> &mut TraceOptions {
        self.symbols = symbols;
        self
    }

    /// Resolve source lines and expand inlined functions from DWARF (default on; needs
    /// symbols). Off saves loading each module's DWARF.
    pub fn lines(&mut self, lines: bool) -> &mut TraceOptions {
        self.lines = lines;
        self
    }

    /// The caller has already attached every thread, from the thread that calls `trace`, and
    /// they are in a ptrace stop: we neither attach nor detach (default `false`).
    pub fn caller_attached(&mut self, caller_attached: bool) -> &mut TraceOptions {
        self.caller_attached = caller_attached;
        self
    }

    /// The `rstack` crate's name for the opposite of [`caller_attached`]: with `false` the
    /// caller has attached (`ptrace_attach(false)` is `caller_attached(true)`).
    ///
    /// [`caller_attached`]: TraceOptions::caller_attached
    pub fn ptrace_attach(&mut self, ptrace_attach: bool) -> &mut TraceOptions {
        self.caller_attached(!ptrace_attach)
    }

    /// How to attach: PTRACE_SEIZE (default, with PTRACE_ATTACH as fallback) or PTRACE_ATTACH.
    pub fn attach_method(&mut self, method: AttachMethod) -> &mut TraceOptions {
        self.method = method;
        self
    }

    /// The deepest stack we walk (default 1024 frames; inlined functions listed as frames
    /// of their own do not count).
    pub fn max_frames(&mut self, max_frames: usize) -> &mut TraceOptions {
        self.max_frames = max_frames.max(1);
        self
    }

    /// How long to wait for a thread to stop before reporting it as not stopped (default 1 s;
    /// a thread in uninterruptible sleep stops only when it wakes).
    pub fn stop_timeout(&mut self, timeout: Duration) -> &mut TraceOptions {
        self.stop_timeout = timeout;
        self
    }

    /// A flag that, once raised (e.g. by a SIGINT handler), ends the trace early with
    /// [`Error::Cancelled`](super::Error::Cancelled) after resuming every thread.
    pub fn cancel_flag(&mut self, flag: Arc<AtomicBool>) -> &mut TraceOptions {
        self.cancel = Some(flag);
        self
    }

    /// Extra directories to search for separate debuginfo, each treated like
    /// `/usr/lib/debug` (so `DIR/.build-id/xx/rest.debug` and `DIR/<module dir>/<debuglink>`),
    /// after the target's own `/usr/lib/debug`. A tracer looks a module's debuginfo up once,
    /// when it first loads the module.
    pub fn debug_dirs(&mut self, dirs: Vec<PathBuf>) -> &mut TraceOptions {
        self.debug_dirs = dirs;
        self
    }

    /// How to unwind (default [`UnwindMethod::Copy`]).
    pub fn unwind_method(&mut self, method: UnwindMethod) -> &mut TraceOptions {
        self.unwind_method = method;
        self
    }

    /// The most stack copied per thread with [`UnwindMethod::Copy`] (default 1 MiB); a deeper
    /// stack's walk ends with a note that the copy was too short.
    pub fn stack_copy_limit(&mut self, bytes: usize) -> &mut TraceOptions {
        self.stack_copy_limit = bytes.max(64);
        self
    }

    /// Stop threads blocked in a system call too. By default (rolling mode, copy unwinding) a
    /// blocked thread is captured without a ptrace stop: no stall, and no system call of its
    /// that returns EINTR because we looked (epoll_wait does, after any ptrace stop).
    pub fn stop_blocked(&mut self, stop: bool) -> &mut TraceOptions {
        self.stop_blocked = stop;
        self
    }

    /// Remember what DWARF says about each address in files under `dir`, between runs: the
    /// next trace of any process using the same module files skips inflating and parsing
    /// their DWARF. `None` (the default): remember only within this tracer. A directory that
    /// anyone but us or root could redirect or write to is not used (see
    /// [`Tracer::take_line_cache_refused`]). See [`default_line_cache`].
    pub fn line_cache(&mut self, dir: Option<PathBuf>) -> &mut TraceOptions {
        self.line_cache = dir;
        self
    }

    /// Read a CPython interpreter's frames and splice them into its threads' stacks (default
    /// on; needs symbols). The reading happens after every thread runs again, so it never
    /// lengthens a stop; off leaves the native stacks only.
    pub fn python(&mut self, python: bool) -> &mut TraceOptions {
        self.python = python;
        self
    }

    /// Follow blocked threads' waits to other processes: a socket's peer, a pipe's other
    /// end, a file lock's holder, a child, a process-shared mutex's owner ([`ThreadFacts::chain`],
    /// [`Process::wait_cycles`]); default on. Read after every thread runs again; the system's
    /// fd tables are read only when a thread waits on a pipe or socket.
    ///
    /// [`ThreadFacts::chain`]: crate::tracer::ThreadFacts::chain
    /// [`Process::wait_cycles`]: crate::tracer::Process::wait_cycles
    pub fn chains(&mut self, chains: bool) -> &mut TraceOptions {
        self.chains = chains;
        self
    }

    /// How long following a pipe or socket to its other end may spend reading other
    /// processes' fds (`/proc/*/fd`, nearest the waiter's pid first): by default 15 ms, which
    /// finds a parent, child or sibling and a UNIX socket's peer anywhere but may not read
    /// all of thousands of processes (a link not followed says so); `dump --chains` allows
    /// 500 ms.
    pub fn chain_scan(&mut self, budget: Duration) -> &mut TraceOptions {
        self.chain_scan = budget;
        self
    }

    /// For tests of the panic path only: panic once `n` threads are held in snapshot mode.
    #[doc(hidden)]
    pub fn panic_after_stops_for_tests(&mut self, n: usize) -> &mut TraceOptions {
        self.panic_after_stops = Some(n);
        self
    }

    /// Traces `pid` with these options.
    pub fn trace(&self, pid: u32) -> Result<Process> {
        Tracer::new(self.clone()).trace(pid)
    }
}
