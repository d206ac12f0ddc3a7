//! rstack-tui's tracer: every thread of a live Linux process, its name, state and stack,
//! symbolized, as plain data. The `rstack-tui` binary (the interactive inspector and `dump`)
//! is built on it; the library API is the tracer's, shaped like the `rstack` crate's.
//!
//! - [`trace`] traces a process with the default options; [`TraceOptions`] sets them
//!   builder-style (snapshot or rolling mode, names, symbols, source lines, attach method).
//! - A [`Tracer`] keeps its symbol tables between traces, for a program that traces the same
//!   process again and again. It stays on the thread that made it (ptrace is per thread).
//! - A [`Process`] holds its [`Thread`]s; a thread its [`Frame`]s, innermost first; a frame
//!   its instruction pointer, module and [`Symbol`] (name and offset), or source location.
//! - Failures that end a trace are an [`Error`], one variant per cause; a thread that could
//!   not be stopped or unwound is reported in its [`Thread`] (a [`ThreadError`]) and the
//!   others are traced. Why a stack ends early is a [`StackEnd`]; why a module's frames lack
//!   names or lines, a [`ModuleNote`] of [`Process::missing_debuginfo`]. Each is data to
//!   match on, worded by `Display`.
//!
//! Every thread the tracer stops is resumed on every path (success, error, cancellation,
//! panic). Text from the target (names, paths, symbols) is made inert: no control or
//! invisible characters reach the caller. Tracing needs ptrace rights over the target.
//!
//! ```no_run
//! use rstack_tui::{Error, TraceOptions, Tracer};
//!
//! fn main() -> Result<(), Error> {
//!     let pid = 1234;
//!     // One trace with the defaults: `rstack_tui::trace(pid)?`. Or keep a tracer:
//!     let mut tracer = Tracer::new(TraceOptions::new().snapshot(true).clone());
//!     let process = tracer.trace(pid)?;
//!     for thread in process.threads() {
//!         println!("thread {} {}", thread.id(), thread.name().unwrap_or("?"));
//!         for frame in thread.frames() {
//!             match frame.symbol() {
//!                 Some(s) => println!("  {:#x} {}+{:#x}", frame.ip(), s.name(), s.offset()),
//!                 None => println!("  {:#x} ???", frame.ip()),
//!             }
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! [`tracer`] holds the rest: snapshot files and their schema, and the analysis of
//! snapshots (diffs, groups of identical stacks). The other modules are the inspector's,
//! public only for the binary and the tests, and not part of the API.

pub mod tracer;

#[doc(hidden)]
pub mod app;
#[doc(hidden)]
pub mod backend;
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod describe;
#[doc(hidden)]
pub mod dump;
#[doc(hidden)]
pub mod pidname;
#[doc(hidden)]
pub mod proclist;
#[doc(hidden)]
pub mod proconly;
#[doc(hidden)]
pub mod profile;
#[doc(hidden)]
pub mod record;
#[doc(hidden)]
pub mod tui;
#[doc(hidden)]
pub mod ui;
#[doc(hidden)]
pub mod worker;

/// The inert-text filter, at the root for the inspector's code (it lives in the tracer).
#[doc(hidden)]
pub use tracer::text;

pub use tracer::{
    AttachMethod, Error, Frame, FrameKind, Goroutine, InflateLimit, InvalidFrame, LinkKind, Mode,
    Module, ModuleNote, ModuleProblem, NoGuard, Party, Process, PythonThread, Result, StackEnd,
    StopPriority, Symbol, Syscall, Thread, ThreadError, ThreadFacts, TraceOptions, Tracer,
    Unguarded, UnwindFailure, UnwindMethod, WaitChain, WaitCycle, WaitLink, default_line_cache,
    trace,
};
