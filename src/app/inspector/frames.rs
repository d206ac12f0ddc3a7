//! The frames pane (the lower pane: the selected thread's or goroutine's stack): which frame
//! is selected. It goes back to the top when another thread, group or goroutine is selected.

use crate::app::Move;

/// The selected frame, innermost first.
#[derive(Debug, Clone, Default)]
pub struct FramesPane {
    selected: usize,
}

impl FramesPane {
    pub fn selected(&self) -> usize {
        self.selected
    }

    pub(super) fn reset(&mut self) {
        self.selected = 0;
    }

    /// Keeps the selection within a stack of `len` frames.
    pub(super) fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    pub(super) fn move_selection(&mut self, m: Move, len: usize) {
        if let Some(i) = m.apply(Some(self.selected), len) {
            self.selected = i;
        }
    }
}
