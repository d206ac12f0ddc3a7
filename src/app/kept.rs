//! The process views left with Esc, kept by pid and start time so that going back into a
//! process shows its history (snapshots, SAME runs, views) again. Bounded: a few processes,
//! and no more frames in all than one history may hold; the least recently left go first.

use std::collections::VecDeque;

use super::history::HISTORY_FRAMES;
use super::inspector::Inspector;

/// Processes whose views are kept.
pub const KEPT_PROCESSES: usize = 8;

/// The views left, least recently left first.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    left: VecDeque<Inspector>,
}

impl Kept {
    /// Keeps a view that was left. One whose process start time is unknown cannot be told
    /// from a later process of the same pid, so it is not kept.
    pub(super) fn keep(&mut self, inspector: Inspector) {
        if inspector.started().is_none() || inspector.history().is_empty() {
            return;
        }
        self.left.retain(|i| i.pid() != inspector.pid());
        self.left.push_back(inspector);
        let mut frames: usize = self.left.iter().map(|i| i.history().frames()).sum();
        while self.left.len() > KEPT_PROCESSES || (self.left.len() > 1 && frames > HISTORY_FRAMES) {
            if let Some(old) = self.left.pop_front() {
                frames -= old.history().frames();
            }
        }
    }

    /// The view kept for `pid`, if it is of the same process (started at `start`); a view of
    /// an earlier process of that pid is dropped.
    pub(super) fn take(&mut self, pid: u32, start: u64) -> Option<Inspector> {
        let at = self.left.iter().position(|i| i.pid() == pid)?;
        let kept = self.left.remove(at)?;
        (kept.started() == Some(start)).then_some(kept)
    }

    /// How many views are kept.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }
}
