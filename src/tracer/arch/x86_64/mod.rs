//! x86_64 Linux facts: system call numbers and names.

pub(crate) mod syscalls;
