//! What depends on the instruction set. Only x86_64 is supported today; a second architecture
//! adds a sibling module with the same items.

pub(crate) mod x86_64;
