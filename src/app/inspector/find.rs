//! What `/`, `n`, `N`, `f` and `H` do to the inspector: the search typed and kept, the jumps
//! from match to match (thread and frame), the filter, and the way from a waiting thread to the
//! holder of its mutex or along a deadlock cycle.

use std::collections::HashMap;
use std::sync::Arc;

use super::search::Pattern;
use super::{Inspector, View};
use crate::app::keymap::Command;
use crate::tracer::Thread;

/// Which way `n` and `N` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Next,
    Prev,
    /// The first match at or after the selection (as the search is typed).
    Here,
}

impl Inspector {
    /// `/`, `n`, `N`, `f` and `H`: what the search and the lock owners find. Returns a note
    /// for the status line when there is nothing to go to.
    pub(in crate::app) fn find(&mut self, c: Command) -> Option<String> {
        match c {
            Command::Search => {
                self.search.open();
                self.keep_selection_listed();
                None
            }
            Command::SearchNext | Command::SearchPrev => {
                if self.search.pattern().is_none() {
                    return Some("no search: / searches the stacks, names and waits".into());
                }
                self.jump(if c == Command::SearchNext {
                    Step::Next
                } else {
                    Step::Prev
                })
            }
            Command::FilterThreads => {
                if !self.search.toggle_filter() && self.search.pattern().is_none() {
                    return Some("no search to filter by: / searches first".into());
                }
                self.keep_selection_listed();
                None
            }
            Command::FollowWait => self.follow_wait(),
            _ => None,
        }
    }

    /// A character typed into the search (`None`: Backspace); the selection goes to the first
    /// match from where it is, as the text is typed.
    pub(in crate::app) fn search_edit(&mut self, c: Option<char>) {
        match c {
            Some(c) => self.search.push(c),
            None => self.search.pop(),
        }
        self.keep_selection_listed();
        if self.search.pattern().is_some() {
            self.jump(Step::Here);
        }
    }

    /// Enter in the search prompt: the search stays (`n`, `N`, `f` use it).
    pub(in crate::app) fn keep_search(&mut self) {
        self.search.keep();
    }

    /// Esc with a search: the search and its filter go; the selection stays.
    pub(in crate::app) fn clear_search(&mut self) {
        self.search.clear();
    }

    /// The matches of `p` in the upper pane's order: (row, tid, frame), a thread matched by
    /// its name or wait at its frame 0.
    fn search_positions(&self, p: &Pattern) -> Vec<(usize, u32, usize)> {
        let rows = self.thread_rows();
        // The diff view lists exited threads, found in the older snapshot; rows win.
        let older = self.history.diff_pair().map(|(old, _)| old.threads());
        let by_tid: HashMap<u32, &Thread> = older
            .into_iter()
            .flatten()
            .chain(rows.iter().map(|r| r.thread))
            .map(|t| (t.id(), t))
            .collect();
        let mut out = Vec::new();
        for (row, tid) in self.row_tids().into_iter().enumerate() {
            let Some(t) = by_tid.get(&tid) else {
                continue;
            };
            let frames = p.matching_frames(t);
            if p.thread_matches(t) && frames.first() != Some(&0) {
                out.push((row, tid, 0));
            }
            out.extend(frames.into_iter().map(|f| (row, tid, f)));
        }
        out
    }

    /// Selects the next, previous or nearest match (wrapping around), thread and frame.
    fn jump(&mut self, step: Step) -> Option<String> {
        let p = self.search.pattern()?;
        if matches!(self.view, View::Groups | View::Goroutines | View::Chains) {
            // Typing does not change the view; n and N go to the threads.
            if step == Step::Here {
                return None;
            }
            self.view = View::Threads;
        }
        let positions = self.search_positions(&p);
        if positions.is_empty() {
            return Some(format!("no match for /{}", self.search.text()));
        }
        let row = self
            .threads
            .selected_tid()
            .and_then(|tid| self.row_tids().iter().position(|r| *r == tid));
        let here = row.map(|r| (r, self.frames.selected()));
        let key = |&(r, _, f): &(usize, u32, usize)| (r, f);
        let found = match (step, here) {
            (Step::Prev, Some(h)) => positions.iter().rev().find(|m| key(m) < h),
            (Step::Next, Some(h)) => positions.iter().find(|m| key(m) > h),
            (Step::Here, Some(h)) => positions.iter().find(|m| key(m) >= h),
            (_, None) => None,
        };
        let &(_, tid, frame) = found.unwrap_or(if step == Step::Prev {
            &positions[positions.len() - 1]
        } else {
            &positions[0]
        });
        if self.threads.select(tid) {
            self.frames.reset();
        }
        self.show_frame(frame);
        None
    }

    /// `H`: selects the owner of the mutex the selected thread waits for; without one, steps
    /// along a deadlock cycle (its first thread, then the next). A note says why not.
    fn follow_wait(&mut self) -> Option<String> {
        let snap = Arc::clone(self.snapshot()?);
        let (tid, lock, owner) = match self.selected_thread() {
            Some(t) => {
                let lock = t.facts().lock.as_ref();
                (Some(t.id()), lock.is_some(), lock.and_then(|l| l.owner))
            }
            None => (None, false, None),
        };
        let cycles = snap.deadlocks();
        let next_in_cycle = tid.and_then(|tid| {
            cycles.iter().find_map(|c| {
                let i = c.iter().position(|x| *x == tid)?;
                Some(c[(i + 1) % c.len()])
            })
        });
        let first_of_cycle = cycles.first().and_then(|c| c.first()).copied();
        let Some(target) = owner.or(next_in_cycle).or(first_of_cycle) else {
            return Some(match (tid, lock) {
                (Some(tid), true) => {
                    format!("the owner of the lock thread {tid} waits on is not known")
                }
                (Some(tid), false) => format!("thread {tid} waits for no mutex with a known owner"),
                (None, _) => "no thread selected".into(),
            });
        };
        self.select_listed(target, "holder")
    }

    /// Selects thread `tid` in the threads list (out of the group or goroutine view; the
    /// filter goes if it hides the thread). A note when it is not listed.
    pub(super) fn select_listed(&mut self, tid: u32, what: &str) -> Option<String> {
        if matches!(self.view, View::Groups | View::Goroutines | View::Chains) {
            self.view = View::Threads;
        }
        let mut note = None;
        if !self.row_tids().contains(&tid)
            && self.search.filters()
            && self
                .threads
                .rows(&self.history)
                .iter()
                .any(|r| r.thread.id() == tid)
        {
            self.search.toggle_filter();
            note = Some(format!(
                "filter off: the {what} {tid} does not match the search"
            ));
        }
        if !self.row_tids().contains(&tid) {
            return Some(format!(
                "the {what} {tid} is not in the list (not a thread of this process now)"
            ));
        }
        if self.threads.select(tid) {
            self.frames.reset();
        }
        note
    }

    /// While the search filters the threads list: a selected thread that is not listed gives
    /// way to the first listed one.
    pub(super) fn keep_selection_listed(&mut self) {
        if !self.search.filters() || self.view != View::Threads {
            return;
        }
        let rows = self.row_tids();
        let listed = self
            .threads
            .selected_tid()
            .is_some_and(|tid| rows.contains(&tid));
        if !listed
            && let Some(first) = rows.first()
            && self.threads.select(*first)
        {
            self.frames.reset();
        }
    }
}
