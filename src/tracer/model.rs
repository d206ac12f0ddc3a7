//! The plain data a trace produces: a [`Process`] with its [`Thread`]s, each with its
//! [`Frame`]s and their [`Symbol`]s. Same public shape as the `rstack` crate, plus the facts a
//! user needs (thread state, wchan, syscall, CPU time, module and offset of every frame).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::chains::{WaitChain, WaitCycle};
use super::failures::{ModuleNote, ThreadError};
use super::watchdog::NoGuard;

/// How the threads were stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One thread at a time: each thread is stopped only while its stack is read.
    Rolling,
    /// Every thread stopped first, then unwound, then all resumed: a consistent picture.
    Snapshot,
    /// Read from a core file: every thread as it was when the process was dumped.
    Core,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rolling => "rolling",
            Mode::Snapshot => "snapshot",
            Mode::Core => "core",
        }
    }
}

/// A traced process.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub(crate) id: u32,
    pub(crate) command: String,
    pub(crate) threads: Vec<Thread>,
    pub(crate) taken_at: SystemTime,
    pub(crate) mode: Mode,
    pub(crate) elapsed: Duration,
    pub(crate) longest_stop: Duration,
    pub(crate) deadlocks: Vec<Vec<u32>>,
    pub(crate) wait_cycles: Vec<WaitCycle>,
    pub(crate) missing_debuginfo: Vec<ModuleNote>,
    pub(crate) unguarded: Option<Unguarded>,
    pub(crate) timings: Timings,
    pub(crate) goroutines: Vec<Goroutine>,
    pub(crate) goroutines_note: Option<String>,
}

/// PTRACE_ATTACHes of a trace that went without the watchdog's guard: had the tracer been
/// killed before one of their stops was consumed, that process would have stayed stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unguarded {
    /// How many attaches.
    pub attaches: usize,
    /// Why the first of them was not guarded.
    pub why: NoGuard,
}

/// Where a trace's time went (zero for a snapshot loaded from a file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Checking the target, reading its maps, loading modules' unwind and symbol tables.
    pub prepare: Duration,
    /// Stopping (or not) and capturing every thread; in rolling mode also unwinding those
    /// captured without a stop (each right after its copy).
    pub capture: Duration,
    /// Unwinding the captures taken in a stop (with ptrace unwinding, done during the capture
    /// instead).
    pub unwind: Duration,
    /// Symbols, source lines and inlined functions.
    pub symbolize: Duration,
    /// Reading an interpreter's frames (CPython's) and splicing them in.
    pub python: Duration,
    /// Decoding what blocked threads wait for (lock owners, deadlocks).
    pub waits: Duration,
    /// Following the waits to other processes ([`ThreadFacts::chain`]).
    pub chains: Duration,
    /// Threads whose stack was carried over from the tracer's previous trace: blocked, and
    /// not run since (their scheduler run record unchanged).
    pub reused: usize,
    /// Addresses whose source lines came from the disk cache ([`super::TraceOptions::line_cache`]).
    pub lines_remembered: usize,
    /// Addresses whose source lines were looked up in DWARF.
    pub lines_looked_up: usize,
    /// How the tracer ran while it held threads stopped (raised above ordinary load, or not).
    pub stop_priority: super::StopPriority,
}

impl Process {
    /// Where the trace's time went.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The threads that were traced, in the order of `/proc/PID/task` (the main thread first).
    /// Threads that exited while the trace ran are absent.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    /// The command line (arguments joined by spaces; made inert), or the name in brackets when
    /// the process has no command line.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// When the trace started.
    pub fn taken_at(&self) -> SystemTime {
        self.taken_at
    }

    /// How the threads were stopped.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Wall time of the whole trace.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The longest time any one thread was kept stopped (in snapshot mode: all of them).
    pub fn longest_stop(&self) -> Duration {
        self.longest_stop
    }

    /// How many threads were put in a ptrace stop; the others were captured while blocked in
    /// a system call, without stopping them.
    pub fn stopped_threads(&self) -> usize {
        self.threads
            .iter()
            .filter(|t| !t.stopped_for.is_zero())
            .count()
    }

    /// Cycles in the wait-for graph of mutex owners: each a list of tids, every one waiting
    /// for the next and the last for the first.
    pub fn deadlocks(&self) -> &[Vec<u32>] {
        &self.deadlocks
    }

    /// Cycles of waits that cross processes or go through more than mutexes (a socket, a
    /// pipe, a file lock, a child): each link's holder waits in the next link. The cycles of
    /// mutexes inside this process alone are [`Self::deadlocks`].
    pub fn wait_cycles(&self) -> &[WaitCycle] {
        &self.wait_cycles
    }

