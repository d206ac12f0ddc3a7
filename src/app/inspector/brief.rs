//! Moving through the frames pane when it shows a stack's brief form (`b`): the selection is a
//! frame of the whole stack, moved among the frames shown, and kept (or put on the nearest
//! frame shown) when the form changes; the marker rows are never selected.

use crate::app::Move;
use crate::describe::brief::Row;

/// The frames `rows` shows, in order.
fn shown(rows: &[Row]) -> Vec<usize> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Frame(i) => Some(*i),
            Row::Hidden(_) => None,
        })
        .collect()
}

/// The row that shows frame `frame` (0 when none does).
pub fn row_of(rows: &[Row], frame: usize) -> usize {
    rows.iter()
        .position(|r| *r == Row::Frame(frame))
        .unwrap_or(0)
}

/// `selected` if `rows` shows it, else the nearest frame shown (the inner one on a tie).
pub fn nearest(rows: &[Row], selected: usize) -> usize {
    shown(rows)
        .into_iter()
        .min_by_key(|i| (i.abs_diff(selected), *i))
        .unwrap_or(0)
}

/// The frame `m` moves to from `selected`, among the frames shown.
pub fn step(rows: &[Row], selected: usize, m: Move) -> Option<usize> {
    let frames = shown(rows);
    let current = frames.iter().position(|i| *i == selected);
    m.apply(current, frames.len()).map(|k| frames[k])
}

/// The frame of row `row` (a click): a marker row stands for the frame after it.
pub fn frame_at(rows: &[Row], row: usize) -> Option<usize> {
    rows.iter()
        .skip(row.min(rows.len().saturating_sub(1)))
        .find_map(|r| match r {
            Row::Frame(i) => Some(*i),
            Row::Hidden(_) => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Row::{Frame, Hidden};

    #[test]
    fn the_selection_moves_among_the_frames_shown_and_keeps_to_the_nearest() {
        // Frames 0 and 1 shown, 2..=4 left out, 5 and 6 shown.
        let rows = [Frame(0), Frame(1), Hidden(3), Frame(5), Frame(6)];
        assert_eq!(step(&rows, 1, Move::Down(1)), Some(5));
        assert_eq!(step(&rows, 5, Move::Up(1)), Some(1));
        assert_eq!(step(&rows, 0, Move::To(usize::MAX)), Some(6));
        assert_eq!(step(&[], 0, Move::Down(1)), None);
        // A hidden frame's nearest shown one; equally far, the inner one.
        assert_eq!(
            (nearest(&rows, 2), nearest(&rows, 4), nearest(&rows, 3)),
            (1, 5, 1)
        );
        assert_eq!(nearest(&rows, 6), 6);
        assert_eq!((row_of(&rows, 5), row_of(&rows, 3)), (3, 0));
        // A click on the marker selects the frame after it; past the end, the last.
        assert_eq!(frame_at(&rows, 2), Some(5));
        assert_eq!(frame_at(&rows, 1), Some(1));
        assert_eq!(frame_at(&rows, 99), Some(6));
        assert_eq!(frame_at(&[], 0), None);
    }
}
