//! The inspector's state and the only place it changes: [`App::update`] takes an [`Action`]
//! (a key's command, new data from the tracer worker or the process lister) and returns the
//! [`Effect`]s the event loop must carry out. Views hold ids (pid, tid), not row indexes, so
//! selections survive refreshes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::proclist::ProcessInfo;
use crate::tracer::diff::{Diff, StackRun};
use crate::tracer::group::{Group, GroupChange};
use crate::tracer::{CacheRefused, Process, Thread};
use keymap::{Command, Context};

pub mod history;
pub mod keymap;

/// Refresh interval bounds and default.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub use history::{HISTORY, HISTORY_FRAMES, History};

/// Columns of the process list, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcColumn {
    Pid,
    User,
    State,
    Threads,
    Cpu,
    Rss,
    Command,
}

impl ProcColumn {
    pub const ALL: [ProcColumn; 7] = [
        ProcColumn::Pid,
        ProcColumn::User,
        ProcColumn::State,
        ProcColumn::Threads,
        ProcColumn::Cpu,
        ProcColumn::Rss,
        ProcColumn::Command,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ProcColumn::Pid => "PID",
            ProcColumn::User => "USER",
            ProcColumn::State => "S",
            ProcColumn::Threads => "THR",
            ProcColumn::Cpu => "CPU%",
            ProcColumn::Rss => "RSS",
            ProcColumn::Command => "COMMAND",
        }
    }

    fn next(self) -> ProcColumn {
        let i = ProcColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        ProcColumn::ALL[(i + 1) % ProcColumn::ALL.len()]
    }
}

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Processes,
    Process,
}

/// What the process view's upper pane shows.
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
}

/// Order of the threads pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSort {
    /// The kernel's order (main thread first).
    Tid,
    /// Longest unchanged stack first.
    Stuck,
    /// Most CPU since the previous snapshot first.
    Cpu,
}

/// Which pane of the process view has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Threads,
    Frames,
}

/// How the inspector was started (the command line's choices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub interval: Duration,
    pub snapshot_mode: bool,
    pub mouse: bool,
    pub no_color: bool,
}

/// Everything that can happen to the app.
#[derive(Debug, Clone)]
pub enum Action {
    /// The settings the inspector starts with.
    Start(Settings),
    /// Inspect the process of an id the user gave (a thread's id selects that thread).
    InspectTarget(crate::tracer::TargetId),
    /// Inspect `pid` as given (it names nothing traceable yet: the worker's trace says why).
    Inspect(u32),
    /// Show loaded snapshots (oldest first) offline.
    OpenOffline(Vec<Arc<Process>>),
    /// A key's command (from the keymap).
    Command(Command),
    /// A character typed while the filter is being edited.
    FilterChar(char),
    FilterBackspace,
    /// A fresh process list.
    Processes(Vec<ProcessInfo>),
    /// The tracer worker started a snapshot.
    TraceStarted,
    /// A finished snapshot.
    Snapshot(Arc<Process>),
    /// A failed snapshot: the message (with its hint) and whether the process is gone.
    TraceFailed {
        message: String,
        exited: bool,
    },
    /// The line cache directory was refused: the tracer runs without it.
    LineCacheRefused(CacheRefused),
    /// Mouse: a click on row `row` of `pane` (rows counted from the first data row).
    ClickRow {
        pane: Option<Pane>,
        row: usize,
    },
    /// Mouse wheel over the focused list: positive is down.
    Scroll(i32),
    /// The visible height of the lists changed (for PgUp/PgDn).
    PageSize(usize),
    /// A save finished: the path written, or the error.
    Saved(Result<String, String>),
}

/// What the event loop must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start inspecting `pid` (the worker attaches to it on its next snapshot).
    Inspect(u32),
    /// Stop inspecting (back to the process list).
    StopInspecting,
    SnapshotNow,
    SetInterval(Duration),
    SetPaused(bool),
    SetSnapshotMode(bool),
    /// Write these snapshots (oldest first) to a new file.
    Save(Vec<Arc<Process>>),
    Quit,
}

