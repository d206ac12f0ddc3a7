//! Application state of the interactive inspector and the only place it changes.
//!
//! Not built yet: the interactive inspector is issue #3. Until then the binary offers the
//! non-interactive `dump` command only.
