//! Where the follow key (`H`) and the chain view's Enter came from: a bounded stack of places
//! (process, view, selected thread, first row shown) that Backspace returns to, one a press.

use super::inspector::View;

/// Places kept: following further drops the oldest.
pub const PLACES: usize = 16;

/// One place in the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub pid: u32,
    pub view: View,
    pub tid: Option<u32>,
    /// The upper pane's first shown row.
    pub offset: usize,
}

/// The places left by following, newest last.
#[derive(Debug, Clone, Default)]
pub struct Places {
    stack: Vec<Place>,
}

impl Places {
    pub(super) fn push(&mut self, place: Place) {
        if self.stack.len() >= PLACES {
            self.stack.remove(0);
        }
        self.stack.push(place);
    }

    pub(super) fn pop(&mut self) -> Option<Place> {
        self.stack.pop()
    }

    /// How many places Backspace can go back to.
    pub fn len(&self) -> usize {
        self.stack.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_is_bounded_and_the_oldest_goes_first() {
        let mut p = Places::default();
        for pid in 0..PLACES as u32 + 4 {
            p.push(Place {
                pid,
                view: View::Threads,
                tid: None,
                offset: 0,
            });
        }
        assert_eq!(p.len(), PLACES);
        assert_eq!(p.pop().map(|x| x.pid), Some(PLACES as u32 + 3));
        let mut last = None;
        while let Some(x) = p.pop() {
            last = Some(x.pid);
        }
        assert_eq!(last, Some(4), "the four oldest were dropped");
    }
}
