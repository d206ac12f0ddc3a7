//! rstack-tui: a live thread inspector for Linux.
//!
//! The crate is the tracer library (re-exported at the root, with the public shape of the
//! `rstack` crate) plus what the binary is built from: the `dump` output, the untrusted-text
//! filter, and (later) the interactive inspector.

pub mod app;
pub mod demo;
pub mod describe;
pub mod dump;
pub mod proclist;
pub mod tracer;
pub mod tui;
pub mod ui;
pub mod worker;

/// The inert-text filter, at the root for the inspector's code (it lives in the tracer).
pub use tracer::text;

pub use tracer::{
    AttachMethod, Error, Frame, Goroutine, InvalidFrame, Mode, Module, NoGuard, Process, Result,
    StackEnd, Symbol, Syscall, Thread, ThreadFacts, TraceOptions, Tracer, Unguarded, UnwindMethod,
    default_line_cache, trace,
};