    /// Modules of the stacks whose frames lack names or source lines, each once, with why
    /// (no debuginfo, and what would provide it; an unreadable ELF file; DWARF too large).
    pub fn missing_debuginfo(&self) -> &[ModuleNote] {
        &self.missing_debuginfo
    }

    /// Attaches of this trace that had no guard against a killed tracer, if any (never for a
    /// snapshot loaded from a file).
    pub fn unguarded(&self) -> Option<Unguarded> {
        self.unguarded
    }

    /// A Go process's goroutines (not dead ones), in the order of the runtime's `allgs`: read
    /// after the threads were resumed, so each is as it was a moment after the threads' stacks.
    /// Empty for other processes.
    pub fn goroutines(&self) -> &[Goroutine] {
        &self.goroutines
    }

    /// Why a Go process's goroutines are not listed, or not all of them (e.g. the list was
    /// cut at its bound, or the binary is stripped of what finds them).
    pub fn goroutines_note(&self) -> Option<&str> {
        self.goroutines_note.as_deref()
    }

    /// True when every thread was traced without an error.
    pub fn is_complete(&self) -> bool {
        self.threads.iter().all(|t| t.error.is_none())
    }
}

/// One thread of a traced process.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub(crate) id: u32,
    pub(crate) name: Option<String>,
    pub(crate) facts: ThreadFacts,
    pub(crate) frames: Arc<[Frame]>,
    pub(crate) error: Option<ThreadError>,
    /// How the walk ended; `None` when there is no stack (the thread could not be traced).
    pub(crate) end: Option<StackEnd>,
    pub(crate) stopped_for: Duration,
}

/// Why a stack walk ended: exactly one reason per stack. Worded by the output (see
/// [`crate::tracer::snapshot::schema::end_words`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackEnd {
    /// The walk reached the thread's first frame (`_start`, `clone3`, `start_thread`,
    /// `runtime.goexit`, ...), or the unwind info marks the frame as the outermost.
    Root,
    /// The code at `address` has no unwind info, and no caller could be found without it.
    NoUnwindInfo {
        /// The mapped file of the code, when known.
        module: Option<String>,
        address: u64,
    },
    /// The stack copy ended before the stack did.
    CopyTooShort {
        /// Bytes copied.
        copied: u64,
        /// A copy this large would reach the end of the stack's mapping.
        needed: Option<u64>,
    },
    /// The walk stopped at the frame limit.
    FrameLimit { limit: usize },
    /// A frame repeated an earlier one (same address, same stack pointer): the stack loops.
    Repeating { address: u64 },
    /// A frame that cannot be real: the walk went off the stack.
    InvalidFrame { address: u64, why: InvalidFrame },
    /// Reading the target's memory at `address` failed.
    ReadFailed { address: u64 },
    /// The unwind needed a register the capture of a blocked thread does not have.
    RegisterUnknown,
    /// The unwinder failed with an error of its own.
    Unwinder { message: String },
    /// A saved snapshot's note on a walk that ended early, as written (no typed reason).
    Noted { note: String },
}

/// Why a frame cannot be real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidFrame {
    /// Its address is not in executable memory.
    NotCode,
    /// Its stack pointer is below the previous frame's (stacks grow down; callers are above).
    StackBackwards { sp: u64, previous: u64 },
}

impl Thread {
    /// The thread id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The thread's name (`/proc/PID/task/TID/comm`, made inert), when names were requested.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The stack, innermost frame first.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The stack as the tracer shares it: a stack carried over from the tracer's previous
    /// trace (a blocked thread that did not run since) is the same allocation, which a
    /// caller holding the last one can tell with `Arc::ptr_eq` instead of comparing frames.
    #[doc(hidden)]
    pub fn shared_frames(&self) -> Arc<[Frame]> {
        Arc::clone(&self.frames)
    }

    /// What `/proc` said about the thread just before it was stopped, corrected by what the
    /// stop found (the state and system call at the capture).
    pub fn facts(&self) -> &ThreadFacts {
        &self.facts
    }

    /// True when the stack did not reach the thread's root, so outer frames are missing
    /// ([`Thread::stack_end`] says why).
    pub fn is_truncated(&self) -> bool {
        self.end.as_ref().is_some_and(|e| *e != StackEnd::Root)
    }

    /// How the walk of the stack ended (`None` when there is no stack).
    pub fn stack_end(&self) -> Option<&StackEnd> {
        self.end.as_ref()
    }

    /// Why the thread could not be (fully) traced, if it could not.
    pub fn error(&self) -> Option<&ThreadError> {
        self.error.as_ref()
    }

    /// Why the unwind ended before the outermost frame, when it did (e.g. code without
    /// unwind info), in words; the frames before it are valid.
    pub fn end_note(&self) -> Option<String> {
        self.end.as_ref().and_then(super::schema::end_words)
    }

