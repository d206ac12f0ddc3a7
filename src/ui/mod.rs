//! Rendering of the interactive inspector: one module per pane or overlay.
//!
//! Not built yet: the interactive inspector is issue #3.
