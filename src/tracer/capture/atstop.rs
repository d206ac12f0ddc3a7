//! What a thread was doing at the moment a ptrace stop caught it, read from its registers, and
//! its `/proc` facts brought in line with that: the state read just before the stop can be
//! stale by the capture (a thread seen running is caught asleep in `clock_nanosleep`).

use nix::libc::user_regs_struct;
use nix::sys::ptrace;
use nix::unistd::Pid;

use crate::tracer::analysis::waits;
use crate::tracer::arch::native::regs::{SYSCALL_INSN, SyscallRegs};
use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::{Leaving, Syscall, ThreadFacts};

/// Where the stop found the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtStop {
    /// In user code: running (or runnable).
    User,
    /// Asleep in a system call that the stop interrupted (it returns a restart code or EINTR
    /// to be restarted or reported after the stop): sleeping.
    Interrupted(Call),
    /// Leaving a system call that had returned: running, its innermost frame still at the call.
    Returning(Call),
    /// In user code at `rip`, which RCX still equals: the `syscall` instruction sets RCX to its
    /// return address, so the thread may be just back from a call and not yet past the
    /// instruction after it (confirmed by the code before `rip`, see [`settle`]).
    AfterCall(u64),
}

/// A system call and its arguments, as the registers hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub number: i64,
    pub args: [u64; 6],
}

/// -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK and -EINTR: what a
/// system call interrupted in its sleep returns, as the registers show it during the stop.
const INTERRUPTED: [i64; 5] = [-512, -513, -514, -516, -4];

impl AtStop {
    /// From the registers of a thread in a ptrace stop ([`SyscallRegs`]): the system call the
    /// thread is in (-1 when it was stopped in user code) and what that call returns.
    pub fn from_regs(r: &user_regs_struct) -> AtStop {
        let r = SyscallRegs::of(r);
        if r.number < 0 {
            return if r.pc_in_rcx {
                AtStop::AfterCall(r.pc)
            } else {
                AtStop::User
            };
        }
        let call = Call {
            number: r.number,
            args: r.args,
        };
        if INTERRUPTED.contains(&r.ret) {
            AtStop::Interrupted(call)
        } else {
            AtStop::Returning(call)
        }
    }

    /// Reads the registers of thread `tid`, which must be in a ptrace stop we hold.
    pub fn read(tid: i32) -> Option<AtStop> {
        ptrace::getregs(Pid::from_raw(tid))
            .ok()
            .map(|r| AtStop::from_regs(&r))
    }
}

/// Brings `facts` (read from `/proc` just before the stop) in line with `at`, what the stop
/// found: the state, the system call and its decoded wait become those of the capture, the
/// earlier state is kept in `state_before` when it differs, and what was read for another
/// state (wchan, kernel stack) is dropped. Only the running and sleeping states are refined:
/// a stopped, traced or zombie thread keeps its state. Call after the thread runs again (a
/// thread stopped just after a call has the two bytes before its `rip` read, to confirm the
/// `syscall` instruction).
pub fn settle(pid: i32, facts: &mut ThreadFacts, at: AtStop) {
    let Some(before) = facts.state.filter(|s| matches!(s, 'R' | 'S' | 'D')) else {
        return;
    };
    let (state, syscall, leaving) = match at {
        AtStop::User => ('R', None, None),
        AtStop::AfterCall(rip) => {
            let mut code = [0u8; 2];
            let after_call = rip.checked_sub(2).is_some_and(|at| {
                RemoteMemory::new(pid).read_exact(at, &mut code) && code == SYSCALL_INSN
            });
            ('R', None, after_call.then_some(Leaving { call: None }))
        }
        AtStop::Interrupted(c) => ('S', Some(syscall(c)), None),
        AtStop::Returning(c) => (
            'R',
            None,
            Some(Leaving {
                call: Some(syscall(c)),
            }),
        ),
    };
    let same_call = facts.syscall == syscall;
    if state == before && same_call && leaving.is_none() {
        return;
    }
    if state != before {
        facts.state = Some(state);
        facts.state_before = Some(before);
        facts.kernel_stack.clear();
    }
    if !same_call || leaving.is_some() {
        facts.wait = syscall.as_ref().map(|sc| waits::describe(pid, sc));
        facts.syscall = syscall;
        facts.wchan = None;
    }
    facts.leaving = leaving;
}

