//! Go binaries: `.gopclntab` (names, lines and frame sizes, even when stripped), where the
//! runtime keeps its goroutines and the layout of `runtime.g`, and the goroutine list read from
//! a live process. Every read of the binary or the process is bounded.

pub mod golayout;
pub(crate) mod gopclntab;
pub(crate) mod goroutines;
pub(crate) mod gostripped;
