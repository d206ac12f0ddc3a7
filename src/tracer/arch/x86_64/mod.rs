//! x86_64 Linux facts: register numbering and the system call convention, and system call
//! names.

pub(crate) mod regs;
pub(crate) mod syscalls;
