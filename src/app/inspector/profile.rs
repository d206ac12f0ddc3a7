//! The profile view's state (`p`): the samples gathered while it is open, its scope (the whole
//! process or the thread selected when it opened), the table's sort and selection, the flame
//! graph's zoom and selected frame (paths of names from the root, so both survive new
//! samples), and its search, which marks function names as the inspector's does.

use std::time::Duration;

use super::flame_walk::{Jump, heaviest, matches, node_at};
use super::search::Search;
use crate::app::Move;
use crate::app::keymap::Command;
use crate::profile::{FlameNode, FunctionRow, Profile, flame, functions};
use crate::tracer::Process;

/// The time between two samples while the view is open (20 Hz).
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// Distinct stacks re-read per sample: past them the table and the tree are derived once per
/// that many stacks' worth of samples (and on any key), so a big profile at 20 Hz costs the
/// event loop a bounded share of its time; a small one is current at every sample.
const DERIVE_STACKS: usize = 2000;

/// What the view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileMode {
    /// The top-functions table.
    Table,
    /// The flame graph.
    Flame,
}

/// The column the table is sorted by (largest first; names A to Z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    SelfShare,
    Total,
    OnCpu,
    OffCpu,
    Name,
}

impl SortColumn {
    fn next(self) -> SortColumn {
        match self {
            SortColumn::SelfShare => SortColumn::Total,
            SortColumn::Total => SortColumn::OnCpu,
            SortColumn::OnCpu => SortColumn::OffCpu,
            SortColumn::OffCpu => SortColumn::Name,
            SortColumn::Name => SortColumn::SelfShare,
        }
    }
}

/// `rows` in the order of `column`, ties by name.
pub fn sort_rows(rows: &mut [FunctionRow], column: SortColumn) {
    let key = |r: &FunctionRow| -> (u64, u64) {
        match column {
            SortColumn::SelfShare => (r.self_samples, r.total_samples),
            SortColumn::Total => (r.total_samples, r.self_samples),
            SortColumn::OnCpu => (r.total_on_cpu, r.self_on_cpu),
            SortColumn::OffCpu => (
                r.total_samples - r.total_on_cpu,
                r.self_samples - r.self_on_cpu,
            ),
            SortColumn::Name => (0, 0),
        }
    };
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name)));
}

/// The profile view of the inspected process.
#[derive(Debug, Clone)]
pub struct ProfileView {
    profile: Profile,
    /// The thread selected when the view opened (its id), the scope `t` offers.
    thread: Option<u32>,
    /// The scope is the whole process (else `thread`).
    whole: bool,
    mode: ProfileMode,
    sort: SortColumn,
    /// The table's rows and the flame graph's tree of the scope, derived as samples arrive.
    rows: Vec<FunctionRow>,
    tree: FlameNode,
    /// The table's selected function, by name.
    table_selected: Option<String>,
    /// Zoom levels, each the path of the frame zoomed into; the last is shown.
    zooms: Vec<Vec<String>>,
    /// The flame graph's selected frame, its path from the root.
    selected: Vec<String>,
    search: Search,
    /// Samples added since the table and the tree were derived.
    pending: usize,
}

impl ProfileView {
    /// A view of process `pid` with no samples yet; `thread` is the selected thread.
    pub fn new(pid: u32, command: &str, thread: Option<u32>) -> ProfileView {
        let mut v = ProfileView {
            profile: Profile::new(pid, command, SAMPLE_INTERVAL),
            thread,
            whole: true,
            mode: ProfileMode::Table,
            sort: SortColumn::SelfShare,
            rows: Vec::new(),
            tree: FlameNode::default(),
            table_selected: None,
            zooms: Vec::new(),
            selected: Vec::new(),
            search: Search::default(),
            pending: 0,
        };
        v.derive();
        v
    }

    /// Counts one sample of every thread of `p`.
    pub fn add(&mut self, p: &Process) {
        self.profile.add(p);
        self.pending += 1;
        if self.pending * DERIVE_STACKS >= self.profile.stacks.len() {
            self.derive();
        }
    }

