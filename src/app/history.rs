//! The inspected process's last snapshots, oldest first and bounded, with what the panes show
//! of them (groups, diff, verdicts, suspects) derived once: when a snapshot arrives, the
//! diff's older side moves or another snapshot is viewed (`<`/`>`), never on a draw.
//! Rendering only reads it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::profile::suspects::{Growth, Suspect, growth, suspects};
use crate::profile::verdict::{Tracker, Verdict};
use crate::tracer::diff::{Diff, StackRun, diff};
use crate::tracer::group::{Group, GroupChange, group, group_diff};
use crate::tracer::{Process, Thread};

/// Snapshots kept per inspected process.
pub const HISTORY: usize = 32;
/// Frames kept across the whole history: with very many threads fewer snapshots are kept, so
/// memory stays bounded (a frame costs a few hundred bytes).
pub const HISTORY_FRAMES: usize = 150_000;

/// The snapshots and their derived data.
#[derive(Debug, Clone)]
pub struct History {
    snapshots: VecDeque<Arc<Process>>,
    /// How many snapshots were dropped from the front: a snapshot's sequence number is this
    /// plus its index, so a viewed snapshot stays the same one as others arrive.
    dropped: u64,
    /// The snapshot viewed, by sequence number; None: the newest (live).
    viewed: Option<u64>,
    /// The old side of the diff: how many snapshots before the viewed one (1 = the previous).
    diff_back: usize,
    /// Groups of identical stacks in the viewed snapshot, largest first.
    groups: Vec<Group>,
    /// The diff of the older side against the viewed snapshot, when there is an older side.
    diff: Option<Diff>,
    /// How the group counts changed between the same two snapshots.
    group_changes: Vec<GroupChange>,
    /// Per thread of the newest snapshot: for how many snapshots, and since when, its stack
    /// has not changed (counted on past the snapshots kept), and its verdict over time.
    tracker: Tracker,
    /// The same for an older viewed snapshot, counted from the oldest snapshot kept.
    tracker_viewed: Option<Tracker>,
    /// Each thread's verdict as of the viewed snapshot.
    verdicts: HashMap<u32, Verdict>,
    /// The top suspects as of the viewed snapshot, most telling first.
    suspects: Vec<Suspect>,
    /// Groups whose size changed from the oldest snapshot kept to the viewed one.
    growth: Vec<Growth>,
    /// Threads of the snapshot before the viewed one that are gone from it.
    exited_threads: Vec<Thread>,
}

impl Default for History {
    fn default() -> Self {
        History {
            snapshots: VecDeque::new(),
            dropped: 0,
            viewed: None,
            diff_back: 1,
            groups: Vec::new(),
            diff: None,
            group_changes: Vec::new(),
            tracker: Tracker::default(),
            tracker_viewed: None,
            verdicts: HashMap::new(),
            suspects: Vec::new(),
            growth: Vec::new(),
            exited_threads: Vec::new(),
        }
    }
}

impl History {
    /// Adds the newest snapshot, drops the oldest beyond [`HISTORY`] snapshots or
    /// [`HISTORY_FRAMES`] frames (keeping two, for a diff), and derives the views anew.
    pub(super) fn push(&mut self, p: Arc<Process>) {
        self.tracker.push(&p);
        self.snapshots.push_back(p);
        let frames = |s: &Arc<Process>| -> usize {
            s.threads()
                .iter()
                .map(|th| th.frames().len())
                .sum::<usize>()
        };
        let mut kept: usize = self.snapshots.iter().map(frames).sum();
        while self.snapshots.len() > HISTORY || (self.snapshots.len() > 2 && kept > HISTORY_FRAMES)
        {
            if let Some(old) = self.snapshots.pop_front() {
                kept -= frames(&old);
                self.dropped += 1;
            }
        }
        match self.viewed {
            // An older snapshot stays on screen as it was, unless it was just dropped.
            Some(seq) if seq >= self.dropped => {}
            Some(_) => self.view(Some(self.dropped)),
            None => self.derive_viewed(),
        }
    }

    /// Views another snapshot: `older` steps back (negative: forward); stepping past the
    /// newest returns to it (live).
    pub(super) fn step(&mut self, older: isize) {
        let Some(newest) = self.snapshots.len().checked_sub(1) else {
            return;
        };
        let at = self.viewed_index().unwrap_or(newest);
        let to = at.saturating_add_signed(-older).min(newest);
        self.view((to < newest).then_some(self.dropped + to as u64));
    }

