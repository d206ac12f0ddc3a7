//! Stopping and resuming one thread with ptrace.
//!
//! PTRACE_SEIZE + PTRACE_INTERRUPT by default: no signal is sent, a process that was already
//! stopped (SIGSTOP, Ctrl-Z) stays stopped after detach, and syscalls restart transparently.
//! PTRACE_ATTACH is the fallback (kernels without SEIZE, or on request): it sends SIGSTOP, which
//! we consume; any other signal that arrives meanwhile is re-injected on detach. A
//! [`StoppedThread`] detaches when dropped, so every path (error, panic) resumes the thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How to take hold of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMethod {
    /// PTRACE_SEIZE + PTRACE_INTERRUPT, falling back to PTRACE_ATTACH when SEIZE is missing.
    Seize,
    /// PTRACE_ATTACH (sends SIGSTOP) only.
    Attach,
}

/// Why a thread could not be stopped.
#[derive(Debug)]
pub enum AttachError {
    /// The thread does not exist (any more).
    Gone,
    /// The kernel refused (EPERM): no permission or another tracer.
    Refused(Errno),
    /// Some other ptrace failure.
    Failed(&'static str, Errno),
    /// The thread was seized but did not reach a stop before the deadline (e.g. it sleeps in
    /// state D). It is handed back so the caller can detach it once it stops.
    Timeout(Lingering),
    /// The caller's cancel flag was raised while waiting.
    Cancelled(Lingering),
}

/// A thread that is attached, stopped, and will be detached (resumed) when dropped.
#[derive(Debug)]
pub struct StoppedThread {
    tid: Pid,
    /// Signals that arrived while we held the thread; re-injected on detach.
    pending: Vec<Signal>,
    stopped_at: Instant,
    owned: bool,
}

/// A thread we seized that had not stopped yet when we gave up waiting. It must be waited for
/// and detached later, or it would stop for good once it wakes.
#[derive(Debug)]
pub struct Lingering {
    tid: Pid,
    method: AttachMethod,
    pending: Vec<Signal>,
}

impl StoppedThread {
    /// Stops thread `tid`. `deadline` bounds the wait for the stop; `cancel` aborts it.
    pub fn attach(
        tid: i32,
        method: AttachMethod,
        deadline: Instant,
        cancel: &AtomicBool,
    ) -> Result<StoppedThread, AttachError> {
        let pid = Pid::from_raw(tid);
        let used = match method {
            AttachMethod::Seize => match ptrace::seize(pid, Options::empty()) {
                Ok(()) => match ptrace::interrupt(pid) {
                    Ok(()) => AttachMethod::Seize,
                    Err(e) => {
                        // Seized but not interrupted: nothing is pending, so detach cannot
                        // leave a stop behind. ESRCH here means the thread is gone.
                        let _ = ptrace::detach(pid, None);
                        return Err(classify("PTRACE_INTERRUPT", e));
                    }
                },
                Err(Errno::EIO) | Err(Errno::EINVAL) => {
                    ptrace::attach(pid).map_err(|e| classify("PTRACE_ATTACH", e))?;
                    AttachMethod::Attach
                }
                Err(e) => return Err(classify("PTRACE_SEIZE", e)),
            },
            AttachMethod::Attach => {
                ptrace::attach(pid).map_err(|e| classify("PTRACE_ATTACH", e))?;
                AttachMethod::Attach
            }
        };
        let mut pending = Vec::new();
        wait_for_stop(pid, used, deadline, cancel, &mut pending)?;
        Ok(StoppedThread {
            tid: pid,
            pending,
            stopped_at: Instant::now(),
            owned: true,
        })
    }

    /// A thread that the caller attached and stopped itself: we neither stop nor resume it.
    pub fn borrowed(tid: i32) -> StoppedThread {
        StoppedThread {
            tid: Pid::from_raw(tid),
            pending: Vec::new(),
            stopped_at: Instant::now(),
            owned: false,
        }
    }

    /// The thread id.
    pub fn tid(&self) -> i32 {
        self.tid.as_raw()
    }

    /// Resumes the thread and returns how long it was stopped.
    pub fn detach(mut self) -> Duration {
        self.release();
        self.stopped_at.elapsed()
    }

