//! The inspector screen's state: the inspected process, its snapshot history, which view the
//! upper pane shows, which pane has the focus, each pane's selection (by id, not row, so
//! selections survive refreshes) and first shown row, and the search.

mod brief;
pub mod chains;
pub mod detail;
mod find;
mod flame_walk;
pub mod frames;
pub mod goroutines;
pub mod groups;
pub mod profile;
pub mod search;
pub mod threads;

use std::sync::Arc;

use super::Move;
use super::history::History;
use super::keymap::Command;
use super::scroll::{self, Viewport};
use crate::describe::brief::{self as brief_form, Row};
use crate::describe::frame_width;
use crate::tracer::{Frame, Goroutine, Party, Process, Thread};
use chains::{ChainRow, ChainsPane};
use detail::FrameDetail;
use frames::FramesPane;
use goroutines::GoroutinesPane;
use groups::GroupsPane;
use profile::ProfileView;
use search::{Search, SearchCount};
use threads::{ThreadRow, ThreadSort, ThreadsPane};

/// What the inspector's upper pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Every thread of the newest snapshot.
    Threads,
    /// What changed between two snapshots of the history.
    Diff,
    /// Threads with identical stacks collapsed.
    Groups,
    /// A Go process's goroutines.
    Goroutines,
    /// The process's wait chains, a row per chain and per link.
    Chains,
}

/// Which pane of the inspector has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Threads,
    Frames,
}

/// The inspected process and how it is shown.
#[derive(Debug, Clone)]
pub struct Inspector {
    pid: u32,
    /// The command line from the process list, until the first snapshot says it.
    command_line: String,
    /// The last snapshots with what is derived from them.
    history: History,
    /// When the process started (clock ticks since boot, as the worker read it): a pid
    /// reused by a new process has another.
    started: Option<u64>,
    /// The process is gone (a trace said so).
    exited: bool,
    /// The newest snapshot is from `/proc` alone: no permission to trace.
    degraded: bool,
    view: View,
    focus: Pane,
    threads: ThreadsPane,
    frames: FramesPane,
    groups: GroupsPane,
    goroutines: GoroutinesPane,
    chains: ChainsPane,
    /// The first row shown of the upper pane, per view (each view lists other rows).
    offsets: [usize; 5],
    search: Search,
    /// The frame detail view, while open.
    detail: Option<FrameDetail>,
    /// The profile view, while open (it takes the panes' place).
    profile: Option<ProfileView>,
}

