//! Core files (from the kernel, `gcore` or `systemd-coredump`, plain or zstd/xz/lz4
//! compressed) read as a capture source: each thread's registers, the process's file mappings
//! and its memory. A core is hostile input: every size and count is checked against the file
//! and bounded, nothing is memory-mapped.

mod buildid;
mod compressed;
mod elf;
mod file;
mod findexe;
mod maps;
mod memory;
mod notes;

pub(crate) use buildid::build_id_at;
pub use file::{Core, CoreError, CoreThread, MappedFile, Segment};
pub(crate) use maps::maps;
pub(crate) use memory::CoreMemory;
