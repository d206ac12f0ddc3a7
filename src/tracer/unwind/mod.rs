//! Walking captured stacks into raw frames: libunwind over a copy or through ptrace, the unwind
//! tables built for modules without `.eh_frame_hdr`, and how each walk ends ([`StackEnd`]).
//! Every walk is bounded (frame limit, repeats, non-executable IPs, an SP that goes backwards).
//!
//! [`StackEnd`]: crate::tracer::StackEnd

pub(crate) mod cfi_index;
pub(crate) mod ends;
pub(crate) mod frameless;
pub mod sigmask;
pub(crate) mod trampoline;
pub(crate) mod unwinder;
