//! The inspector's state and the only place it changes: [`App::update`] takes an [`Action`]
//! (a key's command, new data from the tracer worker or the process lister) and returns the
//! [`Effect`]s the event loop must carry out. Each screen keeps its state in its own type
//! (the submodules); the UI reads them through `&App` only.

use std::sync::Arc;
use std::time::Duration;

use crate::proclist::ProcessInfo;
use crate::tracer::{CacheRefused, Process};
use keymap::{Command, Context};

pub mod filter;
pub mod help;
pub mod history;
pub mod inspector;
pub mod keymap;
pub mod process_list;
pub mod refresh;

/// Refresh interval bounds and default.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub use help::HelpOverlay;
pub use history::{HISTORY, HISTORY_FRAMES, History};
pub use inspector::threads::{ThreadRow, ThreadSort};
pub use inspector::{Inspector, Pane, View};
pub use process_list::{ProcColumn, ProcessList};
pub use refresh::Refresh;

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The list of processes to pick from.
    ProcessList,
    /// One process's threads and stacks.
    Inspector,
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
    ProcessesListed(Vec<ProcessInfo>),
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

/// The app state: one state type per screen and overlay, and what the status line says.
#[derive(Debug, Clone)]
pub struct App {
    screen: Screen,
    process_list: ProcessList,
    /// The inspected process, while one is.
    inspector: Option<Inspector>,
    help: HelpOverlay,
    refresh: Refresh,
    /// The last failure (a trace, a save), until the next success.
    last_error: Option<String>,
    /// A note for the status line (e.g. where a file was saved).
    status_note: Option<String>,
    /// Rows of the focused list, for PgUp/PgDn.
    page_size: usize,
    no_color: bool,
    mouse: bool,
    quit: bool,
}

