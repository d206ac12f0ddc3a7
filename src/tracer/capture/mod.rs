//! Taking a thread's state for a later unwind: registers and a bounded stack copy (in a stop, or
//! without one for a thread blocked in a system call), and what the registers say the thread
//! was doing at that moment. Nothing here symbolizes or unwinds.

pub(crate) mod atstop;
pub(crate) mod thread;
