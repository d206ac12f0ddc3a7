//! Pure analysis of traced processes: snapshot diffs, groups of identical stacks, what blocked
//! threads wait for, mutex owners and deadlock cycles. Only `waits` and `mutex` read the target
//! (after it resumed); the rest are functions of [`Process`] values.
//!
//! [`Process`]: crate::tracer::Process

pub mod diff;
pub mod equal_stacks;
pub mod group;
pub(crate) mod mutex;
pub(crate) mod waits;