impl App {
    pub fn new() -> App {
        App {
            screen: Screen::ProcessList,
            process_list: ProcessList::default(),
            inspector: None,
            help: HelpOverlay::default(),
            refresh: Refresh::default(),
            last_error: None,
            status_note: None,
            page_size: 10,
            no_color: false,
            mouse: true,
            quit: false,
        }
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn process_list(&self) -> &ProcessList {
        &self.process_list
    }

    /// The inspected process and its panes, while one is inspected.
    pub fn inspector(&self) -> Option<&Inspector> {
        self.inspector.as_ref()
    }

    pub fn help(&self) -> &HelpOverlay {
        &self.help
    }

    /// How and whether snapshots are being taken.
    pub fn refresh(&self) -> &Refresh {
        &self.refresh
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The status line's note (e.g. where a file was saved).
    pub fn status_note(&self) -> Option<&str> {
        self.status_note.as_deref()
    }

    /// Draw without colour (`NO_COLOR`).
    pub fn no_color(&self) -> bool {
        self.no_color
    }

    /// The mouse is captured.
    pub fn mouse(&self) -> bool {
        self.mouse
    }

    /// The user asked to quit.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Keys are text for the filter prompt, not commands.
    pub fn typing_filter(&self) -> bool {
        self.process_list.filter().is_editing()
    }

    /// The keymap context of the current screen.
    pub fn context(&self) -> Context {
        match self.screen {
            Screen::ProcessList => Context::ProcessList,
            Screen::Inspector => Context::Inspector,
        }
    }

    /// The command a key means now (the keymap, in the current screen's context).
    pub fn key_command(&self, key: ratatui::crossterm::event::KeyEvent) -> Option<Command> {
        keymap::lookup(self.context(), key)
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Start(s) => {
                self.refresh.start(s.interval, s.snapshot_mode);
                self.mouse = s.mouse;
                self.no_color = s.no_color;
            }
            Action::InspectTarget(t) => return self.inspect_target(&t),
            Action::Inspect(pid) => return self.inspect(pid),
            Action::OpenOffline(history) => self.open_offline(history),
            Action::Command(c) => return self.command(c),
            Action::FilterChar(c) => {
                self.process_list.filter_mut().push(c);
                self.process_list.keep_selection();
            }
            Action::FilterBackspace => {
                self.process_list.filter_mut().pop();
                self.process_list.keep_selection();
            }
            Action::ProcessesListed(list) => self.process_list.replace(list),
            Action::TraceStarted => self.refresh.set_tracing(true),
            Action::Snapshot(p) => {
                self.refresh.set_tracing(false);
                self.last_error = None;
                if let Some(i) = &mut self.inspector {
                    i.accept_snapshot(p);
                }
            }
            Action::TraceFailed { message, exited } => {
                self.refresh.set_tracing(false);
                self.last_error = Some(message);
                if let Some(i) = &mut self.inspector {
                    i.mark_exited(exited);
                }
            }
            Action::ClickRow { pane, row } => match (self.screen, pane) {
                (Screen::ProcessList, _) => self.process_list.click(row),
                (Screen::Inspector, Some(pane)) => {
                    if let Some(i) = &mut self.inspector {
                        i.click(pane, row);
                    }
                }
                (Screen::Inspector, None) => {}
            },
            Action::Scroll(delta) => self.move_selection(if delta > 0 {
                Move::Down(delta as usize)
            } else {
                Move::Up(delta.unsigned_abs() as usize)
            }),
            Action::PageSize(n) => self.page_size = n.max(1),
            Action::LineCacheRefused(r) => {
                self.status_note = Some(crate::describe::line_cache_refused(&r));
            }
            Action::Saved(Ok(path)) => self.status_note = Some(format!("saved {path}")),
            Action::Saved(Err(e)) => self.last_error = Some(e),
        }
        Vec::new()
    }

    /// Opens the inspector on `pid` (what [`Action::Inspect`] does).
    fn inspect(&mut self, pid: u32) -> Vec<Effect> {
        let command = self.process_list.command_of(pid).unwrap_or_default();
        self.inspector = Some(Inspector::new(pid, command));
        self.screen = Screen::Inspector;
        self.last_error = None;
        self.refresh.set_tracing(true);
        vec![Effect::Inspect(pid)]
    }

    /// Opens the inspector on `t`'s process; when the id given was a thread's, that thread
    /// is selected and the status line says so.
    fn inspect_target(&mut self, t: &crate::tracer::TargetId) -> Vec<Effect> {
        let effects = self.inspect(t.pid);
        if let Some(tid) = t.thread {
            if let Some(i) = &mut self.inspector {
                i.select_thread(tid);
            }
            self.status_note = crate::describe::thread_selected_text(t);
        }
        effects
    }

    /// Shows loaded snapshots (oldest first) offline: no tracing, the same panes.
    fn open_offline(&mut self, history: Vec<Arc<Process>>) {
        let Some(pid) = history.last().map(|p| p.id()) else {
            return;
        };
        self.inspect(pid);
        self.refresh.go_offline();
        if let Some(i) = &mut self.inspector {
            for p in history {
                i.accept_snapshot(p);
            }
        }
        self.refresh.set_tracing(false);
    }

    fn command(&mut self, c: Command) -> Vec<Effect> {
        if self.help.is_open() && !self.help.command(c, self.page_size as u16) {
            return Vec::new();
        }
        match c {
            Command::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Command::Help => self.help.toggle(),
            Command::Back => return self.back(),
            Command::Enter => return self.enter(),
            Command::Filter | Command::Sort | Command::InvertSort | Command::ToggleKernel => {
                self.process_list.command(c);
            }
            Command::SnapshotNow
            | Command::TogglePause
            | Command::Faster
            | Command::Slower
            | Command::ToggleMode => {
                return self.refresh.command(c, self.inspector.is_some());
            }
            Command::DiffView
            | Command::GroupView
            | Command::GoroutineView
            | Command::OlderBase
            | Command::NewerBase
            | Command::SortThreads
            | Command::NextPane
            | Command::PrevPane => {
                if let Some(i) = &mut self.inspector {
                    i.command(c);
                }
            }
            Command::Save | Command::SaveHistory => return self.save(c == Command::SaveHistory),
            Command::Up => self.move_selection(Move::Up(1)),
            Command::Down => self.move_selection(Move::Down(1)),
            Command::PageUp => self.move_selection(Move::Up(self.page_size)),
            Command::PageDown => self.move_selection(Move::Down(self.page_size)),
            Command::Top => self.move_selection(Move::To(0)),
            Command::Bottom => self.move_selection(Move::To(usize::MAX)),
        }
        Vec::new()
    }

    /// Esc: closes help, else clears the filter, else leaves the inspector.
    fn back(&mut self) -> Vec<Effect> {
        let filter = self.process_list.filter();
        if self.help.is_open() {
            self.help.close();
        } else if filter.is_editing()
            || (!filter.text().is_empty() && self.screen == Screen::ProcessList)
        {
            self.process_list.filter_mut().clear();
            self.process_list.keep_selection();
        } else if self.screen == Screen::Inspector {
            self.screen = Screen::ProcessList;
            if let Some(i) = self.inspector.take() {
                self.process_list.select(i.pid());
            }
            self.last_error = None;
            self.refresh.set_tracing(false);
            return vec![Effect::StopInspecting];
        }
        Vec::new()
    }

    /// Enter: keeps the filter being edited, or inspects the selected (else the first) process.
    fn enter(&mut self) -> Vec<Effect> {
        if self.process_list.filter().is_editing() {
            self.process_list.filter_mut().keep();
        } else if self.screen == Screen::ProcessList
            && let Some(pid) = self.process_list.pid_to_inspect()
        {
            return self.inspect(pid);
        }
        Vec::new()
    }

    /// Writes the newest snapshot, or the whole history.
    fn save(&self, history: bool) -> Vec<Effect> {
        let Some(i) = &self.inspector else {
            return Vec::new();
        };
        let docs: Vec<Arc<Process>> = if history {
            i.history().iter().cloned().collect()
        } else {
            i.snapshot().cloned().into_iter().collect()
        };
        if docs.is_empty() {
            Vec::new()
        } else {
            vec![Effect::Save(docs)]
        }
    }

    fn move_selection(&mut self, m: Move) {
        match self.screen {
            Screen::Inspector => {
                if let Some(i) = &mut self.inspector {
                    i.move_selection(m);
                }
            }
            Screen::ProcessList => self.process_list.move_selection(m),
        }
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

/// A move of a list's selection.
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
            (
                app.refresh().interval(),
                app.refresh().snapshot_mode(),
                app.mouse(),
                app.no_color()
            ),
            (Duration::from_secs(5), true, false, true)
        );
        assert_eq!(app.update(Action::Inspect(4242)), [Effect::Inspect(4242)]);
        assert_eq!(app.screen(), Screen::Inspector);

        let mut offline = App::new();
        let history: Vec<Arc<Process>> = (0..3)
            .map(|i| Arc::new(snapshot(T0 + i * 1000, &[(1, "main", 0, MAIN)])))
            .collect();
        assert!(offline.update(Action::OpenOffline(history)).is_empty());
        let r = offline.refresh();
        assert!(r.offline() && r.paused() && !r.tracing());
        let i = offline.inspector().unwrap();
        let h = i.history();
        assert_eq!(
            (i.pid(), h.len(), h.stuck(1).map(|s| s.snapshots)),
            (4242, 3, Some(3))
        );
        // Derived as the snapshots arrived: the render reads them.
        assert_eq!(h.groups().len(), 1);
        assert_eq!(h.diff().map(|d| d.threads.len()), Some(1));
    }
}
