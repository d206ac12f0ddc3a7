//! The threads pane: the selected thread (by id, so it survives refreshes; the diff view
//! selects by the same id), the order of the rows, and the rows with each thread's CPU use
//! since the previous snapshot, how long its stack has not changed and its verdict over time.

use std::collections::HashMap;

use crate::app::history::History;
use crate::profile::verdict::Verdict;
use crate::tracer::Thread;
use crate::tracer::diff::StackRun;

/// Order of the threads pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadSort {
    /// The kernel's order (main thread first).
    #[default]
    Tid,
    /// Longest unchanged stack first.
    Stuck,
    /// Most CPU since the previous snapshot first.
    Cpu,
}

/// One row of the threads pane: a live thread or one that exited since the last snapshot.
pub struct ThreadRow<'a> {
    pub thread: &'a Thread,
    pub exited: bool,
    /// CPU use since the previous snapshot, in percent of one core.
    pub cpu_percent: Option<f64>,
    /// How long its stack has not changed (live threads).
    pub stuck: Option<&'a StackRun>,
    /// What it has been doing over time (live threads).
    pub verdict: Option<&'a Verdict>,
}

/// The threads pane's selection and order.
#[derive(Debug, Clone, Default)]
pub struct ThreadsPane {
    selected_tid: Option<u32>,
    sort: ThreadSort,
}

impl ThreadsPane {
    /// The selected thread's id (threads and diff views).
    pub fn selected_tid(&self) -> Option<u32> {
        self.selected_tid
    }

    pub fn sort(&self) -> ThreadSort {
        self.sort
    }

    /// The rows: the viewed (normally the newest) snapshot's threads in the pane's order, then
    /// the ones that exited since the snapshot before it (marked).
    pub fn rows<'a>(&self, history: &'a History) -> Vec<ThreadRow<'a>> {
        let Some(snap) = history.viewed() else {
            return Vec::new();
        };
        let wall = history
            .before_viewed()
            .and_then(|p| snap.taken_at().duration_since(p.taken_at()).ok())
            .filter(|d| !d.is_zero());
        let before: HashMap<u32, &Thread> = history
            .before_viewed()
            .map(|p| p.threads().iter().map(|th| (th.id(), th)).collect())
            .unwrap_or_default();
        let cpu = |th: &Thread| -> Option<f64> {
            let prev = before.get(&th.id())?;
            let used = (th.facts().user_time + th.facts().system_time)
                .saturating_sub(prev.facts().user_time + prev.facts().system_time);
            Some(used.as_secs_f64() / wall?.as_secs_f64() * 100.0)
        };
        let mut rows: Vec<ThreadRow> = snap
            .threads()
            .iter()
            .map(|th| ThreadRow {
                thread: th,
                exited: false,
                cpu_percent: cpu(th),
                stuck: history.stuck(th.id()),
                verdict: history.verdict(th.id()),
            })
            .collect();
        match self.sort {
            ThreadSort::Tid => {}
            ThreadSort::Stuck => {
                rows.sort_by_key(|r| std::cmp::Reverse(r.stuck.map_or(0, |s| s.snapshots)))
            }
            ThreadSort::Cpu => rows.sort_by(|a, b| {
                b.cpu_percent
                    .unwrap_or(0.0)
                    .total_cmp(&a.cpu_percent.unwrap_or(0.0))
            }),
        }
        rows.extend(history.exited_threads().iter().map(|th| ThreadRow {
            thread: th,
            exited: true,
            cpu_percent: None,
            stuck: None,
            verdict: None,
        }));
        rows
    }

    /// Selects `tid`: true if the selection changed.
    pub(super) fn select(&mut self, tid: u32) -> bool {
        let changed = self.selected_tid != Some(tid);
        self.selected_tid = Some(tid);
        changed
    }

    /// `s`: by tid, then longest unchanged first, then busiest first.
    pub(super) fn cycle_sort(&mut self) {
        self.sort = match self.sort {
            ThreadSort::Tid => ThreadSort::Stuck,
            ThreadSort::Stuck => ThreadSort::Cpu,
            ThreadSort::Cpu => ThreadSort::Tid,
        };
    }
}