    /// Views the snapshot of sequence number `seq` (None: the newest) and derives its views.
    fn view(&mut self, seq: Option<u64>) {
        self.viewed = seq;
        self.tracker_viewed = self
            .viewed_index()
            .map(|at| Tracker::of(self.snapshots.iter().take(at + 1).map(|p| &**p)));
        self.derive_viewed();
    }

    /// Derives the groups, the exited threads and the diff of the viewed snapshot.
    fn derive_viewed(&mut self) {
        let viewed = self.viewed().cloned();
        let live: HashSet<u32> = viewed
            .iter()
            .flat_map(|p| p.threads().iter().map(|th| th.id()))
            .collect();
        self.exited_threads = self
            .before_viewed()
            .map(|old| {
                old.threads()
                    .iter()
                    .filter(|th| !live.contains(&th.id()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.groups = viewed.as_ref().map(|p| group(p)).unwrap_or_default();
        let tracker = self.tracker_viewed.as_ref().unwrap_or(&self.tracker);
        self.verdicts = tracker.verdicts().into_iter().collect();
        self.suspects = viewed
            .as_ref()
            .map(|p| suspects(p, tracker))
            .unwrap_or_default();
        self.growth = match (self.snapshots.front(), &viewed) {
            (Some(first), Some(p)) => growth(first, p),
            _ => Vec::new(),
        };
        self.derive_diff();
    }

    /// Moves the diff's older side `older` snapshots further back (negative: nearer), within
    /// the history.
    pub(super) fn move_diff_base(&mut self, older: isize) {
        let max = self.viewed_position().unwrap_or(0).max(1);
        self.diff_back = self.diff_back.saturating_add_signed(older).clamp(1, max);
        self.derive_diff();
    }

    fn derive_diff(&mut self) {
        let pair = self
            .diff_pair()
            .map(|(o, n)| (diff(o, n), group_diff(o, n)));
        (self.diff, self.group_changes) = match pair {
            Some((d, g)) => (Some(d), g),
            None => (None, Vec::new()),
        };
    }

    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The snapshots, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Process>> {
        self.snapshots.iter()
    }

    pub fn newest(&self) -> Option<&Arc<Process>> {
        self.snapshots.back()
    }

    /// The snapshot before the newest.
    pub fn previous(&self) -> Option<&Arc<Process>> {
        self.snapshots
            .len()
            .checked_sub(2)
            .and_then(|i| self.snapshots.get(i))
    }

    /// Index of an older viewed snapshot (None: the newest is viewed).
    fn viewed_index(&self) -> Option<usize> {
        let seq = self.viewed?;
        usize::try_from(seq.checked_sub(self.dropped)?)
            .ok()
            .filter(|i| *i < self.snapshots.len())
    }

    /// Index of the viewed snapshot, oldest first (None: no snapshot yet).
    pub fn viewed_position(&self) -> Option<usize> {
        self.viewed_index()
            .or_else(|| self.snapshots.len().checked_sub(1))
    }

    /// An older snapshot than the newest is viewed.
    pub fn viewing_older(&self) -> bool {
        self.viewed_index().is_some()
    }

    /// The snapshot the panes show: the newest unless an older one was picked with `<`.
    pub fn viewed(&self) -> Option<&Arc<Process>> {
        self.snapshots.get(self.viewed_position()?)
    }

    /// The snapshot before the viewed one.
    pub fn before_viewed(&self) -> Option<&Arc<Process>> {
        self.snapshots.get(self.viewed_position()?.checked_sub(1)?)
    }

    /// Frames held by all the snapshots (what bounds the history's memory).
    pub fn frames(&self) -> usize {
        self.snapshots
            .iter()
            .flat_map(|s| s.threads())
            .map(|th| th.frames().len())
            .sum()
    }

    /// The two snapshots the diff view compares: (older, viewed).
    pub fn diff_pair(&self) -> Option<(&Arc<Process>, &Arc<Process>)> {
        let viewed = self.viewed_position()?;
        let old = viewed
            .checked_sub(self.diff_back.max(1))
            .or(viewed.checked_sub(1))?;
        Some((self.snapshots.get(old)?, self.snapshots.get(viewed)?))
    }

    /// The groups of identical stacks in the viewed snapshot, largest first.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The diff of [`History::diff_pair`], if there are two snapshots.
    pub fn diff(&self) -> Option<&Diff> {
        self.diff.as_ref()
    }

    /// How group counts changed between the two snapshots of [`History::diff_pair`].
    pub fn group_changes(&self) -> &[GroupChange] {
        &self.group_changes
    }

    /// How long thread `tid`'s stack has not changed, as of the viewed snapshot.
    pub fn stuck(&self, tid: u32) -> Option<&StackRun> {
        self.tracker_viewed
            .as_ref()
            .unwrap_or(&self.tracker)
            .run(tid)
    }

    /// Thread `tid`'s verdict over time, as of the viewed snapshot.
    pub fn verdict(&self, tid: u32) -> Option<&Verdict> {
        self.verdicts.get(&tid)
    }

    /// The top suspects as of the viewed snapshot, most telling first.
    pub fn suspects(&self) -> &[Suspect] {
        &self.suspects
    }

    /// Groups whose size changed from the oldest snapshot kept to the viewed one.
    pub fn growth(&self) -> &[Growth] {
        &self.growth
    }

    /// Threads of the snapshot before the viewed one that are gone from it.
    pub fn exited_threads(&self) -> &[Thread] {
        &self.exited_threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::diff::Change;
    use crate::tracer::diff::fixture::snapshot;

    const T0: u64 = 1_795_953_600_000;
    const A: &[&str] = &["read", "loop", "main"];
    const B: &[&str] = &["park", "loop", "main"];

    #[test]
    fn views_are_derived_when_a_snapshot_arrives_and_when_the_base_moves() {
        let mut h = History::default();
        h.push(Arc::new(snapshot(T0, &[(1, "main", 0, A), (2, "w", 0, A)])));
        assert_eq!(h.groups().len(), 1);
        assert!(h.diff().is_none() && h.group_changes().is_empty());
        h.push(Arc::new(snapshot(
            T0 + 1000,
            &[(1, "main", 0, B), (2, "w", 0, A)],
        )));
        h.push(Arc::new(snapshot(
            T0 + 2000,
            &[(1, "main", 0, B), (2, "w", 0, A)],
        )));
        assert_eq!(h.groups().len(), 2);
        // Against the previous snapshot: nothing moved.
        let changes = |h: &History| -> Vec<Change> {
            h.diff()
                .unwrap()
                .threads
                .iter()
                .map(|t| t.change.clone())
                .collect()
        };
        assert_eq!(changes(&h), [Change::Unchanged, Change::Unchanged]);
        h.move_diff_base(1);
        assert_eq!(
            changes(&h),
            [Change::Changed { common_outer: 2 }, Change::Unchanged]
        );
        let moved: Vec<(usize, usize)> = h
            .group_changes()
            .iter()
            .map(|c| (c.old_count, c.new_count))
            .collect();
        assert_eq!(moved, [(2, 1), (0, 1)]);
        // The base stays within the history.
        h.move_diff_base(5);
        assert!(Arc::ptr_eq(
            h.diff_pair().unwrap().0,
            h.iter().next().unwrap()
        ));
        h.move_diff_base(-9);
        assert!(Arc::ptr_eq(h.diff_pair().unwrap().0, h.previous().unwrap()));
    }

    #[test]
    fn stuck_runs_and_exited_threads_are_derived_when_a_snapshot_arrives() {
        let mut h = History::default();
        h.push(Arc::new(snapshot(T0, &[(1, "main", 0, A), (2, "w", 0, A)])));
        assert!(h.exited_threads().is_empty());
        h.push(Arc::new(snapshot(T0 + 1000, &[(1, "main", 0, A)])));
        let ids = |h: &History| -> Vec<u32> { h.exited_threads().iter().map(|t| t.id()).collect() };
        assert_eq!(ids(&h), [2]);
        assert_eq!(h.stuck(1).map(|r| r.snapshots), Some(2));
        h.push(Arc::new(snapshot(
            T0 + 2000,
            &[(1, "main", 0, B), (3, "new", 0, A)],
        )));
        let runs = |h: &History| [1, 2, 3].map(|tid| h.stuck(tid).map(|r| r.snapshots));
        // Thread 1 moved in the newest snapshot; 2 is gone; 3 is new.
        assert_eq!(runs(&h), [Some(1), None, Some(1)]);
        assert!(h.exited_threads().is_empty(), "2 left one snapshot earlier");
        h.push(Arc::new(snapshot(T0 + 3000, &[(1, "main", 0, B)])));
        assert_eq!(runs(&h), [Some(2), None, None]);
        assert_eq!(ids(&h), [3]);
        assert_eq!(
            h.stuck(1).map(|r| r.since),
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(T0 + 2000))
        );
    }

    #[test]
    fn the_history_is_bounded() {
        let mut h = History::default();
        for i in 0..HISTORY as u64 + 5 {
            h.push(Arc::new(snapshot(T0 + i, &[(1, "main", 0, A)])));
        }
        assert_eq!(h.len(), HISTORY);
        assert_eq!(
            h.iter().next().unwrap().taken_at(),
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(T0 + 5)
        );
    }
}
