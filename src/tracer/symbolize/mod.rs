//! Addresses to names and source lines: per-module ELF symbol tables, separate debuginfo, DWARF
//! lines and inlined calls, the on-disk line cache and its directory, the file bytes they share,
//! and demangling. Every file read here came from the target: opened in its root, bounded.

pub(crate) mod cachedir;
pub(crate) mod debuginfo;
pub(crate) mod demangle;
pub(crate) mod elfparts;
pub(crate) mod filebytes;
pub(crate) mod linecache;
pub(crate) mod lines;
pub(crate) mod perfmap;
pub(crate) mod symbols;
