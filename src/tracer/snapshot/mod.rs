//! The versioned JSON form of a traced process and saved snapshot files: what `dump --json`
//! writes and `load`/`diff` read back. Loaded files are untrusted: bounded before parsing.

mod chaindoc;
pub mod schema;
pub mod snapfile;