    /// How long the thread was kept stopped.
    pub fn stopped_for(&self) -> Duration {
        self.stopped_for
    }

    /// If `note` (one of [`Process::missing_debuginfo`]) is about a module of this stack:
    /// that module.
    pub fn module_note(&self, note: &ModuleNote) -> Option<&Module> {
        self.frames
            .iter()
            .filter_map(|f| f.module.as_ref())
            .find(|m| m.path == note.module)
    }
}

/// A goroutine of a Go process, read from the Go runtime's own records.
#[derive(Debug, Clone, PartialEq)]
pub struct Goroutine {
    pub(crate) id: u64,
    pub(crate) status: String,
    pub(crate) wait_reason: Option<String>,
    pub(crate) waiting_for: Option<Duration>,
    pub(crate) thread: Option<u32>,
    pub(crate) frames: Arc<[Frame]>,
    pub(crate) end_note: Option<String>,
}

impl Goroutine {
    /// The goroutine id (`goid`), as Go's own tracebacks number them.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The runtime's status word, as Go names it: "waiting", "runnable", "running",
    /// "syscall", ...
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Why a waiting goroutine waits, as Go prints it ("chan receive", "select", "sleep",
    /// "sync.Mutex.Lock", ...).
    pub fn wait_reason(&self) -> Option<&str> {
        self.wait_reason.as_deref()
    }

    /// What Go's own traceback shows in brackets: the wait reason of a waiting goroutine,
    /// else the status.
    pub fn state(&self) -> &str {
        self.wait_reason.as_deref().unwrap_or(&self.status)
    }

    /// How long it has been waiting, when the runtime recorded when it started (it does
    /// only for goroutines that have been waiting through a garbage collection).
    pub fn waiting_for(&self) -> Option<Duration> {
        self.waiting_for
    }

    /// The OS thread it is on (running or in a system call), if any.
    pub fn thread(&self) -> Option<u32> {
        self.thread
    }

    /// Its stack, innermost frame first (empty for a running goroutine: its stack is its
    /// thread's).
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Why its stack ends where it does, when not at the goroutine's root.
    pub fn end_note(&self) -> Option<&str> {
        self.end_note.as_deref()
    }
}

/// Facts about a thread from `/proc`, read before it was stopped (stopping changes them), and
/// brought in line with what the stop found (see `state_before`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadFacts {
    /// The state letter of `/proc/PID/task/TID/stat`: R, S, D, T, t, Z, X, I, ...
    pub state: Option<char>,
    /// The kernel function the thread sleeps in, if any.
    pub wchan: Option<String>,
    /// The system call the thread is blocked in, if any.
    pub syscall: Option<Syscall>,
    /// CPU time spent in user mode.
    pub user_time: Duration,
    /// CPU time spent in the kernel.
    pub system_time: Duration,
    /// The blocking call with its arguments decoded, e.g. `futex_wait(0x7f12a4c0)` or
    /// `read(fd 7 → socket:[12345])`.
    pub wait: Option<String>,
    /// The kernel stack (`/proc/PID/task/TID/stack`), when readable (read for threads in D).
    pub kernel_stack: Vec<String>,
    /// For a thread waiting on a lock: which lock and who holds it, as far as can be told.
    pub lock: Option<LockHint>,
    /// The state `/proc` showed just before the thread was stopped for its capture, when the
    /// stop found it otherwise (`state`, `syscall` and `wait` are then those of the capture).
    pub state_before: Option<char>,
    /// A system call the thread was leaving when it was captured: it had returned, and the
    /// innermost frame is still at its call (the thread is running, not blocked in it).
    pub leaving: Option<Leaving>,
    /// For a thread of a CPython interpreter: what the interpreter says about it.
    pub python: Option<PythonThread>,
    /// For a blocked thread whose wait names somebody (a lock's owner, a socket's peer, a
    /// pipe's other end, a file lock's holder, a child): that wait, followed from holder to
    /// holder across processes.
    pub chain: Option<WaitChain>,
}

/// What a CPython interpreter says about one of its OS threads (read after the threads were
/// resumed, so a moment after the stack was taken).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonThread {
    /// The thread held the GIL (one of them, from 3.12 where subinterpreters may own one).
    pub holds_gil: bool,
    /// The `threading.Thread` name, when `threading` knows the thread.
    pub name: Option<String>,
    /// Why its Python frames are missing or incomplete (a torn read, a cut chain).
    pub note: Option<String>,
}

/// A system call a thread had just returned from when it was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaving {
    /// The call, while the registers still say which: `None` once the thread was back in user
    /// code, at the instruction after its `syscall`.
    pub call: Option<Syscall>,
}

