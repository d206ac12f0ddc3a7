//! Stopping and resuming one thread with ptrace.
//!
//! PTRACE_SEIZE + PTRACE_INTERRUPT by default: no signal is sent, a process that was already
//! stopped (SIGSTOP, Ctrl-Z) stays stopped after detach, and syscalls restart transparently.
//! PTRACE_ATTACH is the fallback (kernels without SEIZE, or on request): it sends SIGSTOP, which
//! we consume; any other signal that arrives meanwhile is delivered at once. A
//! [`StoppedThread`] detaches when dropped, so every path (error, panic) resumes the thread.
//!
//! Even SIGKILL of the tracer must not harm the target. Stops are looked at with WNOWAIT, so
//! a signal the thread stopped for stays in the kernel (which delivers it if we die) until we
//! pass it on ourselves; the SIGSTOP of PTRACE_ATTACH, which the kernel would deliver after
//! our death, is covered by the [`watchdog`](crate::tracer::stop::watchdog) until we have consumed it. When
//! it cannot be (its table is full, or it cannot be started), the attach goes on unguarded and
//! the caller hears why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::unistd::Pid;

use crate::tracer::procfs::status::Status;
use crate::tracer::stop::watchdog::{Armed, NoGuard};

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
    /// Signals that arrived while we held the thread (raw numbers: real-time ones too);
    /// passed on at detach.
    pending: Vec<i32>,
    stopped_at: Instant,
    owned: bool,
}

/// A thread we seized that had not stopped yet when we gave up waiting. It must be waited for
/// and detached later, or it would stop for good once it wakes.
#[derive(Debug)]
pub struct Lingering {
    tid: Pid,
    method: AttachMethod,
    pending: Vec<i32>,
    /// Our SIGSTOP (PTRACE_ATTACH) is still outstanding.
    armed: Option<Armed>,
}

impl StoppedThread {
    /// Stops thread `tid`. `deadline` bounds the wait for the stop; `cancel` aborts it.
    /// `unguarded` is set when a SIGSTOP of ours was queued without the watchdog's guard,
    /// whatever the outcome.
    pub fn attach(
        tid: i32,
        method: AttachMethod,
        deadline: Instant,
        cancel: &AtomicBool,
        unguarded: &mut Option<NoGuard>,
    ) -> Result<StoppedThread, AttachError> {
        let pid = Pid::from_raw(tid);
        let mut armed = None;
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
                    armed = attach_with_sigstop(pid, unguarded)?;
                    AttachMethod::Attach
                }
                Err(e) => return Err(classify("PTRACE_SEIZE", e)),
            },
            AttachMethod::Attach => {
                armed = attach_with_sigstop(pid, unguarded)?;
                AttachMethod::Attach
            }
        };
        let mut pending = Vec::new();
        wait_for_stop(pid, used, deadline, cancel, &mut pending, &mut armed)?;
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
        detach(self.tid, &self.pending);
    }
}

impl Drop for StoppedThread {
    fn drop(&mut self) {
        self.release();
    }
}

/// Threads this OS thread seized that had not stopped when we gave up on them.
#[derive(Default)]
struct LingeringList(Vec<Lingering>);

impl Drop for LingeringList {
    /// The OS thread exits, and with it our hold: the kernel detaches these threads, and a
    /// SIGSTOP of ours still queued on one would then stop its whole process. Cancel it.
    fn drop(&mut self) {
        for l in self.0.drain(..) {
            if let Some(armed) = l.armed {
                armed.cancel_stop();
            }
        }
    }
}

thread_local! {
    /// ptrace ties lingering threads to this OS thread, not to a `Tracer`, so any later trace
    /// on this thread finishes their release.
    static LINGERING: std::cell::RefCell<LingeringList> = std::cell::RefCell::default();
}

/// Keeps a thread that did not stop in time, to be released by [`release_lingering`].
pub fn linger(l: Lingering) {
    LINGERING.with(|v| v.borrow_mut().0.push(l));
}

/// True when `tid` is a thread we seized earlier and are still waiting for.
pub fn is_lingering(tid: i32) -> bool {
    LINGERING.with(|v| v.borrow().0.iter().any(|l| l.tid.as_raw() == tid))
}

/// Detaches the lingering threads that have stopped (or are gone) by now, waiting at most
/// `wait` for each.
pub fn release_lingering(wait: Duration) {
    let pending = LINGERING.with(|v| std::mem::take(&mut v.borrow_mut().0));
    let still: Vec<Lingering> = pending
        .into_iter()
        .filter_map(|l| l.try_release(wait))
        .collect();
    LINGERING.with(|v| v.borrow_mut().0.extend(still));
}

