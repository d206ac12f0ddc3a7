//! The frames pane (the lower pane: the selected thread's or goroutine's stack): which frame
//! is selected, and the first one shown. It goes back to the top when another thread, group or
//! goroutine is selected.

use crate::app::Move;

/// The selected frame, innermost first.
#[derive(Debug, Clone, Default)]
pub struct FramesPane {
    selected: usize,
    offset: usize,
}

impl FramesPane {
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The first frame shown.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The first frame shown follows the selection in a stack of `len`, `height` rows shown.
    pub(super) fn follow(&mut self, len: usize, height: usize) {
        let selected = (len > 0).then_some(self.selected);
        self.offset = crate::app::scroll::follow(self.offset, selected, len, height);
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