    /// Samples not yet in the table and the tree (a big profile derives them every few).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Derives what samples are pending (before a key acts, or when sampling pauses).
    pub(in crate::app) fn catch_up(&mut self) {
        if self.pending > 0 {
            self.derive();
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn mode(&self) -> ProfileMode {
        self.mode
    }

    pub fn sort(&self) -> SortColumn {
        self.sort
    }

    /// The thread in scope, when the scope is one thread.
    pub fn scope_thread(&self) -> Option<u32> {
        if self.whole { None } else { self.thread }
    }

    /// The thread the scope can switch to (`t`).
    pub fn thread(&self) -> Option<u32> {
        self.thread
    }

    /// The table's rows, sorted.
    pub fn rows(&self) -> &[FunctionRow] {
        &self.rows
    }

    /// The flame graph's whole tree (the root: every sample in scope).
    pub fn tree(&self) -> &FlameNode {
        &self.tree
    }

    /// The table's selected row.
    pub fn table_index(&self) -> Option<usize> {
        if self.rows.is_empty() {
            return None;
        }
        let at = self
            .table_selected
            .as_ref()
            .and_then(|n| self.rows.iter().position(|r| &r.name == n));
        Some(at.unwrap_or(0))
    }

    /// The frame zoomed into (the root when not zoomed) and its path.
    pub fn zoomed(&self) -> (&FlameNode, &[String]) {
        let path = self.zooms.last().map_or(&[][..], Vec::as_slice);
        let (node, depth) = node_at(&self.tree, path);
        (node, &path[..depth])
    }

    /// How many zoom levels Esc goes back through.
    pub fn zoom_depth(&self) -> usize {
        self.zooms.len()
    }

    /// The selected frame's path from the root, as far as it exists now.
    pub fn selected_path(&self) -> &[String] {
        let (_, depth) = node_at(&self.tree, &self.selected);
        &self.selected[..depth]
    }

    pub fn selected_node(&self) -> &FlameNode {
        node_at(&self.tree, &self.selected).0
    }

    pub fn search(&self) -> &Search {
        &self.search
    }

    /// The search's matches in the zoomed graph: (frames, the share of its samples).
    pub fn search_share(&self) -> Option<(usize, f64)> {
        let p = self.search.pattern()?;
        let (node, _) = self.zoomed();
        let (found, samples) = matches(node, &p);
        Some((found, share(samples, node.samples)))
    }

    /// Rederives the table and the tree from the profile, for the scope.
    fn derive(&mut self) {
        self.pending = 0;
        let tid = self.scope_thread();
        self.rows = functions(&self.profile, tid);
        sort_rows(&mut self.rows, self.sort);
        let root = match tid.and_then(|t| self.profile.threads.iter().find(|th| th.tid == t)) {
            Some(t) => format!("{} ({})", t.name, t.tid),
            None if tid.is_some() => format!("thread {}", tid.unwrap_or_default()),
            None => "all".to_string(),
        };
        self.tree = flame(&self.profile, tid, false, &root);
    }

    /// The view's commands; a note for the status line when there is nothing to do.
    pub(in crate::app) fn command(&mut self, c: Command, page: usize) -> Option<String> {
        self.catch_up();
        match c {
            Command::NextPane | Command::PrevPane => {
                self.mode = match self.mode {
                    ProfileMode::Table => ProfileMode::Flame,
                    ProfileMode::Flame => ProfileMode::Table,
                };
            }
            Command::ProfileSort => {
                self.sort = self.sort.next();
                sort_rows(&mut self.rows, self.sort);
            }
            Command::ProfileScope => {
                if self.thread.is_none() {
                    return Some("no thread was selected when the profile opened".into());
                }
                self.whole = !self.whole;
                // The paths are of the other tree: start at its root.
                self.zooms.clear();
                self.selected.clear();
                self.derive();
            }
            Command::Enter => self.enter(),
            Command::Up => self.move_by(Move::Up(1)),
            Command::Down => self.move_by(Move::Down(1)),
            Command::PageUp => self.move_by(Move::Up(page)),
            Command::PageDown => self.move_by(Move::Down(page)),
            Command::Top => self.move_by(Move::To(0)),
            Command::Bottom => self.move_by(Move::To(usize::MAX)),
            Command::ScrollLeft | Command::ScrollRight if self.mode == ProfileMode::Flame => {
                self.sibling(c == Command::ScrollRight);
            }
            Command::Search => self.search.open(),
            Command::SearchNext | Command::SearchPrev => {
                if self.search.pattern().is_none() {
                    return Some("no search: / searches the function names".into());
                }
                if !self.jump(c == Command::SearchNext, false) {
                    return Some(format!("no match of {}", self.search.text()));
                }
            }
            _ => {}
        }
        None
    }

    /// Esc: the search goes, else one zoom level; false when neither was there (the view
    /// closes).
    pub(in crate::app) fn back(&mut self) -> bool {
        if self.search.is_shown() {
            self.search.clear();
        } else if self.zooms.pop().is_none() {
            return false;
        }
        true
    }

    /// A character typed into the search (`None`: Backspace): the selection goes to the
    /// first match from where it is.
    pub(in crate::app) fn search_edit(&mut self, c: Option<char>) {
        match c {
            Some(c) => self.search.push(c),
            None => self.search.pop(),
        }
        if self.search.pattern().is_some() {
            self.jump(true, true);
        }
    }

    /// Enter in the search prompt: the search stays.
    pub(in crate::app) fn keep_search(&mut self) {
        self.search.keep();
    }

    /// Enter: the flame graph zooms into the selected frame; the table shows its function
    /// in the flame graph, selected where it has the most samples.
    fn enter(&mut self) {
        match self.mode {
            ProfileMode::Flame => {
                let path = self.selected_path().to_vec();
                if self.zoomed().1 != path.as_slice() {
                    self.zooms.push(path);
                }
            }
            ProfileMode::Table => {
                let Some(i) = self.table_index() else {
                    return;
                };
                let name = self.rows[i].name.clone();
                self.zooms.clear();
                self.mode = ProfileMode::Flame;
                if let Some(p) = heaviest(&self.tree, &name) {
                    self.selected = p;
                }
            }
        }
    }

    fn move_by(&mut self, m: Move) {
        match self.mode {
            ProfileMode::Table => {
                if let Some(i) = m.apply(self.table_index(), self.rows.len()) {
                    self.table_selected = Some(self.rows[i].name.clone());
                }
            }
            ProfileMode::Flame => self.move_level(m),
        }
    }

    /// Up goes toward the root (no higher than the zoomed frame), down to the largest child.
    fn move_level(&mut self, m: Move) {
        let top = self.zoomed().1.len();
        let mut path = self.selected_path().to_vec();
        if path.len() < top || !path.starts_with(self.zoomed().1) {
            path = self.zoomed().1.to_vec();
        }
        let (up, down) = match m {
            Move::Up(n) => (n, 0),
            Move::Down(n) => (0, n),
            Move::To(0) => (usize::MAX, 0),
            Move::To(_) => (0, usize::MAX),
        };
        let keep = path.len().saturating_sub(up).max(top);
        path.truncate(keep);
        let mut node = node_at(&self.tree, &path).0;
        for _ in 0..down {
            let Some(c) = node.children.first() else {
                break;
            };
            path.push(c.name.clone());
            node = c;
        }
        self.selected = path;
    }

    /// The selected frame's sibling to the left or right (children are drawn in order).
    fn sibling(&mut self, right: bool) {
        let mut path = self.selected_path().to_vec();
        if path.len() <= self.zoomed().1.len() {
            return;
        }
        let Some(name) = path.pop() else {
            return;
        };
        let parent = node_at(&self.tree, &path).0;
        let Some(i) = parent.children.iter().position(|c| c.name == name) else {
            return;
        };
        let j = if right {
            (i + 1).min(parent.children.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        path.push(parent.children[j].name.clone());
        self.selected = path;
    }

    /// The next (or previous) match from the selection, around; `here`: the selection itself
    /// if it matches. False when nothing matches.
    fn jump(&mut self, next: bool, here: bool) -> bool {
        let Some(p) = self.search.pattern() else {
            return false;
        };
        match self.mode {
            ProfileMode::Table => {
                let from = self.table_index().unwrap_or(0);
                let found = ring(from, self.rows.len(), next, here)
                    .find(|&i| p.matches(&self.rows[i].name));
                if let Some(i) = found {
                    self.table_selected = Some(self.rows[i].name.clone());
                }
                found.is_some()
            }
            ProfileMode::Flame => {
                let (node, base) = self.zoomed();
                let selected = self.selected_path();
                let from = selected.strip_prefix(base).unwrap_or(&[]);
                let mut jump = Jump::new(&p, from, next, here);
                jump.walk(node, &mut Vec::new());
                let Some(found) = jump.found() else {
                    return false;
                };
                let mut path = base.to_vec();
                path.extend(found);
                self.selected = path;
                true
            }
        }
    }
}

/// The indexes of a ring of `n` from `from`, forward or back; `here`: `from` first, else last.
fn ring(from: usize, n: usize, next: bool, here: bool) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| {
        let step = if here { k } else { k + 1 };
        if next {
            (from + step) % n
        } else {
            (from + n * 2 - step % n) % n
        }
    })
}

/// `n` of `total` as a fraction (0 when there is nothing).
pub fn share(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::diff::fixture::snapshot;

    const T0: u64 = 1_795_953_600_000;

    /// main waits in epoll; w1 and w2 spin under work; w3 reads under io.
    fn view(samples: u64) -> ProfileView {
        let mut v = ProfileView::new(4242, "app", Some(12));
        for i in 0..samples {
            v.add(&snapshot(
                T0 + i * 50,
                &[
                    (10, "main", 0, &["epoll_wait", "main"]),
                    (11, "w1", 0, &["spin", "work", "start"]),
                    (12, "w2", 0, &["spin", "work", "start"]),
                    (13, "w3", 0, &["read", "io", "start"]),
                ],
            ));
        }
        v
    }

    fn names(v: &ProfileView) -> Vec<&str> {
        v.rows().iter().map(|r| r.name.as_str()).collect()
    }

    fn path(v: &ProfileView) -> Vec<&str> {
        v.selected_path().iter().map(String::as_str).collect()
    }

    #[test]
    fn the_table_sorts_by_each_column_in_turn() {
        let mut v = view(3);
        assert_eq!(v.tree().samples, 12);
        assert_eq!(names(&v)[..3], ["spin", "epoll_wait", "read"]);
        v.command(Command::ProfileSort, 10);
        assert_eq!((v.sort(), names(&v)[0]), (SortColumn::Total, "start"));
        v.command(Command::ProfileSort, 10);
        v.command(Command::ProfileSort, 10);
        // Every sample waits (state S): off-CPU orders as total does.
        assert_eq!((v.sort(), names(&v)[0]), (SortColumn::OffCpu, "start"));
        v.command(Command::ProfileSort, 10);
        assert_eq!(
            names(&v),
            ["epoll_wait", "io", "main", "read", "spin", "start", "work"]
        );
        // The selection is a function, not a row: it follows the sort.
        v.command(Command::Down, 10);
        assert_eq!(v.table_index(), Some(1));
        v.command(Command::ProfileSort, 10);
        assert_eq!(v.rows()[v.table_index().unwrap()].name, "io");
    }

    #[test]
    fn arrows_walk_the_flame_graph_and_enter_zooms_esc_unzooms() {
        let mut v = view(2);
        v.command(Command::NextPane, 10);
        assert_eq!(v.mode(), ProfileMode::Flame);
        assert!(path(&v).is_empty(), "the root first");
        v.command(Command::Down, 10);
        v.command(Command::Down, 10);
        assert_eq!(path(&v), ["start", "work"]);
        v.command(Command::ScrollRight, 10);
        assert_eq!(path(&v), ["start", "io"]);
        v.command(Command::ScrollRight, 10);
        assert_eq!(path(&v), ["start", "io"], "no sibling further right");
        v.command(Command::ScrollLeft, 10);
        v.command(Command::Enter, 10);
        let (top, at) = v.zoomed();
        assert_eq!(
            (top.name.as_str(), at.len(), v.zoom_depth()),
            ("work", 2, 1)
        );
        // Up stops at the zoomed frame; Bottom goes down the largest children.
        v.command(Command::Up, 10);
        assert_eq!(path(&v), ["start", "work"]);
        v.command(Command::Bottom, 10);
        assert_eq!(path(&v), ["start", "work", "spin"]);
        v.command(Command::Enter, 10);
        assert_eq!(v.zoom_depth(), 2);
        // New samples keep the zoom and the selection (paths of names).
        v.add(&snapshot(
            T0 + 500,
            &[(11, "w1", 0, &["spin", "work", "start"])],
        ));
        assert_eq!(
            (v.zoomed().0.name.as_str(), v.zoomed().0.samples),
            ("spin", 5)
        );
        assert!(v.back() && v.zoom_depth() == 1);
        assert!(v.back() && v.zoom_depth() == 0);
        assert!(!v.back(), "nothing left: the view closes");
        assert_eq!(path(&v), ["start", "work", "spin"]);
    }

    #[test]
    fn search_marks_jumps_and_gives_the_matched_share() {
        let mut v = view(2);
        v.command(Command::NextPane, 10);
        v.command(Command::Search, 10);
        for c in "re".chars() {
            v.search_edit(Some(c));
        }
        // "re" is in read only: its frame, a quarter of the samples.
        assert_eq!(path(&v), ["start", "io", "read"]);
        assert_eq!(v.search_share(), Some((1, 0.25)));
        v.keep_search();
        v.search_edit(None);
        v.search.open();
        for c in "s".chars() {
            v.search_edit(Some(c));
        }
        v.keep_search();
        // start and spin: start holds spin, so 3 of 4 threads' samples, counted once.
        assert_eq!(v.search_share(), Some((2, 0.75)));
        // Typed from read, the first match after it is around, at start.
        assert_eq!(path(&v), ["start"]);
        let mut seen = Vec::new();
        for _ in 0..3 {
            v.command(Command::SearchNext, 10);
            seen.push(v.selected_path().last().cloned().unwrap_or_default());
        }
        assert_eq!(seen, ["spin", "start", "spin"]);
        v.command(Command::SearchPrev, 10);
        assert_eq!(path(&v), ["start"]);
        // In the table, the rows: from spin (the first), start is the next with an s.
        v.command(Command::NextPane, 10);
        v.command(Command::Top, 10);
        v.command(Command::SearchNext, 10);
        assert_eq!(v.rows()[v.table_index().unwrap()].name, "start");
        assert!(v.back(), "Esc clears the search first");
        assert!(v.search().pattern().is_none());
        assert_eq!(
            v.command(Command::SearchNext, 10).as_deref(),
            Some("no search: / searches the function names")
        );
    }

    #[test]
    fn the_scope_is_the_process_or_the_thread_selected() {
        let mut v = view(2);
        v.command(Command::ProfileScope, 10);
        assert_eq!(v.scope_thread(), Some(12));
        assert_eq!((v.tree().name.as_str(), v.tree().samples), ("w2 (12)", 2));
        assert_eq!(names(&v), ["spin", "start", "work"]);
        v.command(Command::ProfileScope, 10);
        assert_eq!(v.tree().samples, 8);
        let mut none = ProfileView::new(1, "x", None);
        assert!(none.command(Command::ProfileScope, 10).is_some());
        // Enter on a table row: its function in the flame graph, where it weighs most.
        v.command(Command::Top, 10);
        v.command(Command::Enter, 10);
        assert_eq!(
            (v.mode(), path(&v)),
            (ProfileMode::Flame, vec!["start", "work", "spin"])
        );
    }

    #[test]
    fn a_big_profile_is_derived_every_few_samples_and_before_a_key() {
        // Samples of 100 threads, each in a function of its own: 100 new stacks a sample.
        let names: Vec<String> = (0..2300).map(|i| format!("f{i}")).collect();
        let mut v = ProfileView::new(4242, "app", None);
        let add = |v: &mut ProfileView, i: usize| {
            let stacks: Vec<[&str; 1]> = (0..100).map(|t| [names[i * 100 + t].as_str()]).collect();
            let threads: Vec<crate::tracer::diff::fixture::T> = stacks
                .iter()
                .enumerate()
                .map(|(t, s)| (100 + t as u32, "w", 0, &s[..]))
                .collect();
            v.add(&snapshot(T0 + i as u64 * 50, &threads));
        };
        for i in 0..DERIVE_STACKS / 100 {
            add(&mut v, i);
        }
        assert_eq!((v.pending(), v.tree().samples), (0, 2000));
        // Past the bound, every second sample.
        add(&mut v, 20);
        assert_eq!((v.pending(), v.tree().samples), (1, 2000));
        add(&mut v, 21);
        assert_eq!((v.pending(), v.rows().len()), (0, 2200));
        // A key acts on every sample.
        add(&mut v, 22);
        v.command(Command::Down, 10);
        assert_eq!((v.pending(), v.tree().samples), (0, 2300));
    }
}