    fn release(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        let first = self.pending.first().copied();
        // ESRCH: the thread died while stopped (e.g. SIGKILL); nothing left to resume.
        let _ = ptrace::detach(self.tid, first);
        reinject(self.tid, self.pending.get(1..).unwrap_or_default());
    }
}

impl Drop for StoppedThread {
    fn drop(&mut self) {
        self.release();
    }
}

thread_local! {
    /// Threads this OS thread seized that had not stopped when we gave up on them. ptrace ties
    /// them to this thread, not to a `Tracer`, so any later trace on this thread finishes
    /// their release.
    static LINGERING: std::cell::RefCell<Vec<Lingering>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keeps a thread that did not stop in time, to be released by [`release_lingering`].
pub fn linger(l: Lingering) {
    LINGERING.with(|v| v.borrow_mut().push(l));
}

/// True when `tid` is a thread we seized earlier and are still waiting for.
pub fn is_lingering(tid: i32) -> bool {
    LINGERING.with(|v| v.borrow().iter().any(|l| l.tid.as_raw() == tid))
}

/// Detaches the lingering threads that have stopped (or are gone) by now, waiting at most
/// `wait` for each.
pub fn release_lingering(wait: Duration) {
    let pending = LINGERING.with(|v| std::mem::take(&mut *v.borrow_mut()));
    let still: Vec<Lingering> = pending
        .into_iter()
        .filter_map(|l| l.try_release(wait))
        .collect();
    LINGERING.with(|v| v.borrow_mut().extend(still));
}

impl Lingering {
    /// Tries to finish the attach of a thread that did not stop in time, and detach it.
    /// Returns `None` when done (detached or gone), or `self` to be tried again later.
    fn try_release(self, wait: Duration) -> Option<Lingering> {
        let never = AtomicBool::new(false);
        let mut pending = self.pending;
        match wait_for_stop(
            self.tid,
            self.method,
            Instant::now() + wait,
            &never,
            &mut pending,
        ) {
            Ok(()) => {
                let _ = ptrace::detach(self.tid, pending.first().copied());
                reinject(self.tid, pending.get(1..).unwrap_or_default());
                None
            }
            Err(AttachError::Timeout(l)) | Err(AttachError::Cancelled(l)) => Some(l),
            Err(AttachError::Gone) => None,
            Err(_) => None,
        }
    }
}

fn classify(what: &'static str, e: Errno) -> AttachError {
    match e {
        Errno::ESRCH => AttachError::Gone,
        Errno::EPERM => AttachError::Refused(e),
        other => AttachError::Failed(what, other),
    }
}

/// Waits until `pid` reports the stop our attach asked for. Signal-delivery stops of other
/// signals are noted in `pending` (to be re-injected); with SEIZE such a stop is itself a
/// usable stop, with ATTACH we let the thread go on until our SIGSTOP arrives.
fn wait_for_stop(
    pid: Pid,
    method: AttachMethod,
    deadline: Instant,
    cancel: &AtomicBool,
    pending: &mut Vec<Signal>,
) -> Result<(), AttachError> {
    let mut polls: u32 = 0;
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if cancel.load(Ordering::Relaxed) {
                    let pending = std::mem::take(pending);
                    return Err(AttachError::Cancelled(Lingering {
                        tid: pid,
                        method,
                        pending,
                    }));
                }
                if Instant::now() >= deadline {
                    let pending = std::mem::take(pending);
                    return Err(AttachError::Timeout(Lingering {
                        tid: pid,
                        method,
                        pending,
                    }));
                }
                backoff(polls);
                polls += 1;
            }
            // SEIZE: interrupt stop, or a group stop (the process was or got stopped).
            Ok(WaitStatus::PtraceEvent(..)) => return Ok(()),
            Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) if method == AttachMethod::Attach => {
                return Ok(());
            }
            Ok(WaitStatus::Stopped(_, sig)) => {
                pending.push(sig);
                if method == AttachMethod::Seize {
                    // A signal-delivery stop is a ptrace stop too; the signal goes back on detach.
                    return Ok(());
                }
                if ptrace::cont(pid, None).is_err() {
                    return Err(AttachError::Gone);
                }
            }
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                return Err(AttachError::Gone);
            }
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(e) => return Err(AttachError::Failed("waitpid", e)),
        }
    }
}

/// Polling keeps the wait bounded; a parked thread stops within tens of microseconds, so spin
/// briefly before sleeping, and never sleep more than a millisecond.
fn backoff(polls: u32) {
    if polls < 32 {
        std::thread::yield_now();
    } else {
        let micros = 10u64 << (polls - 32).min(7);
        std::thread::sleep(Duration::from_micros(micros.min(1000)));
    }
}

/// Sends signals back to a thread after we took them from it (tgkill to the thread itself).
fn reinject(tid: Pid, signals: &[Signal]) {
    if signals.is_empty() {
        return;
    }
    let tgid = procfs::process::Process::new(tid.as_raw())
        .and_then(|p| p.status())
        .map(|s| s.tgid)
        .unwrap_or(tid.as_raw());
    for &sig in signals {
        // SAFETY: tgkill takes plain integers and has no memory effects on our side.
        unsafe {
            libc::syscall(libc::SYS_tgkill, tgid, tid.as_raw(), sig as i32);
        }
    }
}
