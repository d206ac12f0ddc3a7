//! What depends on the instruction set, behind `native`: the rest of the tracer names
//! `arch::native::regs::RIP`, never x86_64. Only x86_64 exists today; a second architecture
//! is a sibling module with the same items, chosen here.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rstack-tui traces x86_64 processes and builds for x86_64 only");

pub(crate) mod x86_64;

pub(crate) use x86_64 as native;