impl Lingering {
    /// Tries to finish the attach of a thread that did not stop in time, and detach it.
    /// Returns `None` when done (detached or gone), or `self` to be tried again later.
    fn try_release(self, wait: Duration) -> Option<Lingering> {
        let never = AtomicBool::new(false);
        let mut pending = self.pending;
        let mut armed = self.armed;
        match wait_for_stop(
            self.tid,
            self.method,
            Instant::now() + wait,
            &never,
            &mut pending,
            &mut armed,
        ) {
            Ok(()) => {
                detach(self.tid, &pending);
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

/// PTRACE_ATTACH, with the watchdog armed first: from this call until we have consumed the
/// SIGSTOP it queues, our death would leave that SIGSTOP to stop the whole process. Without
/// the guard the attach goes on all the same, and `unguarded` says why.
fn attach_with_sigstop(
    pid: Pid,
    unguarded: &mut Option<NoGuard>,
) -> Result<Option<Armed>, AttachError> {
    let (tgid, stopped) = process_of(pid.as_raw());
    let armed = Armed::arm(tgid, stopped);
    // On failure no SIGSTOP was queued: dropping `armed` disarms.
    ptrace::attach(pid).map_err(|e| classify("PTRACE_ATTACH", e))?;
    Ok(armed.unwrap_or_else(|why| {
        *unguarded = Some(why);
        None
    }))
}

/// The process of thread `tid`, and whether that thread is stopped (group stop) already.
fn process_of(tid: i32) -> (i32, bool) {
    let status = Status::read(tid).unwrap_or_default();
    let tgid = status.tgid.unwrap_or(tid);
    let stopped = status.state == Some('T');
    (tgid, stopped)
}

/// A stop (or the end) of a traced thread, as waitid reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Nothing to report yet.
    Nothing,
    /// A PTRACE_EVENT stop: with SEIZE, our interrupt or a group stop.
    Event,
    /// A signal-delivery stop (or, without SEIZE, a group stop) for this signal number.
    Signal(i32),
    /// The thread exited or was killed.
    Gone,
}

/// Looks at `pid`'s state change without waiting. With `keep` (WNOWAIT) the kernel keeps the
/// stop's signal: if we die before passing it on, the thread gets it when it is detached.
fn look(pid: Pid, keep: bool) -> Result<Seen, Errno> {
    let mut flags = libc::WEXITED | libc::WSTOPPED | libc::WNOHANG | libc::__WALL;
    if keep {
        flags |= libc::WNOWAIT;
    }
    // SAFETY: an all-zero siginfo_t is valid; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only into `info`.
    let rc = unsafe { libc::waitid(libc::P_PID, pid.as_raw() as libc::id_t, &mut info, flags) };
    if rc != 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fields of a SIGCHLD siginfo, which waitid filled (or left zero).
    let (who, status) = unsafe { (info.si_pid(), info.si_status()) };
    Ok(decode(who, info.si_code, status))
}

/// `status` of a ptrace stop is the tracee's exit_code: the signal, plus the event in bits
/// 8..16 for PTRACE_EVENT stops (real-time signals included, which nix cannot represent).
fn decode(who: libc::pid_t, code: i32, status: i32) -> Seen {
    if who == 0 {
        return Seen::Nothing;
    }
    match code {
        libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED => Seen::Gone,
        libc::CLD_TRAPPED | libc::CLD_STOPPED if status >> 8 != 0 => Seen::Event,
        libc::CLD_TRAPPED | libc::CLD_STOPPED => Seen::Signal(status & 0xff),
        _ => Seen::Nothing,
    }
}

fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

/// Waits until `pid` reports the stop our attach asked for. With SEIZE the first stop will
/// do; a signal it stopped for is noted in `pending`, to be passed on at detach. With ATTACH
/// the thread goes on, getting any other signal at once, until our SIGSTOP arrives; stop
/// signals (a group stop under way) are noted in `pending` instead, to keep them for after.
/// `armed` is dropped (disarmed) once our SIGSTOP is consumed.
fn wait_for_stop(
    pid: Pid,
    method: AttachMethod,
    deadline: Instant,
    cancel: &AtomicBool,
    pending: &mut Vec<i32>,
    armed: &mut Option<Armed>,
) -> Result<(), AttachError> {
    let mut polls: u32 = 0;
    let started = Instant::now();
    loop {
        match look(pid, true) {
            Ok(Seen::Nothing) => {
                let mut lingering = || Lingering {
                    tid: pid,
                    method,
                    pending: std::mem::take(pending),
                    armed: armed.take(),
                };
                if cancel.load(Ordering::Relaxed) {
                    return Err(AttachError::Cancelled(lingering()));
                }
                if Instant::now() >= deadline {
                    return Err(AttachError::Timeout(lingering()));
                }
                backoff(polls, started.elapsed());
                polls += 1;
            }
            // SEIZE: interrupt stop, or a group stop (the process was or got stopped). Its
            // exit_code, left in place, means nothing to the kernel if we die.
            Ok(Seen::Event) => return Ok(()),
            Ok(Seen::Signal(libc::SIGSTOP)) if method == AttachMethod::Attach => {
                // Consume it: from now on our death resumes the thread without a SIGSTOP.
                look(pid, false).map_err(|e| AttachError::Failed("waitid", e))?;
                *armed = None;
                return Ok(());
            }
            Ok(Seen::Signal(sig)) if method == AttachMethod::Seize => {
                // A signal-delivery stop is a ptrace stop too; the signal goes on at detach.
                pending.push(sig);
                return Ok(());
            }
            Ok(Seen::Signal(sig)) => {
                let deliver = if is_stop_signal(sig) {
                    pending.push(sig);
                    0
                } else {
                    sig
                };
                if resume(libc::PTRACE_CONT, pid, deliver) != 0 {
                    return Err(AttachError::Gone);
                }
            }
            Ok(Seen::Gone) | Err(Errno::ECHILD) => return Err(AttachError::Gone),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(AttachError::Failed("waitid", e)),
        }
    }
}

/// PTRACE_CONT or PTRACE_DETACH with a raw signal number (nix takes only the classic ones).
fn resume(request: libc::c_uint, pid: Pid, sig: i32) -> libc::c_long {
    // SAFETY: these requests read no memory of ours; `data` is the signal to deliver.
    unsafe {
        libc::ptrace(
            request,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            sig as libc::c_long as *mut libc::c_void,
        )
    }
}

/// Detaches, passing on the first pending signal with the detach and sending any others.
fn detach(tid: Pid, pending: &[i32]) {
    // ESRCH: the thread died while stopped (e.g. SIGKILL); nothing left to resume.
    resume(
        libc::PTRACE_DETACH,
        tid,
        pending.first().copied().unwrap_or(0),
    );
    reinject(tid, pending.get(1..).unwrap_or_default());
}

/// Polling keeps the wait bounded; a parked thread stops within tens of microseconds, so spin
/// briefly before sleeping. The sleeps stay short: a thread queued behind other load stops
/// only once it gets a CPU (after hundreds of milliseconds under a CPU hog on a busy box),
/// and from then on every microsecond we take to notice stretches its stop (sleeps of up to
/// 1 ms made stops of 1-1.5 ms under a hog). After the first scheduler slices they grow to
/// 250 µs, which bounds the polling of a thread that does not stop (state D) to ~4000 a second.
fn backoff(polls: u32, waited: Duration) {
    if polls < 32 {
        std::thread::yield_now();
    } else {
        let cap = if waited < SHORT_SLEEPS_FOR { 50 } else { 250 };
        let micros = 10u64 << (polls - 32).min(5);
        std::thread::sleep(Duration::from_micros(micros.min(cap)));
    }
}

/// How long the wait for a stop polls at least every 50 µs: a few scheduler slices.
const SHORT_SLEEPS_FOR: Duration = Duration::from_millis(20);

/// Sends signals back to a thread after we took them from it (tgkill to the thread itself).
fn reinject(tid: Pid, signals: &[i32]) {
    if signals.is_empty() {
        return;
    }
    let (tgid, _) = process_of(tid.as_raw());
    for &sig in signals {
        // SAFETY: tgkill takes plain integers and has no memory effects on our side.
        unsafe {
            libc::syscall(libc::SYS_tgkill, tgid, tid.as_raw(), sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_kind_of_stop() {
        let event_stop = libc::SIGTRAP | (libc::PTRACE_EVENT_STOP << 8);
        assert_eq!(decode(0, 0, 0), Seen::Nothing);
        assert_eq!(decode(7, libc::CLD_TRAPPED, event_stop), Seen::Event);
        assert_eq!(
            decode(7, libc::CLD_TRAPPED, libc::SIGSTOP),
            Seen::Signal(libc::SIGSTOP)
        );
        // Real-time signals, which nix's WaitStatus rejects with EINVAL.
        assert_eq!(
            decode(7, libc::CLD_TRAPPED, libc::SIGRTMIN() + 3),
            Seen::Signal(libc::SIGRTMIN() + 3)
        );
        assert_eq!(decode(7, libc::CLD_EXITED, 0), Seen::Gone);
        assert_eq!(decode(7, libc::CLD_KILLED, libc::SIGKILL), Seen::Gone);
        assert_eq!(decode(7, libc::CLD_CONTINUED, libc::SIGCONT), Seen::Nothing);
    }
}