impl Inspector {
    pub(super) fn new(pid: u32, command_line: String) -> Inspector {
        Inspector {
            pid,
            command_line,
            history: History::default(),
            started: None,
            exited: false,
            degraded: false,
            view: View::Threads,
            focus: Pane::Threads,
            threads: ThreadsPane::default(),
            frames: FramesPane::default(),
            groups: GroupsPane::default(),
            goroutines: GoroutinesPane::default(),
            chains: ChainsPane::default(),
            offsets: [0; 5],
            search: Search::default(),
            detail: None,
            profile: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process's command line.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// The snapshots, oldest first, bounded, with the groups, diff and stuck runs derived
    /// from them.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The snapshot the panes show: the newest, unless an older one is viewed (`<`).
    pub fn snapshot(&self) -> Option<&Arc<Process>> {
        self.history.viewed()
    }

    /// When the process started (clock ticks since boot), once the worker said.
    pub fn started(&self) -> Option<u64> {
        self.started
    }

    /// The process is gone.
    pub fn exited(&self) -> bool {
        self.exited
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// The pane with the focus.
    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// The selected thread's id (threads and diff views).
    pub fn selected_tid(&self) -> Option<u32> {
        self.threads.selected_tid()
    }

    pub fn thread_sort(&self) -> ThreadSort {
        self.threads.sort()
    }

    /// The selected frame of the lower pane.
    pub fn selected_frame(&self) -> usize {
        self.frames.selected()
    }

    /// The selected frame's row in the frames pane (rows include the brief form's markers).
    pub fn selected_frame_row(&self) -> usize {
        brief::row_of(&self.frame_rows(), self.frames.selected())
    }

    /// Whether interpreter threads' stacks show in brief (`b`).
    pub fn brief(&self) -> bool {
        self.frames.brief()
    }

    /// The frames pane's rows: every frame of the stack shown, or in brief an interpreter's
    /// own frames between Python frames left out, a marker in their place.
    pub fn frame_rows(&self) -> Vec<Row> {
        brief_form::rows(self.selected_stack(), self.frames.brief())
    }

    /// Whether the process runs a CPython interpreter (its threads have Python facts): the
    /// footer offers the brief form then.
    pub fn has_python(&self) -> bool {
        self.snapshot()
            .is_some_and(|p| p.threads().iter().any(|t| t.facts().python.is_some()))
    }

    /// Columns the frames pane's symbols are scrolled to the left.
    pub fn frames_scroll(&self) -> usize {
        self.frames.scroll()
    }

    /// The frame detail view, while open.
    pub fn detail(&self) -> Option<&FrameDetail> {
        self.detail.as_ref()
    }

    /// The profile view, while open.
    pub fn profile(&self) -> Option<&ProfileView> {
        self.profile.as_ref()
    }

    pub(super) fn profile_mut(&mut self) -> Option<&mut ProfileView> {
        self.profile.as_mut()
    }

    /// Opens the profile view (the selected thread is the one `t` offers), or closes it.
    pub(super) fn toggle_profile(&mut self) {
        self.profile = match self.profile {
            Some(_) => None,
            None => Some(ProfileView::new(
                self.pid,
                &self.command_line,
                self.selected_tid(),
            )),
        };
    }

    /// The group view's selection.
    pub fn groups_pane(&self) -> &GroupsPane {
        &self.groups
    }

    /// The rows of the threads pane: the newest snapshot's threads, then the ones that exited
    /// since the previous snapshot (marked); only those matching the search when it filters.
    pub fn thread_rows(&self) -> Vec<ThreadRow<'_>> {
        let mut rows = self.threads.rows(&self.history);
        if self.search.filters()
            && let Some(p) = self.search.pattern()
        {
            rows.retain(|r| p.any_match(r.thread));
        }
        rows
    }

    /// The search (its text, whether it is typed or filters).
    pub fn search(&self) -> &Search {
        &self.search
    }

    /// How many threads of the list (unfiltered) and how many of their frames match the
    /// search, when there is one.
    pub fn search_count(&self) -> Option<SearchCount> {
        let p = self.search.pattern()?;
        let mut count = SearchCount::default();
        for r in self.threads.rows(&self.history) {
            let frames = p.matching_frames(r.thread).len();
            if frames > 0 || p.thread_matches(r.thread) {
                count.threads += 1;
            }
            count.frames += frames;
        }
        Some(count)
    }

    /// The first row shown of the upper pane.
    pub fn list_offset(&self) -> usize {
        self.offsets[view_index(self.view)]
    }

    /// The first row shown of the frames pane.
    pub fn frames_offset(&self) -> usize {
        self.frames.offset()
    }

    /// The selected thread: in the group view the first thread of the selected group; in the
    /// diff view a thread of either side.
    pub fn selected_thread(&self) -> Option<&Thread> {
        if self.view == View::Groups {
            let g = self.groups.selected(self.history.groups())?;
            let tid = g.threads.first()?.0;
            return self.snapshot()?.threads().iter().find(|th| th.id() == tid);
        }
        if self.view == View::Chains {
            // The waiting thread of the selected link, when it is one of this process's.
            let waiter = self.selected_chain_row()?.waiter()?;
            let snap = self.snapshot()?;
            return (waiter.pid == snap.id())
                .then(|| snap.threads().iter().find(|th| Some(th.id()) == waiter.tid))
                .flatten();
        }
        let tid = self.threads.selected_tid()?;
        if let Some(th) = self
            .thread_rows()
            .into_iter()
            .find(|r| r.thread.id() == tid)
            .map(|r| r.thread)
        {
            return Some(th);
        }
        self.history
            .diff_pair()?
            .0
            .threads()
            .iter()
            .find(|th| th.id() == tid)
    }

    /// The selected goroutine of the goroutine view (the first when none is selected yet, or
    /// the selected one is gone).
    pub fn selected_goroutine(&self) -> Option<&Goroutine> {
        self.goroutines.selected(self.snapshot()?.goroutines())
    }

    /// How many frames the lower pane shows: the selected goroutine's in the goroutine view,
    /// else the selected thread's.
    fn selected_frames(&self) -> usize {
        self.selected_stack().len()
    }

    /// The frames the lower pane shows.
    fn selected_stack(&self) -> &[Frame] {
        if self.view == View::Goroutines {
            return self.selected_goroutine().map_or(&[], |g| g.frames());
        }
        self.selected_thread().map_or(&[], |th| th.frames())
    }

    /// Enter: on the frames pane, opens the selected frame's detail (its source read now, and
    /// for a `live` process its module's build-id from the file it maps); on the upper pane,
    /// moves to the frames.
    pub(super) fn enter(&mut self, live: bool) {
        if self.focus == Pane::Threads {
            self.focus = Pane::Frames;
            return;
        }
        let snapshot = self.snapshot().map(|p| &**p);
        self.detail = FrameDetail::open(
            self.selected_stack(),
            self.frames.selected(),
            snapshot,
            live,
        );
    }

    /// How far the open detail view scrolls (the render's measure at the screen's size).
    pub(super) fn set_detail_max_scroll(&mut self, n: usize) {
        if let Some(d) = &mut self.detail {
            d.set_max_scroll(n);
        }
    }

    /// Closes the frame detail view; false if it was not open.
    pub(super) fn close_detail(&mut self) -> bool {
        self.detail.take().is_some()
    }

    /// `←`/`→`: scrolls the frames pane's symbols.
    pub(super) fn scroll_frames(&mut self, right: bool) {
        let widest = self
            .selected_stack()
            .iter()
            .map(frame_width)
            .max()
            .unwrap_or(0);
        self.frames.scroll_by(right, widest);
    }

    /// The tids of the upper pane's rows, in order, for the threads and diff views.
    fn row_tids(&self) -> Vec<u32> {
        match self.view {
            View::Diff => self
                .history
                .diff()
                .map(|d| d.threads.iter().map(|t| t.tid).collect())
                .unwrap_or_default(),
            _ => self.thread_rows().iter().map(|r| r.thread.id()).collect(),
        }
    }

    /// Takes a snapshot of this process into the history (another process's is ignored);
    /// the first thread is selected if none is.
    pub(super) fn accept_snapshot(&mut self, p: Arc<Process>) {
        if p.id() != self.pid {
            return;
        }
        self.command_line = p.command().to_string();
        if self.threads.selected_tid().is_none()
            && let Some(th) = p.threads().first()
        {
            self.threads.select(th.id());
        }
        self.history.push(p);
        self.keep_selection_listed();
        self.keep_frame_shown();
    }

    /// The newest snapshot has no stacks: the process may not be traced, so its threads
    /// come from `/proc` alone.
    pub fn degraded(&self) -> bool {
        self.degraded
    }

    pub(super) fn set_degraded(&mut self, degraded: bool) {
        self.degraded = degraded;
    }

    pub(super) fn set_started(&mut self, start: u64) {
        self.started = Some(start);
    }

    /// Esc inside the process view: a view other than the threads goes back to the threads;
    /// false when already there (the caller goes up a level).
    pub(super) fn back(&mut self) -> bool {
        if self.view == View::Threads {
            return false;
        }
        self.view = View::Threads;
        true
    }

    /// Views the newest snapshot again (going back into a process shows it live).
    pub(super) fn view_newest(&mut self) {
        if self.history.viewing_older() {
            self.history.step(-(super::HISTORY as isize));
            self.keep_frame_shown();
        }
    }

    pub(super) fn mark_exited(&mut self, exited: bool) {
        self.exited |= exited;
    }

    pub(super) fn select_thread(&mut self, tid: u32) {
        self.threads.select(tid);
    }

    /// The views, the diff base, the thread order and the pane focus.
    pub(super) fn command(&mut self, c: Command) {
        match c {
            Command::DiffView
            | Command::GroupView
            | Command::GoroutineView
            | Command::ChainView => {
                let view = match c {
                    Command::DiffView => View::Diff,
                    Command::GroupView => View::Groups,
                    Command::ChainView => View::Chains,
                    _ => View::Goroutines,
                };
                self.view = if self.view == view {
                    View::Threads
                } else {
                    view
                };
            }
            Command::OlderBase | Command::NewerBase => {
                self.history
                    .move_diff_base(if c == Command::OlderBase { 1 } else { -1 });
                self.view = View::Diff;
            }
            Command::OlderSnapshot | Command::NewerSnapshot => {
                self.history
                    .step(if c == Command::OlderSnapshot { 1 } else { -1 });
                self.keep_frame_shown();
            }
            Command::BriefFrames => {
                self.frames.set_brief(!self.frames.brief());
                self.keep_frame_shown();
            }
            Command::SortThreads => self.threads.cycle_sort(),
            Command::NextPane | Command::PrevPane => {
                self.focus = match self.focus {
                    Pane::Threads => Pane::Frames,
                    Pane::Frames => Pane::Threads,
                };
            }
            _ => {}
        }
    }

    /// Moves the selection of the focused pane (scrolls the frame detail, while open).
    pub(super) fn move_selection(&mut self, m: Move) {
        if let Some(d) = &mut self.detail {
            d.move_scroll(m);
            return;
        }
        match self.focus {
            Pane::Frames => self.move_frame(m),
            Pane::Threads => self.move_row(m),
        }
    }

    /// A click on the `row`th row on screen of `pane`: focuses it and selects that row (the
    /// pane's first shown row plus `row`).
    pub(super) fn click(&mut self, pane: Pane, row: usize) {
        self.focus = pane;
        match pane {
            Pane::Threads => self.move_row(Move::To(self.list_offset() + row)),
            Pane::Frames => {
                let rows = self.frame_rows();
                if let Some(i) = brief::frame_at(&rows, self.frames.offset() + row) {
                    self.frames.select(i);
                }
            }
        }
    }

    /// Each pane's first shown row follows its selection.
    pub(super) fn follow_scroll(&mut self, viewport: Viewport) {
        let (selected, len) = self.upper_selection();
        let i = view_index(self.view);
        self.offsets[i] = scroll::follow(self.offsets[i], selected, len, viewport.list);
        let rows = self.frame_rows();
        let selected = brief::row_of(&rows, self.frames.selected());
        self.frames.follow(selected, rows.len(), viewport.frames);
    }

    /// The upper pane's selected row and its number of rows.
    fn upper_selection(&self) -> (Option<usize>, usize) {
        match self.view {
            View::Goroutines => {
                let Some(snap) = self.snapshot() else {
                    return (None, 0);
                };
                let gs = snap.goroutines();
                let selected = self
                    .selected_goroutine()
                    .and_then(|g| gs.iter().position(|x| x.id() == g.id()));
                (selected, gs.len())
            }
            View::Groups => {
                let groups = self.history.groups();
                let selected = self.groups.selected_index(groups).or(Some(0));
                (selected, groups.len())
            }
            View::Chains => {
                let rows = self.chain_rows();
                (self.chains.selected(&rows), rows.len())
            }
            View::Threads | View::Diff => {
                let rows = self.row_tids();
                let selected = self
                    .threads
                    .selected_tid()
                    .and_then(|tid| rows.iter().position(|r| *r == tid));
                (selected, rows.len())
            }
        }
    }

    /// Moves the upper pane's selection; a different thread, group or goroutine starts its
    /// stack at the top.
    fn move_row(&mut self, m: Move) {
        let changed = match self.view {
            View::Goroutines => {
                let ids: Vec<u64> = self
                    .snapshot()
                    .map(|p| p.goroutines().iter().map(|g| g.id()).collect())
                    .unwrap_or_default();
                let current = self
                    .selected_goroutine()
                    .and_then(|g| ids.iter().position(|id| *id == g.id()));
                let Some(i) = m.apply(current, ids.len()) else {
                    return;
                };
                self.goroutines.select(ids[i])
            }
            View::Chains => {
                // The rows borrow the snapshot, not the inspector, whose selection changes.
                let snap = self.snapshot().cloned();
                let rows = snap.as_deref().map(chains::rows).unwrap_or_default();
                let Some(i) = m.apply(self.chains.selected(&rows), rows.len()) else {
                    return;
                };
                self.chains.select(&rows, i)
            }
            View::Groups => {
                let groups = self.history.groups();
                let current = self.groups.selected_index(groups);
                let Some(i) = m.apply(current, groups.len()) else {
                    return;
                };
                let key = groups[i].key.clone();
                self.groups.select(&key)
            }
            View::Threads | View::Diff => {
                let rows = self.row_tids();
                let current = self
                    .threads
                    .selected_tid()
                    .and_then(|tid| rows.iter().position(|r| *r == tid));
                let Some(i) = m.apply(current, rows.len()) else {
                    return;
                };
                self.threads.select(rows[i])
            }
        };
        if changed {
            self.frames.reset();
        }
    }

    fn move_frame(&mut self, m: Move) {
        if let Some(i) = brief::step(&self.frame_rows(), self.frames.selected(), m) {
            self.frames.select(i);
        }
    }

    /// The selected frame stays within the stack and, in brief, among the frames shown (the
    /// nearest one shown when it is left out).
    fn keep_frame_shown(&mut self) {
        let frames = self.selected_frames();
        self.frames.clamp(frames);
        let nearest = brief::nearest(&self.frame_rows(), self.frames.selected());
        self.frames.select(nearest);
    }

    /// Selects frame `i` (a search's match): when the brief form leaves it out, the whole
    /// stack is shown, so the match is on screen.
    fn show_frame(&mut self, i: usize) {
        let i = i.min(self.selected_frames().saturating_sub(1));
        if !self.frame_rows().contains(&Row::Frame(i)) {
            self.frames.set_brief(false);
        }
        self.frames.select(i);
    }
}

impl Inspector {
    /// The chain view's rows, from the viewed snapshot.
    pub fn chain_rows(&self) -> Vec<ChainRow<'_>> {
        self.snapshot().map(|p| chains::rows(p)).unwrap_or_default()
    }

    /// The chain view's selected row's index.
    pub fn chain_selected(&self) -> Option<usize> {
        self.chains.selected(&self.chain_rows())
    }

    /// The chain view's selected row.
    pub fn selected_chain_row(&self) -> Option<ChainRow<'_>> {
        let rows = self.chain_rows();
        let i = self.chains.selected(&rows)?;
        rows.get(i).copied()
    }

