//! What `/proc` says about a target: whether it may be traced, its threads and their facts, its
//! memory maps, and the one way to open a file of the target (inside its root, regular files
//! only). Text from the target is made inert where it enters.

pub(crate) mod maps;
pub(crate) mod procinfo;
pub(crate) mod stat;
pub(crate) mod status;
pub(crate) mod targetfs;
