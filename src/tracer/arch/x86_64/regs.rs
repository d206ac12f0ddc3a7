//! x86_64 registers: libunwind's numbering (RAX, RDX, RCX, RBX, RSI, RDI, RBP, RSP, R8–R15,
//! RIP), what a ptrace stop's `user_regs_struct` holds in it, and the Linux system call
//! convention (number in `orig_rax`, arguments in RDI, RSI, RDX, R10, R8, R9, return in RAX).

use nix::libc::user_regs_struct;

/// How many registers a capture holds.
pub const REG_COUNT: usize = 17;
pub const RAX: usize = 0;
pub const RDX: usize = 1;
pub const RCX: usize = 2;
pub const RSI: usize = 4;
pub const RDI: usize = 5;
pub const RSP: usize = 7;
pub const R8: usize = 8;
pub const R9: usize = 9;
pub const R10: usize = 10;
pub const RIP: usize = 16;

/// The registers that carry a system call's six arguments, in order.
pub const SYSCALL_ARGS: [usize; 6] = [RDI, RSI, RDX, R10, R8, R9];

/// The `syscall` instruction: the two bytes before a thread's PC just after a call.
pub const SYSCALL_INSN: [u8; 2] = [0x0f, 0x05];

/// Every register of a ptrace stop, in libunwind's numbering.
pub fn from_ptrace(r: &user_regs_struct) -> [u64; REG_COUNT] {
    [
        r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12,
        r.r13, r.r14, r.r15, r.rip,
    ]
}

/// The registers known of a thread blocked in a system call, from `/proc/TID/syscall`: the
/// PC and SP, the arguments, and RCX (where `syscall` leaves the return address). The
/// callee-saved ones are unknown.
pub fn blocked(pc: u64, sp: u64, args: [u64; 6]) -> [Option<u64>; REG_COUNT] {
    let mut regs = [None; REG_COUNT];
    regs[RIP] = Some(pc);
    regs[RSP] = Some(sp);
    regs[RCX] = Some(pc);
    for (reg, value) in SYSCALL_ARGS.into_iter().zip(args) {
        regs[reg] = Some(value);
    }
    regs
}

/// What a ptrace stop's registers say about a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallRegs {
    /// The call the thread is in; negative when it was stopped in user code.
    pub number: i64,
    pub args: [u64; 6],
    /// What the call returns (meaningful only when `number` is not negative).
    pub ret: i64,
    /// True when RCX equals RIP: the mark `syscall` leaves, so the thread may have just
    /// returned from one.
    pub pc_in_rcx: bool,
    pub pc: u64,
}

impl SyscallRegs {
    pub fn of(r: &user_regs_struct) -> SyscallRegs {
        SyscallRegs {
            number: r.orig_rax as i64,
            args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9],
            ret: r.rax as i64,
            pc_in_rcx: r.rcx == r.rip,
            pc: r.rip,
        }
    }
}