fn syscall(c: Call) -> Syscall {
    Syscall {
        number: c.number,
        args: c.args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(orig_rax: i64, rax: i64) -> user_regs_struct {
        // SAFETY: user_regs_struct is plain integers; all zeroes is a valid value.
        let mut r: user_regs_struct = unsafe { std::mem::zeroed() };
        r.orig_rax = orig_rax as u64;
        r.rax = rax as u64;
        r.rdi = 1;
        r.r10 = 4;
        r.rip = 0x40_2000;
        r
    }

    const SLEEP: Call = Call {
        number: 230,
        args: [1, 0, 0, 4, 0, 0],
    };

    #[test]
    fn registers_tell_where_the_stop_found_the_thread() {
        assert_eq!(AtStop::from_regs(&regs(-1, 0x1234)), AtStop::User);
        // Back in user code with RCX still the syscall's return address.
        let mut back = regs(-1, 0);
        back.rip = 0x40_1000;
        back.rcx = 0x40_1000;
        assert_eq!(AtStop::from_regs(&back), AtStop::AfterCall(0x40_1000));
        for code in [-512, -513, -514, -516, -4] {
            assert_eq!(
                AtStop::from_regs(&regs(230, code)),
                AtStop::Interrupted(SLEEP),
                "{code}"
            );
        }
        assert_eq!(AtStop::from_regs(&regs(230, 0)), AtStop::Returning(SLEEP));
        assert_eq!(AtStop::from_regs(&regs(230, -22)), AtStop::Returning(SLEEP));
    }

    fn running() -> ThreadFacts {
        ThreadFacts {
            state: Some('R'),
            ..ThreadFacts::default()
        }
    }

    #[test]
    fn a_thread_seen_running_and_caught_asleep_is_sleeping() {
        let me = std::process::id() as i32;
        let mut f = running();
        settle(me, &mut f, AtStop::Interrupted(SLEEP));
        assert_eq!(f.state, Some('S'));
        assert_eq!(f.state_before, Some('R'));
        assert_eq!(f.syscall.as_ref().map(|s| s.number), Some(230));
        assert_eq!(f.wait.as_deref(), Some("clock_nanosleep(CLOCK_MONOTONIC)"));
        assert_eq!(f.leaving, None);
    }

    #[test]
    fn a_thread_seen_asleep_and_caught_running_is_running() {
        let me = std::process::id() as i32;
        let mut f = ThreadFacts {
            state: Some('S'),
            wchan: Some("futex_wait_queue".into()),
            syscall: Some(syscall(SLEEP)),
            wait: Some("clock_nanosleep(CLOCK_MONOTONIC)".into()),
            ..ThreadFacts::default()
        };
        let mut g = f.clone();
        settle(me, &mut f, AtStop::User);
        assert_eq!(f.state, Some('R'));
        assert_eq!(f.state_before, Some('S'));
        assert_eq!((f.syscall, f.wait, f.wchan), (None, None, None));
        // Caught on its way out of the call: running, leaving it.
        settle(me, &mut g, AtStop::Returning(SLEEP));
        assert_eq!(g.state, Some('R'));
        assert_eq!(g.state_before, Some('S'));
        assert_eq!(g.syscall, None);
        let call = g.leaving.and_then(|l| l.call).map(|s| s.number);
        assert_eq!(call, Some(230));
    }

    /// A `syscall` instruction followed by a `ret`, in our own memory.
    static CODE: [u8; 3] = [0x0f, 0x05, 0xc3];

    #[test]
    fn a_thread_at_the_instruction_after_a_syscall_is_just_back_from_one() {
        let me = std::process::id() as i32;
        let after = CODE.as_ptr() as u64 + 2;
        let mut f = running();
        settle(me, &mut f, AtStop::AfterCall(after));
        assert_eq!(f.state, Some('R'));
        assert_eq!(f.leaving, Some(Leaving { call: None }));
        // RCX equal to RIP by chance, not after a `syscall`: nothing to say.
        let mut g = running();
        settle(me, &mut g, AtStop::AfterCall(after + 1));
        assert_eq!(g, running());
    }

    #[test]
    fn what_still_holds_is_left_alone() {
        let me = std::process::id() as i32;
        let mut f = running();
        settle(me, &mut f, AtStop::User);
        assert_eq!(f, running());
        let mut stopped = ThreadFacts {
            state: Some('T'),
            ..ThreadFacts::default()
        };
        settle(me, &mut stopped, AtStop::Interrupted(SLEEP));
        assert_eq!(stopped.state, Some('T'));
        assert_eq!(stopped.state_before, None);
        assert_eq!(stopped.syscall, None);
    }
}
