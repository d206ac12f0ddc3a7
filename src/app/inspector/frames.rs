//! The frames pane (the lower pane: the selected thread's or goroutine's stack): which frame
//! is selected, the first one shown, and how far its symbols are scrolled to the left. All go
//! back to the start when another thread, group or goroutine is selected.

use crate::app::Move;

/// Columns one `←`/`→` scrolls the symbols.
pub const SCROLL_STEP: usize = 32;

/// The selected frame, innermost first, and the symbols' horizontal scroll.
#[derive(Debug, Clone, Default)]
pub struct FramesPane {
    selected: usize,
    offset: usize,
    scroll: usize,
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

    /// Columns the symbols are scrolled to the left.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    pub(super) fn reset(&mut self) {
        self.selected = 0;
        self.scroll = 0;
    }

    /// Scrolls the symbols one step right (`right`) or left, no further than the widest
    /// symbol, `widest` columns (the render shows each symbol's tail at most).
    pub(super) fn scroll_by(&mut self, right: bool, widest: usize) {
        self.scroll = if right {
            (self.scroll + SCROLL_STEP).min(widest.saturating_sub(SCROLL_STEP / 2))
        } else {
            self.scroll.saturating_sub(SCROLL_STEP)
        };
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