    /// Whom the follow key goes to: in the chain view the selected row's holder, else the
    /// first holder of the selected thread's wait chain (None without a chain: the mutex
    /// owner and the deadlock cycle of [`Self::find`] are the way then).
    pub fn follow_target(&self) -> Option<Party> {
        if self.view == View::Chains {
            return self.selected_chain_row()?.holder().cloned();
        }
        let chain = self.selected_thread()?.facts().chain.as_ref()?;
        chains::holder(chain, 0).cloned()
    }

    /// Where the inspector is: for going back to it.
    pub(super) fn place(&self) -> super::places::Place {
        super::places::Place {
            pid: self.pid,
            view: self.view,
            tid: self.selected_tid(),
            offset: self.list_offset(),
        }
    }

    /// Back to a place of this process: its view, thread and first shown row.
    pub(super) fn restore(&mut self, place: &super::places::Place) {
        self.view = place.view;
        if let Some(tid) = place.tid
            && self.threads.select(tid)
        {
            self.frames.reset();
        }
        self.offsets[view_index(self.view)] = place.offset;
    }

    /// Selects thread `tid` of this process in the threads view (the follow key's way to a
    /// holder here); a note when it is not listed.
    pub(super) fn follow_to(&mut self, tid: u32) -> Option<String> {
        self.view = View::Threads;
        self.select_listed(tid, "holder")
    }
}

/// The index of a view in per-view arrays.
fn view_index(view: View) -> usize {
    match view {
        View::Threads => 0,
        View::Diff => 1,
        View::Groups => 2,
        View::Goroutines => 3,
        View::Chains => 4,
    }
}
