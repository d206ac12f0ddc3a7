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
    /// Sample at this interval (the profile view is open), or stop sampling (None): samples
    /// between the refreshes go out as [`WorkerEvent::Sample`], the refreshes as snapshots.
    SetProfiling(Option<Duration>),
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
    /// A profile's sample between two refreshes: for the profile only, not the history.
    Sample(Arc<Process>),
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
    /// The sampling interval while profiling.
    profile: Option<Duration>,
    /// When the next trace is a refresh (goes to the history) while profiling.
    refresh_due: Instant,
}

impl State {
    /// Time from one trace to the next: the sampling interval while profiling.
    fn next_interval(&self) -> Duration {
        self.profile.map_or(self.interval, |p| p.min(self.interval))
    }

    /// Applies one command; false on shutdown.
    fn apply(
        &mut self,
        cmd: TracerCmd,
        tracer: &mut Tracer,
        report: &impl Fn(WorkerEvent),
    ) -> bool {
        match cmd {
            TracerCmd::Shutdown => return false,
            TracerCmd::Target(t) => {
                self.target = t;
                self.profile = None;
                self.due = t.map(|_| Instant::now());
                if let Some(pid) = t
                    && let Some(stat) = ProcStat::read(&format!("/proc/{pid}/stat"))
                {
                    report(WorkerEvent::Identified {
                        pid,
                        start: stat.start,
                    });
                }
            }
            TracerCmd::SnapshotNow => {
                self.due = Some(Instant::now());
                self.refresh_due = Instant::now();
            }
            TracerCmd::SetInterval(i) => {
                self.interval = i;
                if !self.paused && self.target.is_some() {
                    self.due = Some(Instant::now() + self.next_interval());
                }
            }
            TracerCmd::SetPaused(p) => {
                self.paused = p;
                self.due = (!p).then(|| Instant::now() + self.next_interval());
            }
            TracerCmd::SetProfiling(p) => {
                self.profile = p;
                // Samples at their rate from now; the refreshes keep their own pace.
                if !self.paused && self.target.is_some() {
                    self.due = Some(match p {
                        Some(p) => Instant::now() + p,
                        None => self.refresh_due,
                    });
                }
            }
            TracerCmd::SetSnapshotMode(s) => {
                tracer.options_mut().snapshot(s);
            }
        }
        true
    }
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
        profile: None,
        refresh_due: Instant::now(),
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
            if !st.apply(cmd, &mut tracer, &report) {
                return;
            }
        }
        let (Some(pid), Some(due)) = (st.target, st.due) else {
            continue;
        };
        if due > Instant::now() {
            continue;
        }
        // While profiling, most traces are samples: only a refresh goes to the history (and
        // says "tracing"), so a 20 Hz profile does not churn the panes' derived state.
        let refresh = st.profile.is_none() || Instant::now() >= st.refresh_due;
        if refresh {
            report(WorkerEvent::Started);
            st.refresh_due = Instant::now() + st.interval;
        }
        // Wait chains are for the panes: a profile's samples go without them.
        tracer.options_mut().chains(refresh);
        let traced = tracer.trace(pid);
        if let Some(refused) = tracer.take_line_cache_refused() {
            report(WorkerEvent::LineCacheRefused(refused));
        }
        match traced {
            Ok(p) if refresh => report(WorkerEvent::Snapshot(Arc::new(p))),
            Ok(p) => report(WorkerEvent::Sample(Arc::new(p))),
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
        st.due = (!st.paused).then(|| Instant::now() + st.next_interval());
    }
}
