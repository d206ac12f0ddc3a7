//! The tracer worker: a dedicated thread (ptrace requests must come from the thread that
//! attached) that owns the [`Tracer`] and its symbol cache, takes [`TracerCmd`]s, and reports
//! [`WorkerEvent`]s. Auto-refresh is its `recv_timeout`; queued commands coalesce.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tracer::{CacheRefused, Error, ProcStat, Process, TraceOptions, Tracer};

/// Commands to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TracerCmd {
    /// Inspect this process from now on (None: stop inspecting).
    Target(Option<u32>),
    SnapshotNow,
    SetInterval(Duration),
    SetPaused(bool),
    SetSnapshotMode(bool),
    Shutdown,
}

/// What the worker reports.
#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// A new target's start time (clock ticks since boot), read before its first trace: it
    /// tells the process from a later one of the same pid.
    Identified {
        pid: u32,
        start: u64,
    },
    Started,
    Snapshot(Arc<Process>),
    Failed {
        message: String,
        exited: bool,
    },
    /// The process may not be traced: what `/proc` shows anyone of it, without stacks
    /// (after the `Failed` that says why).
    Degraded(Arc<Process>),
    /// The line cache directory was refused (reported once): tracing goes on without it.
    LineCacheRefused(CacheRefused),
}

/// A running worker.
pub struct Worker {
    pub commands: Sender<TracerCmd>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker; `report` is called from its thread.
    pub fn spawn(
        interval: Duration,
        options: TraceOptions,
        cancel: Arc<AtomicBool>,
        report: impl Fn(WorkerEvent) + Send + 'static,
    ) -> Worker {
        let (tx, rx) = channel();
        let handle = std::thread::Builder::new()
            .name("tracer".into())
            .spawn(move || run(rx, interval, options, cancel, report))
            .expect("spawning the tracer thread");
        Worker {
            commands: tx,
            handle: Some(handle),
        }
    }

    pub fn send(&self, cmd: TracerCmd) {
        let _ = self.commands.send(cmd);
    }

    /// Stops the worker and waits for it: every thread it held is detached when it returns.
    pub fn shutdown(mut self) {
        self.send(TracerCmd::Shutdown);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct State {
    target: Option<u32>,
    interval: Duration,
    paused: bool,
    due: Option<Instant>,
}

fn run(
    rx: Receiver<TracerCmd>,
    interval: Duration,
    mut options: TraceOptions,
    cancel: Arc<AtomicBool>,
    report: impl Fn(WorkerEvent),
) {
    options.cancel_flag(cancel);
    let mut tracer = Tracer::new(options);
    let mut st = State {
        target: None,
        interval,
        paused: false,
        due: None,
    };
    loop {
        let first = match st.due.filter(|_| st.target.is_some()) {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(cmd) => Some(cmd),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(cmd) => Some(cmd),
                Err(_) => return,
            },
        };
        // Apply everything queued: the latest target, interval and mode win.
        for cmd in first.into_iter().chain(rx.try_iter()) {
            match cmd {
                TracerCmd::Shutdown => return,
                TracerCmd::Target(t) => {
                    st.target = t;
                    st.due = t.map(|_| Instant::now());
                    if let Some(pid) = t
                        && let Some(stat) = ProcStat::read(&format!("/proc/{pid}/stat"))
                    {
                        report(WorkerEvent::Identified {
                            pid,
                            start: stat.start,
                        });
                    }
                }
                TracerCmd::SnapshotNow => st.due = Some(Instant::now()),
                TracerCmd::SetInterval(i) => {
                    st.interval = i;
                    if !st.paused && st.target.is_some() {
                        st.due = Some(Instant::now() + i);
                    }
                }
                TracerCmd::SetPaused(p) => {
                    st.paused = p;
                    st.due = (!p).then(|| Instant::now() + st.interval);
                }
                TracerCmd::SetSnapshotMode(s) => {
                    tracer.options_mut().snapshot(s);
                }
            }
        }
        let (Some(pid), Some(due)) = (st.target, st.due) else {
            continue;
        };
        if due > Instant::now() {
            continue;
        }
        report(WorkerEvent::Started);
        let traced = tracer.trace(pid);
        if let Some(refused) = tracer.take_line_cache_refused() {
            report(WorkerEvent::LineCacheRefused(refused));
        }
        match traced {
            Ok(p) => report(WorkerEvent::Snapshot(Arc::new(p))),
            Err(e) => {
                let exited = matches!(
                    e,
                    Error::ProcessExited { .. }
                        | Error::NoSuchProcess { .. }
                        | Error::Zombie { .. }
                );
                if exited {
                    st.target = None;
                }
                // No permission: the way out, and what /proc shows anyone of the threads.
                let degraded = match e {
                    Error::PermissionDenied { .. } => crate::proconly::snapshot(pid),
                    _ => None,
                };
                let message = match degraded {
                    Some(_) => crate::describe::no_permission_text().to_string(),
                    None => crate::text::error_line(&e),
                };
                report(WorkerEvent::Failed { message, exited });
                if let Some(p) = degraded {
                    report(WorkerEvent::Degraded(Arc::new(p)));
                }
            }
        }
        st.due = (!st.paused).then(|| Instant::now() + st.interval);
    }
}
