//! The tracer's thread at SCHED_FIFO while it holds threads stopped, and only then: a tracer
//! preempted by ordinary (CFS) load while a thread is stopped stretches that stop by a
//! scheduler slice (milliseconds). [`Raised`] puts the previous policy back when dropped.
//! While it waits for a thread to stop the raised thread still sleeps between polls (see
//! `attach::backoff`), so a thread queued on our CPU gets to run into its stop.

use nix::errno::Errno;

/// The real-time priority the holding thread runs at: the lowest, which is enough to preempt
/// every ordinary task and leaves the kernel's own real-time threads above us.
const FIFO_PRIORITY: libc::c_int = 1;

/// How the tracer ran while it held threads stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StopPriority {
    /// No thread was stopped.
    #[default]
    NoStop,
    /// At SCHED_FIFO: ordinary load could not preempt it while it held a thread.
    Raised,
    /// Already real-time: left as it was.
    AlreadyRealTime,
    /// At its own priority: the kernel refused SCHED_FIFO (no CAP_SYS_NICE, RLIMIT_RTPRIO 0).
    NotPermitted,
}

/// This thread's scheduling policy (with its flags, e.g. SCHED_RESET_ON_FORK) and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub policy: libc::c_int,
    pub priority: libc::c_int,
}

impl Policy {
    /// The calling thread's policy.
    pub fn current() -> Result<Policy, Errno> {
        // SAFETY: 0 names the calling thread; sched_getscheduler reads no memory of ours.
        let policy = unsafe { libc::sched_getscheduler(0) };
        if policy < 0 {
            return Err(Errno::last());
        }
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: writes only `param`.
        if unsafe { libc::sched_getparam(0, &mut param) } != 0 {
            return Err(Errno::last());
        }
        Ok(Policy {
            policy,
            priority: param.sched_priority,
        })
    }

    /// Sets the calling thread's policy (sched_setscheduler keeps its nice value).
    fn set(self) -> Result<(), Errno> {
        let param = libc::sched_param {
            sched_priority: self.priority,
        };
        // SAFETY: 0 names the calling thread; `param` is only read.
        if unsafe { libc::sched_setscheduler(0, self.policy, &param) } != 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    fn is_real_time(self) -> bool {
        let base = self.policy & !libc::SCHED_RESET_ON_FORK;
        base == libc::SCHED_FIFO || base == libc::SCHED_RR
    }
}

/// The calling thread raised to SCHED_FIFO (when permitted) until this is dropped, on every
/// path: return, error, panic. Not `Send`: it must drop on the thread it raised.
#[derive(Debug)]
pub struct Raised {
    /// What to put back, if we changed anything.
    saved: Option<Policy>,
    outcome: StopPriority,
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl Raised {
    /// Raises the calling thread. Falls back silently to its own priority when refused; the
    /// outcome says which.
    pub fn raise() -> Raised {
        let (saved, outcome) = match Policy::current() {
            Ok(p) if p.is_real_time() => (None, StopPriority::AlreadyRealTime),
            Ok(p) => {
                // Reset on fork: a child forked meanwhile (the watchdog, forked by an attach)
                // lives on after the hold and must not inherit real-time priority.
                let fifo = Policy {
                    policy: libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK,
                    priority: FIFO_PRIORITY,
                };
                match fifo.set() {
                    Ok(()) => (Some(p), StopPriority::Raised),
                    Err(_) => (None, StopPriority::NotPermitted),
                }
            }
            Err(_) => (None, StopPriority::NotPermitted),
        };
        Raised {
            saved,
            outcome,
            _this_thread: std::marker::PhantomData,
        }
    }

    pub fn outcome(&self) -> StopPriority {
        self.outcome
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        if let Some(p) = self.saved.take() {
            // Lowering our own priority is always permitted.
            let _ = p.set();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_only_while_held_and_restored_after() {
        // On a thread of its own: the policy is per thread, and the test harness's threads
        // must not be left changed if an assertion fails.
        std::thread::spawn(|| {
            let before = Policy::current().unwrap();
            assert_eq!(
                before.policy & !libc::SCHED_RESET_ON_FORK,
                libc::SCHED_OTHER
            );
            {
                let raised = Raised::raise();
                let during = Policy::current().unwrap();
                match raised.outcome() {
                    StopPriority::Raised => {
                        assert_eq!(during.policy & !libc::SCHED_RESET_ON_FORK, libc::SCHED_FIFO);
                        assert_eq!(during.priority, FIFO_PRIORITY);
                    }
                    StopPriority::NotPermitted => assert_eq!(during, before),
                    other => panic!("unexpected outcome {other:?}"),
                }
            }
            assert_eq!(Policy::current().unwrap(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_real_time_thread_is_left_as_it_was() {
        std::thread::spawn(|| {
            let rr = Policy {
                policy: libc::SCHED_RR,
                priority: 5,
            };
            if rr.set().is_err() {
                return; // Not permitted here: nothing to check.
            }
            {
                let raised = Raised::raise();
                assert_eq!(raised.outcome(), StopPriority::AlreadyRealTime);
                assert_eq!(Policy::current().unwrap(), rr);
            }
            assert_eq!(Policy::current().unwrap(), rr);
        })
        .join()
        .unwrap();
    }
}
