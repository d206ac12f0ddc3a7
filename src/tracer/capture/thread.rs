//! A thread captured for a later unwind: its registers and a copy of its live stack. Taken in a
//! ptrace stop (then the thread resumes at once), or, for a thread blocked in a system call,
//! without stopping it: the kernel shows where it entered the call, and the scheduler's record
//! proves it did not run while we copied.

use nix::sys::ptrace;
use nix::unistd::Pid;

use crate::tracer::arch::native::regs::{self, REG_COUNT};
use crate::tracer::capture::atstop::AtStop;
use crate::tracer::failures::ThreadError;
use crate::tracer::memory::RemoteMemory;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::procfs::procinfo::BlockedAt;

/// How a thread was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// In a ptrace stop: every register is known.
    Stopped,
    /// Blocked in a system call, never stopped: only the registers the kernel shows are known.
    Blocked,
}

/// A copy of the top of a thread's stack.
#[derive(Debug, Default)]
pub struct StackCopy {
    /// The address of `bytes[0]` (the stack pointer).
    pub start: u64,
    pub bytes: Vec<u8>,
    /// The stack's mapping: a read inside it but past the copy means the copy was too short.
    pub region: Option<(u64, u64)>,
}

impl StackCopy {
    /// The address one past the copy.
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// A thread's registers (those known) and stack, ready to unwind while the thread runs on.
#[derive(Debug)]
pub struct Capture {
    pub regs: [Option<u64>; REG_COUNT],
    pub stack: StackCopy,
    pub how: How,
    /// Where a ptrace stop found the thread (`None` for a thread captured without one).
    pub at_stop: Option<AtStop>,
}

impl Capture {
    /// Captures thread `tid`, which must be in a ptrace stop we hold.
    pub fn stopped(tid: i32, maps: &MemoryMaps, limit: usize) -> Result<Capture, ThreadError> {
        let r = ptrace::getregs(Pid::from_raw(tid))
            .map_err(|e| ThreadError::Registers { errno: e as i32 })?;
        let values = regs::from_ptrace(&r);
        Ok(Capture {
            regs: values.map(Some),
            stack: copy_stack(tid, values[regs::RSP], maps, limit),
            how: How::Stopped,
            at_stop: Some(AtStop::from_regs(&r)),
        })
    }

    /// Captures thread `tid`, blocked in the system call `at`, without stopping it. The caller
    /// must check that the thread did not run meanwhile (see `procinfo::run_record`).
    pub fn blocked(tid: i32, at: &BlockedAt, maps: &MemoryMaps, limit: usize) -> Capture {
        // The callee-saved registers are unknown: a walk that needs one falls back to
        // stopping the thread.
        let regs = regs::blocked(at.pc, at.sp, at.args);
        Capture {
            regs,
            stack: copy_stack(tid, at.sp, maps, limit),
            how: How::Blocked,
            at_stop: None,
        }
    }
}

impl Capture {
    /// A thread of a core file mounted as `source` (see `memory::mount`): every register the
    /// core recorded, and its stack copied from the core.
    pub fn from_core(
        source: i32,
        r: &libc::user_regs_struct,
        maps: &MemoryMaps,
        limit: usize,
    ) -> Capture {
        let values = regs::from_ptrace(r);
        Capture {
            regs: values.map(Some),
            stack: copy_stack(source, values[regs::RSP], maps, limit),
            how: How::Stopped,
            at_stop: None,
        }
    }
}

/// Copies the stack of `tid` from `sp` up to the end of its mapping, at most `limit` bytes.
fn copy_stack(tid: i32, sp: u64, maps: &MemoryMaps, limit: usize) -> StackCopy {
    let region = maps.region(sp);
    let want = match region {
        Some((_, end)) => (end - sp).min(limit as u64) as usize,
        None => limit,
    };
    let mut bytes = vec![0u8; want];
    let memory = RemoteMemory::new(tid);
    let got = match memory.read_once(sp, &mut bytes) {
        Some(n) => n,
        // The mapping changed since we read the maps, or we never knew it: copy page by page,
        // so the read stops at the first unmapped page instead of failing whole.
        None => memory.read_pages(sp, &mut bytes),
    };
    bytes.truncate(got);
    StackCopy {
        start: sp,
        bytes,
        region,
    }
}
