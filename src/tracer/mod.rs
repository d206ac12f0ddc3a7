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
mod chains;
pub mod coredump;
mod error;
mod failures;
#[doc(hidden)]
pub mod fuzz;
mod golang;
mod memory;
mod model;
mod options;
mod pipeline;
mod procfs;
mod python;
mod regular_file;
mod snapshot;
mod stop;
mod symbolize;
pub mod text;
mod unwind;

pub use analysis::{diff, equal_stacks, group};
#[doc(hidden)]
pub use golang::golayout;
pub use snapshot::{schema, snapfile};
#[doc(hidden)]
pub use unwind::sigmask;

use procfs::procinfo;
use stop::{attach, priority, watchdog};
use symbolize::{cachedir, demangle};

pub use attach::AttachMethod;
pub use cachedir::{CacheRefusal, CacheRefused};
pub use chains::{
    FULL_SCAN as CHAIN_FULL_SCAN, LinkKind, Party, QUICK_SCAN as CHAIN_QUICK_SCAN, WaitChain,
    WaitCycle, WaitLink,
};
pub use demangle::demangle;
pub use error::{Error, Result};
pub use failures::{InflateLimit, ModuleNote, ModuleProblem, ThreadError, UnwindFailure};
pub use model::{
    Frame, FrameKind, Goroutine, InvalidFrame, Leaving, Location, LockHint, Mode, Module, Process,
    PythonThread, StackEnd, Symbol, Syscall, Thread, ThreadFacts, Timings, Unguarded,
};
pub use options::{TraceOptions, UnwindMethod, default_line_cache};
pub use pipeline::Tracer;
pub use priority::StopPriority;
#[doc(hidden)]
pub use procfs::stat::Stat as ProcStat;
#[doc(hidden)]
pub use procfs::status::Status as ProcStatus;
pub use procfs::targetfs::open_in_target;
pub use procinfo::{TargetId, target_of};
pub use regular_file::{OpenRegularError, open_regular};
pub use watchdog::NoGuard;

/// Traces `pid` with the default options (rolling mode, names and symbols on).
pub fn trace(pid: u32) -> Result<Process> {
    TraceOptions::new().trace(pid)
}