/// The inspected process.
#[derive(Debug, Clone)]
pub struct Target {
    pub pid: u32,
    /// The command line from the process list, until the first snapshot says it.
    pub command: String,
    /// The last snapshots, oldest first, at most [`HISTORY`] (bounded memory), with the
    /// groups and the diff derived from them.
    pub history: History,
    /// When the current snapshot arrived (for its age).
    pub received_at: Option<Instant>,
    /// Threads of the previous snapshot that are gone from the current one.
    pub exited_threads: Vec<Thread>,
    pub selected_tid: Option<u32>,
    pub selected_frame: usize,
    pub pane: Pane,
    pub exited: bool,
    pub view: View,
    pub thread_sort: ThreadSort,
    /// The selected group, by its stack (survives refreshes).
    pub selected_group: Option<Vec<String>>,
    /// The selected goroutine, by its id (survives refreshes).
    pub selected_goroutine: Option<u64>,
    /// Per thread of the newest snapshot: for how many snapshots, and since when, its stack
    /// has not changed; updated as each snapshot arrives.
    pub stuck: HashMap<u32, StackRun>,
}

impl Target {
    /// The newest snapshot.
    pub fn snapshot(&self) -> Option<&Arc<Process>> {
        self.history.newest()
    }

    /// The snapshot before the newest.
    pub fn previous(&self) -> Option<&Arc<Process>> {
        self.history.previous()
    }
}

/// One row of the threads pane: a live thread or one that exited since the last snapshot.
pub struct ThreadRow<'a> {
    pub thread: &'a Thread,
    pub exited: bool,
    /// CPU use since the previous snapshot, in percent of one core.
    pub cpu_percent: Option<f64>,
    /// How long its stack has not changed (live threads).
    pub stuck: Option<&'a StackRun>,
}

/// The app state: model and view state.
#[derive(Debug, Clone)]
pub struct App {
    pub screen: Screen,
    pub processes: Vec<ProcessInfo>,
    pub selected_pid: Option<u32>,
    pub filter: String,
    pub filter_editing: bool,
    pub sort: ProcColumn,
    pub sort_descending: bool,
    pub show_kernel: bool,
    pub target: Option<Target>,
    pub help: bool,
    /// First line of the help text shown (the help scrolls on small terminals).
    pub help_scroll: u16,
    pub snapshot_mode: bool,
    pub interval: Duration,
    pub paused: bool,
    pub tracing: bool,
    pub last_error: Option<String>,
    /// A note for the status line (e.g. where a file was saved).
    pub message: Option<String>,
    /// Opened from files: no live tracing.
    pub offline: bool,
    pub page_size: usize,
    pub no_color: bool,
    pub mouse: bool,
    pub quit: bool,
}

impl App {
    pub fn new() -> App {
        App {
            screen: Screen::Processes,
            processes: Vec::new(),
            selected_pid: None,
            filter: String::new(),
            filter_editing: false,
            sort: ProcColumn::Cpu,
            sort_descending: true,
            show_kernel: false,
            target: None,
            help: false,
            help_scroll: 0,
            snapshot_mode: false,
            interval: DEFAULT_INTERVAL,
            paused: false,
            tracing: false,
            last_error: None,
            message: None,
            offline: false,
            page_size: 10,
            no_color: false,
            mouse: true,
            quit: false,
        }
    }

    /// The keymap context of the current screen.
    pub fn context(&self) -> Context {
        match self.screen {
            Screen::Processes => Context::Processes,
            Screen::Process => Context::Process,
        }
    }

    /// Opens the process view on `pid` directly (`rstack-tui PID`): what [`Action::Inspect`]
    /// does, callable on its own to set up a view.
    pub fn inspect(&mut self, pid: u32) -> Vec<Effect> {
        let command = self
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .map(|p| p.command.clone())
            .unwrap_or_default();
        self.target = Some(Target {
            pid,
            command,
            history: History::default(),
            received_at: None,
            exited_threads: Vec::new(),
            selected_tid: None,
            selected_frame: 0,
            pane: Pane::Threads,
            exited: false,
            view: View::Threads,
            thread_sort: ThreadSort::Tid,
            selected_group: None,
            selected_goroutine: None,
            stuck: HashMap::new(),
        });
        self.screen = Screen::Process;
        self.last_error = None;
        self.tracing = true;
        vec![Effect::Inspect(pid)]
    }

    /// Opens the process view on `t`'s process; when the id given was a thread's, that thread
    /// is selected and the status line says so.
    fn inspect_target(&mut self, t: &crate::tracer::TargetId) -> Vec<Effect> {
        let effects = self.inspect(t.pid);
        if let Some(tid) = t.thread {
            if let Some(target) = &mut self.target {
                target.selected_tid = Some(tid);
            }
            self.message = crate::describe::thread_selected_text(t);
        }
        effects
    }

