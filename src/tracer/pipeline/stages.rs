//! The data a trace carries from stage to stage: what a stop took of a thread ([`Taken`]),
//! a thread with its stack taken now or kept from the last trace ([`TakenThread`]), the same
//! after its capture was unwound ([`WalkedThread`]), and a stack kept for the next trace
//! ([`KeptStack`]). Symbolization then makes each walked thread a [`Thread`].
//!
//! [`Thread`]: crate::tracer::Thread

use std::sync::Arc;
use std::time::Duration;

use crate::tracer::capture::thread::Capture;
use crate::tracer::procfs::procinfo::TaskFacts;
use crate::tracer::unwind::unwinder::Walk;
use crate::tracer::{Frame, ModuleNote, StackEnd, ThreadError, ThreadFacts};

/// A thread's stack as captured, before symbolization (which runs after the thread resumed).
pub(super) struct WalkedThread {
    pub(super) tid: i32,
    pub(super) name: Option<String>,
    pub(super) facts: ThreadFacts,
    pub(super) walk: Walk,
    pub(super) error: Option<ThreadError>,
    pub(super) stopped_for: Duration,
    /// The symbolized stack of an earlier trace, still true (see [`KeptStack`]).
    pub(super) kept: Option<KeptStack>,
    /// What identifies this thread's state for the next trace, if it was captured without a
    /// stop: its start time and run record.
    pub(super) mark: Option<(u64, Vec<u8>)>,
}

/// A thread's symbolized stack, kept for the next trace. A thread blocked in a system call
/// whose run record (`schedstat`) has not changed since has not run: its stack is the same,
/// so the next trace reads two small files for it instead of capturing, unwinding and
/// symbolizing it again (most threads of a live view sit parked from one refresh to the next).
#[derive(Debug, Clone)]
pub(super) struct KeptStack {
    pub(super) start: u64,
    pub(super) record: Vec<u8>,
    pub(super) frames: Arc<[Frame]>,
    pub(super) end: Option<StackEnd>,
    pub(super) error: Option<ThreadError>,
    pub(super) facts: ThreadFacts,
    /// Whether `frames` hold the thread's Python frames (and `facts` its Python facts): such
    /// a stack stands only for a trace that reads Python frames, and the other way round.
    pub(super) with_python: bool,
    /// The trace's notes on the modules of this stack (no debuginfo, unreadable ELF).
    pub(super) notes: Vec<Arc<ModuleNote>>,
}

/// What was taken of a stopped (or blocked) thread: a capture to unwind, or a finished walk.
pub(super) enum Taken {
    Capture(Box<Capture>),
    Walk(Walk),
    /// A blocked thread's capture, walked at once (and retaken if the walk needed a stop),
    /// with the error of a retake that failed.
    Walked(Walk, Option<ThreadError>),
    Failed(ThreadError),
}

/// What the capture pass has of a thread: something taken now, or its stack carried over.
pub(super) enum Source {
    Taken(Taken),
    Kept(Box<KeptStack>),
}

/// One thread as the capture pass left it.
pub(super) struct TakenThread {
    pub(super) tid: i32,
    pub(super) name: Option<String>,
    pub(super) facts: ThreadFacts,
    pub(super) source: Source,
    pub(super) stopped_for: Duration,
    pub(super) mark: Option<(u64, Vec<u8>)>,
}

impl TakenThread {
    /// A thread taken now (not carried over), with no mark for the next trace.
    pub(super) fn taken(tid: i32, facts: TaskFacts, taken: Taken, stopped_for: Duration) -> Self {
        TakenThread {
            tid,
            name: facts.name,
            facts: facts.facts,
            source: Source::Taken(taken),
            stopped_for,
            mark: None,
        }
    }
}
