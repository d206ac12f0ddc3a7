//! Where each scrolled list starts: its first shown row, kept in the app state so that the
//! render draws from it and a click maps to the row under the pointer, not to a row counted
//! from the top of the list.

/// Rows each list shows, from the layout of the last frame drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// The main list (the process list, or the inspector's upper pane).
    pub list: usize,
    /// The frames pane.
    pub frames: usize,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            list: 10,
            frames: 10,
        }
    }
}

/// The first row to show of a list of `len` rows, `height` of them visible, from the last
/// one: moved only as far as brings `selected` into view, as ratatui's tables do, so the
/// view and a click's mapping agree.
pub fn follow(offset: usize, selected: Option<usize>, len: usize, height: usize) -> usize {
    let height = height.max(1);
    let mut offset = offset.min(len.saturating_sub(1));
    if let Some(sel) = selected.filter(|_| len > 0).map(|s| s.min(len - 1)) {
        if sel < offset {
            offset = sel;
        } else if sel >= offset + height {
            offset = sel + 1 - height;
        }
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::follow;

    #[test]
    fn the_view_moves_only_as_far_as_the_selection_needs() {
        // 100 rows, 10 shown: at the top nothing moves.
        assert_eq!(follow(0, Some(9), 100, 10), 0);
        // One past the bottom: one row down, not a page.
        assert_eq!(follow(0, Some(10), 100, 10), 1);
        assert_eq!(follow(0, Some(99), 100, 10), 90);
        // Moving up inside the view keeps it; above it, the selection becomes the top row.
        assert_eq!(follow(90, Some(95), 100, 10), 90);
        assert_eq!(follow(90, Some(42), 100, 10), 42);
        // A list that shrank: the offset stays within it.
        assert_eq!(follow(90, None, 5, 10), 4);
        assert_eq!(follow(7, None, 0, 10), 0);
        // A zero height is one row.
        assert_eq!(follow(0, Some(3), 10, 0), 3);
    }
}
