//! Stopping threads and always resuming them: ptrace seize/interrupt or attach per thread, and
//! the forked watchdog that undoes an attach's SIGSTOP if the tracer dies before consuming it.
//! Invariant: every thread stopped here is resumed on every path (error, cancel, panic, kill).
//! While threads are held, the tracer runs at a raised priority, and only then.

pub(crate) mod attach;
pub(crate) mod priority;
pub(crate) mod watchdog;
