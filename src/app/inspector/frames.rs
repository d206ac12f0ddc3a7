//! The frames pane (the lower pane: the selected thread's or goroutine's stack): which frame
//! is selected, the first row shown, how far its symbols are scrolled to the left (all back
//! to the start when another thread, group or goroutine is selected), and whether interpreter
//! threads show in brief (`b`, kept across threads).

/// Columns one `←`/`→` scrolls the symbols.
pub const SCROLL_STEP: usize = 32;

/// The selected frame, innermost first, and the symbols' horizontal scroll.
#[derive(Debug, Clone, Default)]
pub struct FramesPane {
    /// A frame of the whole stack (in brief, one of the frames shown).
    selected: usize,
    /// The first row shown (in brief, rows include the markers of left-out frames).
    offset: usize,
    scroll: usize,
    brief: bool,
}

impl FramesPane {
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The first row shown.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Whether interpreter threads show in brief.
    pub fn brief(&self) -> bool {
        self.brief
    }

    pub(super) fn set_brief(&mut self, brief: bool) {
        self.brief = brief;
    }

    /// Selects frame `i` of the whole stack.
    pub(super) fn select(&mut self, i: usize) {
        self.selected = i;
    }

    /// The first row shown follows the selected row, `selected` of `len` rows, `height` shown.
    pub(super) fn follow(&mut self, selected: usize, len: usize, height: usize) {
        let selected = (len > 0).then_some(selected);
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
}