    /// Shows loaded snapshots (oldest first) offline: no tracing, the same panes. What
    /// [`Action::OpenOffline`] does, callable on its own to set up a view.
    pub fn open_offline(&mut self, history: Vec<Arc<Process>>) {
        let Some(pid) = history.last().map(|p| p.id()) else {
            return;
        };
        self.inspect(pid);
        self.offline = true;
        self.paused = true;
        for p in history {
            self.accept_snapshot(p);
        }
        self.tracing = false;
    }

    /// The process list as shown: filtered, kernel threads hidden unless asked, sorted.
    pub fn visible_processes(&self) -> Vec<&ProcessInfo> {
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<&ProcessInfo> = self
            .processes
            .iter()
            .filter(|p| self.show_kernel || !p.kernel_thread)
            .filter(|p| {
                needle.is_empty()
                    || p.pid.to_string().contains(&needle)
                    || p.name.to_lowercase().contains(&needle)
                    || p.command.to_lowercase().contains(&needle)
                    || p.user.to_lowercase().contains(&needle)
            })
            .collect();
        rows.sort_by(|a, b| {
            let ord = match self.sort {
                ProcColumn::Pid => a.pid.cmp(&b.pid),
                ProcColumn::User => a.user.cmp(&b.user),
                ProcColumn::State => a.state.cmp(&b.state),
                ProcColumn::Threads => a.threads.cmp(&b.threads),
                ProcColumn::Cpu => a.cpu_percent.total_cmp(&b.cpu_percent),
                ProcColumn::Rss => a.rss_bytes.cmp(&b.rss_bytes),
                ProcColumn::Command => a.command.cmp(&b.command),
            };
            let ord = if self.sort_descending {
                ord.reverse()
            } else {
                ord
            };
            ord.then(a.pid.cmp(&b.pid))
        });
        rows
    }

    /// Index of the selected process among the visible ones.
    pub fn selected_process_index(&self, rows: &[&ProcessInfo]) -> Option<usize> {
        let pid = self.selected_pid?;
        rows.iter().position(|p| p.pid == pid)
    }

