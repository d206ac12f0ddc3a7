//! Stopping threads and always resuming them: ptrace seize/interrupt or attach per thread, and
//! the forked watchdog that undoes an attach's SIGSTOP if the tracer dies before consuming it.
//! Invariant: every thread stopped here is resumed on every path (error, cancel, panic, kill).

pub(crate) mod attach;
pub(crate) mod watchdog;