/// What a thread waiting on a futex waits for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockHint {
    /// The futex word's address.
    pub address: u64,
    /// The owner's thread id, read from a glibc or musl `pthread_mutex_t` (never guessed).
    pub owner: Option<u32>,
    /// Why there is no owner: e.g. "not a glibc mutex (a condition variable or a Rust lock)".
    pub note: Option<String>,
}

impl ThreadFacts {
    /// A word for the state letter.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            Some('R') => "running",
            Some('S') => "sleeping",
            Some('D') => "disk sleep",
            Some('T') => "stopped",
            Some('t') => "tracing stop",
            Some('Z') => "zombie",
            Some('X') => "dead",
            Some('I') => "idle",
            Some('P') => "parked",
            Some('W') => "waking",
            _ => "unknown",
        }
    }
}

/// A system call a thread is blocked in (`/proc/PID/task/TID/syscall`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// The x86_64 system call number.
    pub number: i64,
    /// The six argument registers.
    pub args: [u64; 6],
}

impl Syscall {
    /// The system call's name (any x86_64 call the kernel has up to Linux 6.10).
    pub fn name(&self) -> Option<&'static str> {
        crate::tracer::arch::native::syscalls::name(self.number)
    }
}

/// What kind of code a frame runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Machine code of a mapped file (or unknown code): the unwinder's frames.
    #[default]
    Native,
    /// A CPython function, spliced in at the evaluator frame that runs it. It has no `ip` (0)
    /// and no module; its symbol is the function (qualified name from 3.11, `raw_name` the bare
    /// name), its location the Python file and line (line 0 when the line table has none).
    Python,
    /// Code a JIT compiled at run time, named from a perf map.
    Jit,
}

impl FrameKind {
    /// The word for it in JSON (`None` for native frames, which carry no `kind` there).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Native => "native",
            FrameKind::Python => "python",
            FrameKind::Jit => "jit",
        }
    }
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub(crate) kind: FrameKind,
    pub(crate) ip: u64,
    pub(crate) is_signal: bool,
    pub(crate) symbol: Option<Symbol>,
    pub(crate) module: Option<Module>,
    pub(crate) location: Option<Location>,
    pub(crate) inlined: bool,
    /// No unwind info covers the frame: its caller was the word at its stack pointer, a
    /// return address right after a call (as at glibc's `clone3` after the system call).
    pub(crate) frameless: bool,
}

impl Frame {
    /// Native, Python or JIT.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The instruction pointer: for every frame but the innermost, a return address.
    pub fn ip(&self) -> u64 {
        self.ip
    }

    /// True when this frame is a signal handler trampoline frame.
    pub fn is_signal(&self) -> bool {
        self.is_signal
    }

    /// The function the frame is in, when symbols were requested and one was found.
    pub fn symbol(&self) -> Option<&Symbol> {
        self.symbol.as_ref()
    }

    /// The file the frame's code was mapped from, and the address within it.
    pub fn module(&self) -> Option<&Module> {
        self.module.as_ref()
    }

    /// The source file and line of the frame's address (for an outer frame: of the call),
    /// when lines were requested and the module has DWARF line info.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// True for a function inlined into the next (outer) frame: it has no stack frame of its
    /// own and shares that frame's `ip`.
    pub fn is_inlined(&self) -> bool {
        self.inlined
    }

    /// True when no unwind info covers this frame and its caller was found as a frameless
    /// leaf's: the word at its stack pointer, checked to be a return address right after a
    /// call (to this function, or indirect).
    pub fn is_frameless(&self) -> bool {
        self.frameless
    }
}

/// A place in the source, from DWARF line info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The source file's path as the compiler recorded it (made inert).
    pub file: String,
    pub line: u32,
    pub column: Option<u32>,
}

/// The mapped file a frame's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The path as the target sees it (`[vdso]` for the vDSO; made inert).
    pub path: String,
    /// The address in the file's own address space (what `addr2line -e PATH` takes).
    pub offset: u64,
}

/// A function symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub(crate) name: String,
    pub(crate) raw_name: String,
    pub(crate) offset: u64,
    pub(crate) address: u64,
    pub(crate) size: u64,
}

impl Symbol {
    /// The demangled name (Rust without its hash, C++ with its namespaces and templates), or
    /// the raw name when it is not mangled. Made inert.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as it stands in the symbol table. Made inert.
    pub fn raw_name(&self) -> &str {
        &self.raw_name
    }

    /// The frame's address minus the symbol's start.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The symbol's start address in the process.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// The symbol's size in bytes (0 when the symbol table does not say).
    pub fn size(&self) -> u64 {
        self.size
    }
}