    /// The rows of the threads pane: the current snapshot's threads, then the ones that
    /// exited since the previous snapshot (marked).
    pub fn thread_rows(&self) -> Vec<ThreadRow<'_>> {
        let Some(t) = &self.target else {
            return Vec::new();
        };
        let Some(snap) = t.snapshot() else {
            return Vec::new();
        };
        let wall = t
            .previous()
            .and_then(|p| snap.taken_at().duration_since(p.taken_at()).ok())
            .filter(|d| !d.is_zero());
        let before: HashMap<u32, &Thread> = t
            .previous()
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
                stuck: t.stuck.get(&th.id()),
            })
            .collect();
        match t.thread_sort {
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
        rows.extend(t.exited_threads.iter().map(|th| ThreadRow {
            thread: th,
            exited: true,
            cpu_percent: None,
            stuck: None,
        }));
        rows
    }

    /// The selected thread: in the group view the first thread of the selected group; in the
    /// diff view a thread of either side.
    pub fn selected_thread(&self) -> Option<&Thread> {
        let t = self.target.as_ref()?;
        if t.view == View::Groups {
            let groups = self.groups();
            let g = t
                .selected_group
                .as_ref()
                .and_then(|k| groups.iter().find(|g| &g.key == k))
                .or(groups.first())?;
            let tid = g.threads.first()?.0;
            return t.snapshot()?.threads().iter().find(|th| th.id() == tid);
        }
        let tid = t.selected_tid?;
        if let Some(th) = self
            .thread_rows()
            .into_iter()
            .find(|r| r.thread.id() == tid)
            .map(|r| r.thread)
        {
            return Some(th);
        }
        self.diff_pair()?
            .0
            .threads()
            .iter()
            .find(|th| th.id() == tid)
    }

    /// The two snapshots the diff view compares: (older, newest).
    pub fn diff_pair(&self) -> Option<(&Arc<Process>, &Arc<Process>)> {
        self.target.as_ref()?.history.diff_pair()
    }

    /// The groups of identical stacks in the newest snapshot, largest first.
    /// The selected goroutine of the goroutine view (the first when none is selected yet, or
    /// the selected one is gone).
    pub fn selected_goroutine(&self) -> Option<&crate::tracer::Goroutine> {
        let t = self.target.as_ref()?;
        let list = t.snapshot()?.goroutines();
        t.selected_goroutine
            .and_then(|id| list.iter().find(|g| g.id() == id))
            .or(list.first())
    }

    /// The frames of the lower pane: the selected goroutine's in the goroutine view, else the
    /// selected thread's.
    fn selected_frames(&self) -> usize {
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.view == View::Goroutines)
        {
            return self.selected_goroutine().map_or(0, |g| g.frames().len());
        }
        self.selected_thread().map_or(0, |th| th.frames().len())
    }

    /// The groups of identical stacks in the newest snapshot, largest first.
    pub fn groups(&self) -> &[Group] {
        self.target.as_ref().map_or(&[], |t| t.history.groups())
    }

    /// The diff of [`App::diff_pair`], derived when the snapshot arrived or the base moved.
    pub fn diff(&self) -> Option<&Diff> {
        self.target.as_ref()?.history.diff()
    }

    /// How group counts changed between the two snapshots of [`App::diff_pair`].
    pub fn group_changes(&self) -> &[GroupChange] {
        self.target
            .as_ref()
            .map_or(&[], |t| t.history.group_changes())
    }

    /// The tids of the upper pane's rows, in order, for the threads and diff views.
    fn row_tids(&self) -> Vec<u32> {
        match self.target.as_ref().map(|t| t.view) {
            Some(View::Diff) => self
                .diff()
                .map(|d| d.threads.iter().map(|t| t.tid).collect())
                .unwrap_or_default(),
            _ => self.thread_rows().iter().map(|r| r.thread.id()).collect(),
        }
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Start(s) => {
                self.interval = s.interval;
                self.snapshot_mode = s.snapshot_mode;
                self.mouse = s.mouse;
                self.no_color = s.no_color;
                Vec::new()
            }
            Action::InspectTarget(t) => self.inspect_target(&t),
            Action::Inspect(pid) => self.inspect(pid),
            Action::OpenOffline(history) => {
                self.open_offline(history);
                Vec::new()
            }
            Action::Command(c) => self.command(c),
            Action::FilterChar(c) => {
                self.filter.push(c);
                self.keep_process_selection();
                Vec::new()
            }
            Action::FilterBackspace => {
                self.filter.pop();
                self.keep_process_selection();
                Vec::new()
            }
            Action::Processes(list) => {
                self.processes = list;
                self.keep_process_selection();
                Vec::new()
            }
            Action::TraceStarted => {
                self.tracing = true;
                Vec::new()
            }
            Action::Snapshot(p) => {
                self.tracing = false;
                self.last_error = None;
                self.accept_snapshot(p);
                Vec::new()
            }
            Action::TraceFailed { message, exited } => {
                self.tracing = false;
                self.last_error = Some(message);
                if let Some(t) = &mut self.target {
                    t.exited |= exited;
                }
                Vec::new()
            }
            Action::ClickRow { pane, row } => {
                match (self.screen, pane) {
                    (Screen::Processes, _) => {
                        let pid = self.visible_processes().get(row).map(|p| p.pid);
                        if pid.is_some() {
                            self.selected_pid = pid;
                        }
                    }
                    (Screen::Process, Some(pane)) => {
                        if let Some(t) = &mut self.target {
                            t.pane = pane;
                        }
                        match pane {
                            Pane::Threads => self.move_thread(Move::To(row)),
                            Pane::Frames => self.move_frame(Move::To(row)),
                        }
                    }
                    (Screen::Process, None) => {}
                }
                Vec::new()
            }
            Action::Scroll(delta) => {
                let m = if delta > 0 {
                    Move::Down(delta as usize)
                } else {
                    Move::Up(delta.unsigned_abs() as usize)
                };
                self.move_selection(m);
                Vec::new()
            }
            Action::PageSize(n) => {
                self.page_size = n.max(1);
                Vec::new()
            }
            Action::LineCacheRefused(r) => {
                self.message = Some(crate::describe::line_cache_refused(&r));
                Vec::new()
            }
            Action::Saved(Ok(path)) => {
                self.message = Some(format!("saved {path}"));
                Vec::new()
            }
            Action::Saved(Err(e)) => {
                self.last_error = Some(e);
                Vec::new()
            }
        }
    }

    fn command(&mut self, c: Command) -> Vec<Effect> {
        if self.help && !self.help_command(c) {
            return Vec::new();
        }
        match c {
            Command::Quit => {
                self.quit = true;
                vec![Effect::Quit]
            }
            Command::Help => {
                self.help = !self.help;
                self.help_scroll = 0;
                Vec::new()
            }
            Command::Back => self.back(),
            Command::Enter => self.enter(),
            Command::Filter | Command::Sort | Command::InvertSort | Command::ToggleKernel => {
                self.list_command(c);
                Vec::new()
            }
            Command::SnapshotNow
            | Command::TogglePause
            | Command::Faster
            | Command::Slower
            | Command::ToggleMode => self.refresh_command(c),
            Command::DiffView
            | Command::GroupView
            | Command::GoroutineView
            | Command::OlderBase
            | Command::NewerBase
            | Command::SortThreads
            | Command::NextPane
            | Command::PrevPane => {
                self.view_command(c);
                Vec::new()
            }
            Command::Save | Command::SaveHistory => self.save(c == Command::SaveHistory),
            Command::Up => self.moved(Move::Up(1)),
            Command::Down => self.moved(Move::Down(1)),
            Command::PageUp => self.moved(Move::Up(self.page_size)),
            Command::PageDown => self.moved(Move::Down(self.page_size)),
            Command::Top => self.moved(Move::To(0)),
            Command::Bottom => self.moved(Move::To(usize::MAX)),
        }
    }

    /// While help is open, movement scrolls it and other keys do nothing: true for the keys
    /// that still act (closing help, quitting).
    fn help_command(&mut self, c: Command) -> bool {
        let page = self.page_size as u16;
        self.help_scroll = match c {
            Command::Up => self.help_scroll.saturating_sub(1),
            Command::Down => self.help_scroll.saturating_add(1),
            Command::PageUp => self.help_scroll.saturating_sub(page),
            Command::PageDown => self.help_scroll.saturating_add(page),
            Command::Top => 0,
            Command::Help | Command::Back | Command::Quit => return true,
            _ => return false,
        };
        false
    }

    fn moved(&mut self, m: Move) -> Vec<Effect> {
        self.move_selection(m);
        Vec::new()
    }

    /// Esc: closes help, else clears the filter, else leaves the process view.
    fn back(&mut self) -> Vec<Effect> {
        if self.help {
            self.help = false;
        } else if self.filter_editing
            || (!self.filter.is_empty() && self.screen == Screen::Processes)
        {
            self.filter_editing = false;
            self.filter.clear();
            self.keep_process_selection();
        } else if self.screen == Screen::Process {
            self.screen = Screen::Processes;
            if let Some(t) = self.target.take() {
                self.selected_pid = Some(t.pid);
            }
            self.last_error = None;
            self.tracing = false;
            return vec![Effect::StopInspecting];
        }
        Vec::new()
    }

    /// Enter: keeps the filter being edited, or inspects the selected (else the first) process.
    fn enter(&mut self) -> Vec<Effect> {
        if self.filter_editing {
            self.filter_editing = false;
        } else if self.screen == Screen::Processes {
            let rows = self.visible_processes();
            let pid = self
                .selected_process_index(&rows)
                .or((!rows.is_empty()).then_some(0))
                .map(|i| rows[i].pid);
            if let Some(pid) = pid {
                return self.inspect(pid);
            }
        }
        Vec::new()
    }

    /// The process list's filter, sort and kernel-thread toggle.
    fn list_command(&mut self, c: Command) {
        match c {
            Command::Filter => self.filter_editing = true,
            Command::Sort => {
                self.sort = self.sort.next();
                // Numbers read best largest first, text alphabetically.
                self.sort_descending = matches!(
                    self.sort,
                    ProcColumn::Cpu | ProcColumn::Rss | ProcColumn::Threads
                );
            }
            Command::InvertSort => self.sort_descending = !self.sort_descending,
            Command::ToggleKernel => {
                self.show_kernel = !self.show_kernel;
                self.keep_process_selection();
            }
            _ => {}
        }
    }

    /// Snapshot now, pause, the refresh interval and the snapshot mode: what the worker does.
    fn refresh_command(&mut self, c: Command) -> Vec<Effect> {
        match c {
            Command::SnapshotNow if self.target.is_some() && !self.offline => {
                self.tracing = true;
                vec![Effect::SnapshotNow]
            }
            Command::TogglePause => {
                self.paused = !self.paused;
                vec![Effect::SetPaused(self.paused)]
            }
            Command::Faster | Command::Slower => {
                let steps = [500u64, 1000, 2000, 5000, 10_000, 30_000, 60_000];
                let now = self.interval.as_millis() as u64;
                let i = steps
                    .iter()
                    .position(|s| *s >= now)
                    .unwrap_or(steps.len() - 1);
                let i = if c == Command::Faster {
                    i.saturating_sub(1)
                } else {
                    (i + 1).min(steps.len() - 1)
                };
                self.interval = Duration::from_millis(steps[i]).clamp(MIN_INTERVAL, MAX_INTERVAL);
                vec![Effect::SetInterval(self.interval)]
            }
            Command::ToggleMode => {
                self.snapshot_mode = !self.snapshot_mode;
                vec![Effect::SetSnapshotMode(self.snapshot_mode)]
            }
            _ => Vec::new(),
        }
    }

    /// The process view's views, diff base, thread order and pane focus.
    fn view_command(&mut self, c: Command) {
        let Some(t) = &mut self.target else { return };
        match c {
            Command::DiffView | Command::GroupView | Command::GoroutineView => {
                let view = match c {
                    Command::DiffView => View::Diff,
                    Command::GroupView => View::Groups,
                    _ => View::Goroutines,
                };
                t.view = if t.view == view { View::Threads } else { view };
            }
            Command::OlderBase | Command::NewerBase => {
                t.history
                    .move_diff_base(if c == Command::OlderBase { 1 } else { -1 });
                t.view = View::Diff;
            }
            Command::SortThreads => {
                t.thread_sort = match t.thread_sort {
                    ThreadSort::Tid => ThreadSort::Stuck,
                    ThreadSort::Stuck => ThreadSort::Cpu,
                    ThreadSort::Cpu => ThreadSort::Tid,
                };
            }
            Command::NextPane | Command::PrevPane => {
                t.pane = if t.pane == Pane::Threads {
                    Pane::Frames
                } else {
                    Pane::Threads
                };
            }
            _ => {}
        }
    }

    /// Writes the newest snapshot, or the whole history.
    fn save(&self, history: bool) -> Vec<Effect> {
        let Some(t) = &self.target else {
            return Vec::new();
        };
        let docs: Vec<Arc<Process>> = if history {
            t.history.iter().cloned().collect()
        } else {
            t.snapshot().cloned().into_iter().collect()
        };
        if docs.is_empty() {
            Vec::new()
        } else {
            vec![Effect::Save(docs)]
        }
    }

    /// The command a key means now (the keymap, in the current screen's context).
    pub fn key_command(&self, key: ratatui::crossterm::event::KeyEvent) -> Option<Command> {
        keymap::lookup(self.context(), key)
    }

    fn accept_snapshot(&mut self, p: Arc<Process>) {
        let Some(t) = &mut self.target else { return };
        if p.id() != t.pid {
            return;
        }
        t.exited_threads = t
            .snapshot()
            .map(|old| {
                let live: HashSet<u32> = p.threads().iter().map(|th| th.id()).collect();
                old.threads()
                    .iter()
                    .filter(|th| !live.contains(&th.id()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        t.command = p.command().to_string();
        t.stuck = p
            .threads()
            .iter()
            .map(|th| {
                let run = StackRun::next(t.stuck.get(&th.id()), th, p.taken_at());
                (th.id(), run)
            })
            .collect();
        if t.selected_tid.is_none() {
            t.selected_tid = p.threads().first().map(|th| th.id());
        }
        t.history.push(p);
        t.received_at = Some(Instant::now());
        let frames = self.selected_frames();
        if let Some(t) = &mut self.target {
            t.selected_frame = t.selected_frame.min(frames.saturating_sub(1));
        }
    }

    /// After the list changed: keep the selected pid if still visible, else select the first.
    fn keep_process_selection(&mut self) {
        let rows = self.visible_processes();
        if self.selected_process_index(&rows).is_none() {
            self.selected_pid = rows.first().map(|p| p.pid);
        }
    }

    fn move_selection(&mut self, m: Move) {
        match (self.screen, self.target.as_ref().map(|t| t.pane)) {
            (Screen::Process, Some(Pane::Frames)) => self.move_frame(m),
            (Screen::Process, _) => self.move_thread(m),
            (Screen::Processes, _) => {
                let rows = self.visible_processes();
                let Some(i) = m.apply(self.selected_process_index(&rows), rows.len()) else {
                    return;
                };
                self.selected_pid = Some(rows[i].pid);
            }
        }
    }

    fn move_thread(&mut self, m: Move) {
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.view == View::Goroutines)
        {
            let ids: Vec<u64> = self
                .target
                .as_ref()
                .and_then(|t| t.snapshot())
                .map(|p| p.goroutines().iter().map(|g| g.id()).collect())
                .unwrap_or_default();
            let current = self
                .selected_goroutine()
                .and_then(|g| ids.iter().position(|id| *id == g.id()));
            let Some(i) = m.apply(current, ids.len()) else {
                return;
            };
            if let Some(t) = &mut self.target {
                if t.selected_goroutine != Some(ids[i]) {
                    t.selected_frame = 0;
                }
                t.selected_goroutine = Some(ids[i]);
            }
            return;
        }
        if self.target.as_ref().is_some_and(|t| t.view == View::Groups) {
            let groups = self.groups();
            let current = self
                .target
                .as_ref()
                .and_then(|t| t.selected_group.as_ref())
                .and_then(|k| groups.iter().position(|g| &g.key == k));
            let Some(i) = m.apply(current, groups.len()) else {
                return;
            };
            let key = groups[i].key.clone();
            if let Some(t) = &mut self.target {
                if t.selected_group.as_ref() != Some(&key) {
                    t.selected_frame = 0;
                }
                t.selected_group = Some(key);
            }
            return;
        }
        let rows = self.row_tids();
        let current = self
            .target
            .as_ref()
            .and_then(|t| t.selected_tid)
            .and_then(|tid| rows.iter().position(|r| *r == tid));
        let Some(i) = m.apply(current, rows.len()) else {
            return;
        };
        let tid = rows[i];
        if let Some(t) = &mut self.target {
            if t.selected_tid != Some(tid) {
                t.selected_frame = 0;
            }
            t.selected_tid = Some(tid);
        }
    }

    fn move_frame(&mut self, m: Move) {
        let n = self.selected_frames();
        if let Some(t) = &mut self.target
            && let Some(i) = m.apply(Some(t.selected_frame), n)
        {
            t.selected_frame = i;
        }
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

#[derive(Debug, Clone, Copy)]
enum Move {
    Up(usize),
    Down(usize),
    To(usize),
}

impl Move {
    /// The new index in a list of `len` rows, from `current`.
    fn apply(self, current: Option<usize>, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let cur = current.unwrap_or(0);
        Some(match self {
            Move::Up(n) => cur.saturating_sub(n),
            Move::Down(n) => cur.saturating_add(n).min(len - 1),
            Move::To(i) => i.min(len - 1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::diff::fixture::snapshot;

    const T0: u64 = 1_795_953_600_000;
    const MAIN: &[&str] = &["epoll_wait", "main"];

    #[test]
    fn start_up_goes_through_update() {
        let mut app = App::new();
        let settings = Settings {
            interval: Duration::from_secs(5),
            snapshot_mode: true,
            mouse: false,
            no_color: true,
        };
        assert!(app.update(Action::Start(settings)).is_empty());
        assert_eq!(
            (app.interval, app.snapshot_mode, app.mouse, app.no_color),
            (Duration::from_secs(5), true, false, true)
        );
        assert_eq!(app.update(Action::Inspect(4242)), [Effect::Inspect(4242)]);
        assert_eq!(app.screen, Screen::Process);

        let mut offline = App::new();
        let history: Vec<Arc<Process>> = (0..3)
            .map(|i| Arc::new(snapshot(T0 + i * 1000, &[(1, "main", 0, MAIN)])))
            .collect();
        assert!(offline.update(Action::OpenOffline(history)).is_empty());
        assert!(offline.offline && offline.paused && !offline.tracing);
        let t = offline.target.as_ref().unwrap();
        assert_eq!(
            (t.pid, t.history.len(), t.stuck[&1].snapshots),
            (4242, 3, 3)
        );
        // Derived as the snapshots arrived: the render reads them.
        assert_eq!(offline.groups().len(), 1);
        assert_eq!(offline.diff().map(|d| d.threads.len()), Some(1));
    }
}
