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
pub mod input;
pub mod inspector;
pub mod kept;
pub mod keymap;
pub mod look;
pub mod places;
pub mod process_list;
mod profiling;
pub mod refresh;
pub mod save_prompt;
pub mod scroll;
pub mod source;

/// Refresh interval bounds and default.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub use help::HelpOverlay;
pub use history::{HISTORY, HISTORY_FRAMES, History};
pub use input::InputMode;
pub use inspector::threads::{ThreadRow, ThreadSort};
pub use inspector::{Inspector, Pane, View};
pub use kept::{KEPT_PROCESSES, Kept};
pub use process_list::{ProcColumn, ProcessList};
pub use profiling::{ProfileRefused, SavedProfile};
pub use refresh::Refresh;
pub use save_prompt::SavePrompt;
pub use scroll::Viewport;

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
    /// Colours, palette and glyphs for this terminal.
    pub look: look::Look,
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
    /// The worker read when process `pid` started (clock ticks since boot), before its first
    /// snapshot: the view kept from an earlier visit of the same process comes back.
    Identified {
        pid: u32,
        start: u64,
    },
    /// Show loaded snapshots (oldest first) offline.
    OpenOffline(Vec<Arc<Process>>),
    /// A key's command (from the keymap).
    Command(Command),
    /// A character typed into the open prompt (the process list's filter, the search, a
    /// save's path).
    PromptChar(char),
    PromptBackspace,
    /// A fresh process list.
    ProcessesListed(Vec<ProcessInfo>),
    /// The tracer worker started a snapshot.
    TraceStarted,
    /// A finished snapshot.
    Snapshot(Arc<Process>),
    /// A sample for the open profile view, between two refreshes.
    Sample(Arc<Process>),
    /// A snapshot from `/proc` alone (no stacks): the process may not be traced.
    Degraded(Arc<Process>),
    /// A failed snapshot: the message (with its hint) and whether the process is gone.
    TraceFailed {
        message: String,
        exited: bool,
    },
    /// The line cache directory was refused: the tracer runs without it.
    LineCacheRefused(CacheRefused),
    /// Mouse: a click on the `row`th row shown of `pane` (counted from the first data row
    /// on screen; the app adds how far the list is scrolled).
    ClickRow {
        pane: Option<Pane>,
        row: usize,
    },
    /// Mouse wheel over the focused list: positive is down.
    Scroll(i32),
    /// The rows each list shows (for PgUp/PgDn and scrolling), from the layout.
    Viewport(Viewport),
    /// The furthest the help scrolls on this terminal (from the UI's layout of it).
    HelpRoom(u16),
    /// How far the open frame detail view scrolls at the screen's size.
    DetailMaxScroll(usize),
    /// A save finished: the path written, or the error.
    Saved(Result<String, String>),
    /// A save could not be written in `failed_dir`: ask where, starting from `suggestion`.
    SaveRefused {
        failed_dir: String,
        error: String,
        suggestion: String,
        docs: Vec<Arc<Process>>,
    },
    /// A profile could not be saved there: ask where.
    SaveProfileRefused(ProfileRefused),
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
    /// Sample at this interval (the profile view is open), or stop sampling.
    SetProfiling(Option<Duration>),
    /// Write a profile to a new file: at `to`, else `name` in the current directory (the
    /// format told by the extension, else folded).
    SaveProfile {
        profile: SavedProfile,
        name: String,
        to: Option<std::path::PathBuf>,
    },
    /// Write these snapshots (oldest first) to a new file.
    Save(Vec<Arc<Process>>),
    /// Write these snapshots to a new file at the path given.
    SaveTo(std::path::PathBuf, Vec<Arc<Process>>),
    Quit,
}

/// The app state: one state type per screen and overlay, and what the status line says.
#[derive(Debug, Clone)]
pub struct App {
    screen: Screen,
    process_list: ProcessList,
    /// The inspected process, while one is.
    inspector: Option<Inspector>,
    /// The views of processes left with Esc, for going back into them.
    kept: Kept,
    /// Where following a wait came from, for Backspace.
    places: places::Places,
    help: HelpOverlay,
    /// A save's path being asked for.
    save_prompt: Option<SavePrompt>,
    refresh: Refresh,
    /// The last failure (a trace, a save), until the next success.
    last_error: Option<String>,
    /// A note for the status line (e.g. where a file was saved).
    status_note: Option<String>,
    /// Rows each list shows, for PgUp/PgDn and how far lists scroll.
    viewport: Viewport,
    look: look::Look,
    mouse: bool,
    quit: bool,
}

impl App {
    pub fn new() -> App {
        App {
            screen: Screen::ProcessList,
            process_list: ProcessList::default(),
            inspector: None,
            kept: Kept::default(),
            places: places::Places::default(),
            help: HelpOverlay::default(),
            save_prompt: None,
            refresh: Refresh::default(),
            last_error: None,
            status_note: None,
            viewport: Viewport::default(),
            look: look::Look::default(),
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

    /// The views of processes left, kept for going back into them.
    pub fn kept(&self) -> &Kept {
        &self.kept
    }

    /// The places Backspace returns to.
    pub fn places(&self) -> &places::Places {
        &self.places
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

    /// Draw without colour (`NO_COLOR`, a terminal without colour, `--theme mono`).
    pub fn no_color(&self) -> bool {
        self.look.monochrome()
    }

    /// Colours, palette and glyphs for this terminal.
    pub fn look(&self) -> look::Look {
        self.look
    }

    /// The mouse is captured.
    pub fn mouse(&self) -> bool {
        self.mouse
    }

    /// The user asked to quit.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Keys are text for a prompt (the filter, a save's path), not commands.
    pub fn typing_filter(&self) -> bool {
        self.process_list.filter().is_editing() || self.save_prompt.is_some()
    }

    /// The open save prompt, when a save asks where to write.
    pub fn save_prompt(&self) -> Option<&SavePrompt> {
        self.save_prompt.as_ref()
    }

    /// Keys are text for the search prompt, not commands.
    pub fn typing_search(&self) -> bool {
        self.screen == Screen::Inspector
            && self.inspector.as_ref().is_some_and(|i| {
                i.search().is_editing() || i.profile().is_some_and(|p| p.search().is_editing())
            })
    }

    /// Whether keys are commands or text for an open prompt.
    pub fn input_mode(&self) -> InputMode {
        if self.typing_filter() || self.typing_search() {
            InputMode::Text
        } else {
            InputMode::Commands
        }
    }

    /// What a key press does now: a command, or text for the open prompt.
    pub fn key_action(&self, key: ratatui::crossterm::event::KeyEvent) -> Option<Action> {
        Some(
            match input::read(self.input_mode(), key, self.key_command(key))? {
                input::KeyInput::Char(c) => Action::PromptChar(c),
                input::KeyInput::Backspace => Action::PromptBackspace,
                input::KeyInput::Command(c) => Action::Command(c),
            },
        )
    }

    /// The keymap context of the current screen.
    pub fn context(&self) -> Context {
        match self.screen {
            Screen::ProcessList => Context::ProcessList,
            Screen::Inspector if self.profiling() => Context::Profile,
            Screen::Inspector if self.refresh.offline() => Context::Loaded,
            Screen::Inspector => Context::Inspector,
        }
    }

    /// What Esc does now, in a word for the footer: None where it does nothing.
    pub fn back_word(&self) -> Option<&'static str> {
        if self.help.is_open() {
            return Some("close");
        }
        let filter = self.process_list.filter();
        if filter.is_editing() {
            return Some("clear");
        }
        match self.screen {
            Screen::ProcessList if !filter.text().is_empty() => Some("clear"),
            Screen::ProcessList => None,
            Screen::Inspector => {
                let in_view = self
                    .inspector
                    .as_ref()
                    .is_some_and(|i| i.view() != View::Threads);
                Some(if !in_view && self.refresh.offline() {
                    "quit"
                } else {
                    "back"
                })
            }
        }
    }

    /// The command a key means now (the keymap, in the current screen's context).
    pub fn key_command(&self, key: ratatui::crossterm::event::KeyEvent) -> Option<Command> {
        keymap::lookup(self.context(), key)
    }

    /// Applies one action; then every list's first shown row follows its selection.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let effects = self.apply(action);
        self.follow_scroll();
        effects
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Start(s) => {
                self.refresh.start(s.interval, s.snapshot_mode);
                self.mouse = s.mouse;
                self.look = s.look;
            }
            Action::InspectTarget(t) => return self.inspect_target(&t),
            Action::Inspect(pid) => return self.inspect(pid),
            Action::Identified { pid, start } => self.identified(pid, start),
            Action::OpenOffline(history) => self.open_offline(history),
            Action::Command(c) => {
                // A message stays until the next key, whatever refreshes come first.
                self.last_error = None;
                self.status_note = None;
                return self.command(c);
            }
            Action::PromptChar(c) => {
                if let Some(p) = &mut self.save_prompt {
                    p.push(c);
                } else if self.profile_search_edit(Some(c)) {
                    // The profile view's search took it.
                } else if self.typing_search() {
                    if let Some(i) = &mut self.inspector {
                        i.search_edit(Some(c));
                    }
                } else {
                    self.process_list.filter_mut().push(c);
                    self.process_list.keep_selection();
                }
            }
            Action::PromptBackspace => {
                if let Some(p) = &mut self.save_prompt {
                    p.pop();
                } else if self.profile_search_edit(None) {
                    // The profile view's search took it.
                } else if self.typing_search() {
                    if let Some(i) = &mut self.inspector {
                        i.search_edit(None);
                    }
                } else {
                    self.process_list.filter_mut().pop();
                    self.process_list.keep_selection();
                }
            }
            Action::ProcessesListed(list) => self.process_list.replace(list),
            Action::TraceStarted => self.refresh.set_tracing(true),
            Action::Snapshot(p) => {
                self.profile_sample(&p);
                self.accept_snapshot(p, false);
            }
            Action::Sample(p) => self.profile_sample(&p),
            Action::Degraded(p) => self.accept_snapshot(p, true),
            Action::TraceFailed { message, exited } => {
                self.refresh.set_tracing(false);
                self.last_error = Some(message);
                if let Some(i) = &mut self.inspector {
                    i.mark_exited(exited);
                }
            }
            // The profile view has no rows under the panes' places.
            Action::ClickRow { .. } if self.profiling() => {}
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
            Action::Viewport(v) => self.viewport = v,
            Action::HelpRoom(max) => self.help.set_max_scroll(max),
            Action::DetailMaxScroll(n) => {
                if let Some(i) = &mut self.inspector {
                    i.set_detail_max_scroll(n);
                }
            }
            Action::LineCacheRefused(r) => {
                self.status_note = Some(crate::describe::line_cache_refused(&r));
            }
            Action::Saved(Ok(path)) => self.status_note = Some(format!("saved {path}")),
            Action::Saved(Err(e)) => self.last_error = Some(e),
            Action::SaveRefused {
                failed_dir,
                error,
                suggestion,
                docs,
            } => {
                let failed = format!("cannot write in {failed_dir} ({error})");
                self.save_prompt = Some(SavePrompt::new(suggestion, failed, docs));
            }
            Action::SaveProfileRefused(r) => {
                let failed = format!("cannot write in {} ({})", r.failed_dir, r.error);
                self.save_prompt = Some(SavePrompt::for_profile(r.suggestion, failed, r.profile));
            }
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

    /// A snapshot of the inspected process; `degraded`: from `/proc` alone, without stacks.
    fn accept_snapshot(&mut self, p: Arc<Process>, degraded: bool) {
        self.refresh.set_tracing(false);
        if let Some(i) = &mut self.inspector {
            i.accept_snapshot(p);
            i.set_degraded(degraded);
        }
    }

    /// The worker says when `pid` started: a view kept from an earlier visit of the same
    /// process comes back; a view of an earlier process of that pid is dropped.
    fn identified(&mut self, pid: u32, start: u64) {
        let Some(i) = self.inspector.as_mut().filter(|i| i.pid() == pid) else {
            return;
        };
        match i.started() {
            None if i.history().is_empty() => {
                if let Some(mut kept) = self.kept.take(pid, start) {
                    // A thread asked for (a followed holder, a returned-to place) wins over
                    // the kept view's selection.
                    if let Some(tid) = i.selected_tid() {
                        kept.select_thread(tid);
                    }
                    *i = kept;
                }
            }
            Some(s) if s != start => *i = Inspector::new(pid, i.command_line().to_string()),
            _ => {}
        }
        i.set_started(start);
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
        if let Some(prompt) = self.save_prompt.take() {
            return match c {
                Command::Enter => match prompt.profile().cloned() {
                    Some(profile) => vec![Effect::SaveProfile {
                        profile: SavedProfile(profile),
                        name: String::new(),
                        to: Some(prompt.path().into()),
                    }],
                    None => {
                        let (path, docs) = prompt.into_save();
                        vec![Effect::SaveTo(path.into(), docs)]
                    }
                },
                Command::Back => {
                    self.status_note = Some("not saved".into());
                    Vec::new()
                }
                Command::Quit => self.command(c),
                // Other keys wait for the prompt's answer.
                _ => {
                    self.save_prompt = Some(prompt);
                    Vec::new()
                }
            };
        }
        if self.help.is_open() && !self.help.command(c, self.page_size() as u16) {
            return Vec::new();
        }
        if let Some(effects) = self.profile_command(c) {
            return effects;
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
            | Command::OlderSnapshot
            | Command::NewerSnapshot
            | Command::SortThreads
            | Command::NextPane
            | Command::PrevPane
            | Command::BriefFrames
            | Command::ChainView => {
                if let Some(i) = &mut self.inspector {
                    i.command(c);
                }
            }
            Command::Profile => return self.open_profile(),
            // The profile view's own: it took them above when open.
            Command::ProfileScope
            | Command::ProfileSort
            | Command::SaveProfile
            | Command::SaveProfileAs => {}
            Command::ScrollLeft | Command::ScrollRight => {
                if let Some(i) = &mut self.inspector {
                    i.scroll_frames(c == Command::ScrollRight);
                }
            }
            Command::Save | Command::SaveHistory => return self.save(c == Command::SaveHistory),
            Command::Search
            | Command::SearchNext
            | Command::SearchPrev
            | Command::FilterThreads => {
                if let Some(i) = &mut self.inspector {
                    // Why it found nothing, or no note: an older one no longer applies.
                    self.status_note = i.find(c);
                }
            }
            Command::FollowWait => return self.follow(),
            Command::Return => return self.return_back(),
            Command::Up => self.move_selection(Move::Up(1)),
            Command::Down => self.move_selection(Move::Down(1)),
            Command::PageUp => self.move_selection(Move::Up(self.page_size())),
            Command::PageDown => self.move_selection(Move::Down(self.page_size())),
            Command::Top => self.move_selection(Move::To(0)),
            Command::Bottom => self.move_selection(Move::To(usize::MAX)),
        }
        Vec::new()
    }

    /// Esc goes back one level: help, then the search or the filter, then a view of the
    /// process (diff, groups, goroutines) to its threads, then the process to the list, its
    /// view kept for going back into it. Loaded snapshots have no list to go to: there Esc quits.
    fn back(&mut self) -> Vec<Effect> {
        let filter = self.process_list.filter();
        let searching = self.screen == Screen::Inspector
            && self
                .inspector
                .as_ref()
                .is_some_and(|i| i.search().is_shown());
        if self.help.is_open() {
            self.help.close();
        } else if self.inspector.as_mut().is_some_and(Inspector::close_detail) {
            // One level back: the frame detail view closes, the inspector stays.
        } else if searching {
            if let Some(i) = &mut self.inspector {
                i.clear_search();
            }
        } else if filter.is_editing()
            || (!filter.text().is_empty() && self.screen == Screen::ProcessList)
        {
            self.process_list.filter_mut().clear();
            self.process_list.keep_selection();
        } else if self.screen == Screen::Inspector {
            if self.inspector.as_mut().is_some_and(Inspector::back) {
                return Vec::new();
            }
            if self.refresh.offline() {
                self.quit = true;
                return vec![Effect::Quit];
            }
            self.screen = Screen::ProcessList;
            self.leave_inspector();
            self.refresh.set_tracing(false);
            return vec![Effect::StopInspecting];
        }
        Vec::new()
    }

    /// Enter: keeps the search or the filter being edited, or inspects the selected (else the
    /// first) process; in the inspector, opens the selected frame's detail.
    fn enter(&mut self) -> Vec<Effect> {
        if self.typing_search() {
            if let Some(i) = &mut self.inspector {
                i.keep_search();
            }
        } else if self.process_list.filter().is_editing() {
            self.process_list.filter_mut().keep();
        } else if self.screen == Screen::Inspector
            && self
                .inspector
                .as_ref()
                .is_some_and(|i| i.view() == View::Chains && i.focus() == Pane::Threads)
        {
            return self.follow();
        } else if self.screen == Screen::Inspector {
            let live = !self.refresh.offline();
            if let Some(i) = &mut self.inspector {
                i.enter(live);
            }
        } else if self.screen == Screen::ProcessList
            && let Some(pid) = self.process_list.pid_to_inspect()
        {
            return self.inspect(pid);
        }
        Vec::new()
    }

    /// The inspected process's view is left: kept for going back into it.
    fn leave_inspector(&mut self) {
        if let Some(mut i) = self.inspector.take() {
            self.process_list.select(i.pid());
            i.view_newest();
            self.kept.keep(i);
        }
    }

    /// `H` (and Enter in the chain view): to the holder of what the selected thread or link
    /// waits for; a holder in another process opens that process with the holder's thread
    /// selected. Where it came from is kept for Backspace. Without a chain, the mutex owner
    /// and the deadlock cycle as before.
    fn follow(&mut self) -> Vec<Effect> {
        let Some(i) = &mut self.inspector else {
            return Vec::new();
        };
        let Some(to) = i.follow_target() else {
            self.status_note = i.find(Command::FollowWait);
            return Vec::new();
        };
        let here = i.place();
        if to.pid == i.pid() {
            let Some(tid) = to.tid else {
                self.status_note = Some(format!(
                    "the holder is this process (pid {}): no thread of it is known",
                    to.pid
                ));
                return Vec::new();
            };
            self.places.push(here);
            self.status_note = i.follow_to(tid);
            return Vec::new();
        }
        if self.refresh.offline() {
            self.status_note = Some(format!(
                "the holder is pid {} {}: another process, not in the loaded snapshots",
                to.pid,
                crate::text::inert(&to.name)
            ));
            return Vec::new();
        }
        self.places.push(here);
        let effects = self.open_at(to.pid, to.tid);
        self.status_note = Some(format!(
            "followed to pid {} {} (Backspace returns)",
            to.pid,
            crate::text::inert(&to.name)
        ));
        effects
    }

    /// Backspace: back to the place the last follow left (another process's view comes back
    /// as it was left).
    fn return_back(&mut self) -> Vec<Effect> {
        let Some(place) = self.places.pop() else {
            self.status_note = Some("nowhere to return to: H follows a wait first".into());
            return Vec::new();
        };
        if let Some(i) = &mut self.inspector
            && i.pid() == place.pid
        {
            i.restore(&place);
            return Vec::new();
        }
        let effects = self.open_at(place.pid, place.tid);
        if let Some(i) = &mut self.inspector {
            i.restore(&place);
        }
        effects
    }

    /// Leaves the inspected process (its view kept) for `pid`, with thread `tid` selected.
    fn open_at(&mut self, pid: u32, tid: Option<u32>) -> Vec<Effect> {
        self.leave_inspector();
        let effects = self.inspect(pid);
        if let (Some(i), Some(tid)) = (&mut self.inspector, tid) {
            i.select_thread(tid);
        }
        effects
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

    /// Rows of the main list, for PgUp/PgDn.
    fn page_size(&self) -> usize {
        self.viewport.list.max(1)
    }

    /// Each shown list's first row follows its selection (what the render draws from, and
    /// what a click's row is counted from).
    fn follow_scroll(&mut self) {
        match self.screen {
            Screen::ProcessList => self.process_list.follow_scroll(self.viewport.list),
            Screen::Inspector => {
                if let Some(i) = &mut self.inspector {
                    i.follow_scroll(self.viewport);
                }
            }
        }
    }

    fn move_selection(&mut self, m: Move) {
        match self.screen {
            Screen::Inspector if self.profiling() => self.profile_move(m),
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
            look: look::Look {
                colors: look::ColorLevel::None,
                ..look::Look::default()
            },
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

    /// The app inspecting one snapshot of `threads`, `rows` rows shown in each list.
    fn inspecting(threads: &[crate::tracer::diff::fixture::T], rows: usize) -> App {
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Snapshot(Arc::new(snapshot(T0, threads))));
        app.update(Action::Viewport(Viewport {
            list: rows,
            frames: rows,
        }));
        app
    }

    /// A key press as the event loop passes it on.
    fn press(app: &mut App, code: ratatui::crossterm::event::KeyCode) {
        let key = ratatui::crossterm::event::KeyEvent::from(code);
        if let Some(action) = app.key_action(key) {
            app.update(action);
        }
    }

    fn type_keys(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, ratatui::crossterm::event::KeyCode::Char(c));
        }
    }

    /// (selected tid, selected frame).
    fn at(app: &App) -> (Option<u32>, usize) {
        let i = app.inspector().unwrap();
        (i.selected_tid(), i.selected_frame())
    }

    const SEARCHED: &[crate::tracer::diff::fixture::T] = &[
        (10, "main", 0, &["epoll_wait", "main"]),
        (
            11,
            "worker-1",
            0,
            &["__libc_malloc", "alloc_buf", "worker_main"],
        ),
        (12, "worker-2", 0, &["read", "worker_main"]),
        (
            13,
            "mallocator",
            0,
            &["malloc_consolidate", "_int_malloc", "worker_main"],
        ),
    ];

    #[test]
    fn search_is_typed_without_running_commands_and_counts_matches() {
        use ratatui::crossterm::event::KeyCode;
        let mut app = inspecting(SEARCHED, 10);
        press(&mut app, KeyCode::Char('/'));
        assert_eq!(app.input_mode(), InputMode::Text);
        // `m` is the mode switch and `c` the group view: while typing they are text.
        type_keys(&mut app, "malloc");
        let i = app.inspector().unwrap();
        assert_eq!(i.search().text(), "malloc");
        assert!(!app.refresh().snapshot_mode(), "m did not switch the mode");
        assert_eq!(i.view(), View::Threads, "c did not open the group view");
        assert_eq!(
            i.search_count(),
            Some(inspector::search::SearchCount {
                threads: 2,
                frames: 3
            })
        );
        // As it is typed, the selection goes to the first match.
        assert_eq!(at(&app), (Some(11), 0));
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.input_mode(), InputMode::Commands);
        // n: mallocator by its name (frame 0, which matches too), its next frame, then around.
        type_keys(&mut app, "n");
        assert_eq!(at(&app), (Some(13), 0));
        type_keys(&mut app, "n");
        assert_eq!(at(&app), (Some(13), 1));
        type_keys(&mut app, "n");
        assert_eq!(at(&app), (Some(11), 0));
        type_keys(&mut app, "N");
        assert_eq!(at(&app), (Some(13), 1));
        // f: only the matching threads; again: all.
        type_keys(&mut app, "f");
        let tids = |app: &App| -> Vec<u32> {
            let rows = app.inspector().unwrap().thread_rows();
            rows.iter().map(|r| r.thread.id()).collect()
        };
        assert_eq!(tids(&app), [11, 13]);
        type_keys(&mut app, "\\");
        assert_eq!(tids(&app), [10, 11, 12, 13]);
        type_keys(&mut app, "f");
        // Esc clears the search and its filter, and stays in the process.
        let effects = app.update(Action::Command(Command::Back));
        assert!(effects.is_empty(), "{effects:?}");
        assert_eq!(app.screen(), Screen::Inspector);
        let i = app.inspector().unwrap();
        assert!(!i.search().is_shown() && i.search_count().is_none());
        assert_eq!(tids(&app), [10, 11, 12, 13]);
        assert_eq!(at(&app), (Some(13), 1), "the selection stays");
        // Smartcase: a capital makes it exact.
        press(&mut app, KeyCode::Char('/'));
        type_keys(&mut app, "Malloc");
        assert_eq!(
            app.inspector().unwrap().search_count(),
            Some(inspector::search::SearchCount::default())
        );
        // Backspace edits; Esc while typing clears.
        press(&mut app, KeyCode::Backspace);
        assert_eq!(app.inspector().unwrap().search().text(), "Mallo");
        press(&mut app, KeyCode::Esc);
        assert!(!app.inspector().unwrap().search().is_shown());
        assert_eq!(app.screen(), Screen::Inspector);
    }

    #[test]
    fn a_click_selects_the_row_under_the_pointer_in_a_scrolled_list() {
        let names: Vec<String> = (0..30).map(|n| format!("w{n}")).collect();
        let threads: Vec<crate::tracer::diff::fixture::T> = (0..30)
            .map(|n| (100 + n as u32, names[n].as_str(), 0, MAIN))
            .collect();
        let mut app = inspecting(&threads, 5);
        app.update(Action::Command(Command::Bottom));
        let i = app.inspector().unwrap();
        assert_eq!((i.selected_tid(), i.list_offset()), (Some(129), 25));
        // Row 2 on screen is row 27 of the list; the view does not move.
        app.update(Action::ClickRow {
            pane: Some(Pane::Threads),
            row: 2,
        });
        let i = app.inspector().unwrap();
        assert_eq!((i.selected_tid(), i.list_offset()), (Some(127), 25));
        // Moving up within the view keeps it; above it, the view follows by one row.
        app.update(Action::Command(Command::Up));
        app.update(Action::Command(Command::Up));
        assert_eq!(app.inspector().unwrap().list_offset(), 25);
        app.update(Action::Command(Command::Up));
        assert_eq!(app.inspector().unwrap().list_offset(), 24);

        // The frames pane: a 30-frame stack scrolled to its end, a click on its second row.
        let deep: Vec<&str> = (0..30).map(|n| ["f0", "f1", "f2"][n % 3]).collect();
        let mut app = inspecting(&[(7, "deep", 0, &deep)], 5);
        app.update(Action::Command(Command::NextPane));
        app.update(Action::Command(Command::Bottom));
        let i = app.inspector().unwrap();
        assert_eq!((i.selected_frame(), i.frames_offset()), (29, 25));
        app.update(Action::ClickRow {
            pane: Some(Pane::Frames),
            row: 1,
        });
        let i = app.inspector().unwrap();
        assert_eq!((i.selected_frame(), i.frames_offset()), (26, 25));

        // The process list too.
        let mut list = App::new();
        list.update(Action::Viewport(Viewport { list: 4, frames: 4 }));
        let procs: Vec<ProcessInfo> = (0..20)
            .map(|n| ProcessInfo {
                pid: 1000 + n,
                user: "u".into(),
                state: 'S',
                threads: 1,
                cpu_percent: 0.0,
                rss_bytes: 0,
                name: format!("p{n}"),
                command: format!("p{n}"),
                kernel_thread: false,
            })
            .collect();
        list.update(Action::ProcessesListed(procs));
        list.update(Action::Command(Command::Bottom));
        assert_eq!(list.process_list().offset(), 16);
        list.update(Action::ClickRow { pane: None, row: 1 });
        let p = list.process_list();
        let row17 = p.visible()[17].pid;
        assert_eq!((p.selected_pid(), p.offset()), (Some(row17), 16));
        assert_eq!(
            list.update(Action::Command(Command::Enter)),
            [Effect::Inspect(row17)]
        );
    }

    #[test]
    fn h_goes_to_the_holder_then_along_the_deadlock_cycle() {
        let mut doc: serde_json::Value = serde_json::to_value(
            crate::tracer::schema::SnapshotDoc::from(&snapshot(T0, SEARCHED)),
        )
        .unwrap();
        // 11 and 13 wait for each other; 10 for a thread that is not in the list; 12 for none.
        let lock =
            |owner: Option<u32>| serde_json::json!({"address": 64, "owner": owner, "note": null});
        doc["deadlocks"] = serde_json::json!([[11, 13]]);
        doc["threads"][0]["lock"] = lock(Some(99));
        doc["threads"][1]["lock"] = lock(Some(13));
        doc["threads"][3]["lock"] = lock(Some(11));
        let p: crate::tracer::schema::SnapshotDoc = serde_json::from_value(doc).unwrap();
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Snapshot(Arc::new(p.to_process())));
        assert_eq!(at(&app).0, Some(10));
        app.update(Action::Command(Command::FollowWait));
        assert_eq!(at(&app).0, Some(10));
        assert_eq!(
            app.status_note(),
            Some("the holder 99 is not in the list (not a thread of this process now)")
        );
        // From a thread that waits for no lock: the deadlock's first thread, then along it.
        app.update(Action::Command(Command::Down));
        app.update(Action::Command(Command::Down));
        assert_eq!(at(&app).0, Some(12));
        app.update(Action::Command(Command::FollowWait));
        assert_eq!((at(&app).0, app.status_note()), (Some(11), None));
        app.update(Action::Command(Command::FollowWait));
        assert_eq!(at(&app).0, Some(13));
        app.update(Action::Command(Command::FollowWait));
        assert_eq!(at(&app).0, Some(11));
        // 11's holder is 13, even when the filter hides it (the filter goes, and it says so).
        app.update(Action::Command(Command::Search));
        for c in "worker-1".chars() {
            app.update(Action::PromptChar(c));
        }
        app.update(Action::Command(Command::Enter));
        app.update(Action::Command(Command::FilterThreads));
        app.update(Action::Command(Command::FollowWait));
        assert_eq!(at(&app).0, Some(13));
        assert!(!app.inspector().unwrap().search().filters());
        assert_eq!(
            app.status_note(),
            Some("filter off: the holder 13 does not match the search")
        );
    }

    fn snap(at: u64, stack: &'static [&'static str]) -> Arc<Process> {
        Arc::new(snapshot(T0 + at, &[(1, "main", 0, stack)]))
    }

    /// An app inspecting pid 4242 (the fixture snapshots' pid), started at `start`, with
    /// `n` snapshots.
    fn inspecting_since(start: u64, n: u64) -> App {
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Identified { pid: 4242, start });
        for i in 0..n {
            app.update(Action::Snapshot(snap(i * 1000, MAIN)));
        }
        app
    }

    #[test]
    fn esc_goes_back_one_level_and_the_history_is_kept() {
        let mut app = inspecting_since(77, 3);
        app.update(Action::Command(Command::DiffView));
        app.update(Action::Command(Command::Help));
        // Help, then the diff view, then the process: one level per press.
        assert!(app.update(Action::Command(Command::Back)).is_empty());
        assert!(!app.help().is_open());
        assert_eq!(app.inspector().map(|i| i.view()), Some(View::Diff));
        assert!(app.update(Action::Command(Command::Back)).is_empty());
        assert_eq!(app.inspector().map(|i| i.view()), Some(View::Threads));
        assert_eq!(
            app.update(Action::Command(Command::Back)),
            [Effect::StopInspecting]
        );
        assert_eq!((app.screen(), app.kept().len()), (Screen::ProcessList, 1));
        assert_eq!(app.update(Action::Command(Command::Back)), []);

        // Back in: the same process (same start) gets its history and SAME runs back.
        assert_eq!(app.update(Action::Inspect(4242)), [Effect::Inspect(4242)]);
        assert!(app.inspector().unwrap().history().is_empty());
        app.update(Action::Identified {
            pid: 4242,
            start: 77,
        });
        app.update(Action::Snapshot(snap(3000, MAIN)));
        let h = app.inspector().unwrap().history();
        assert_eq!((h.len(), h.stuck(1).map(|r| r.snapshots)), (4, Some(4)));
        assert!(app.kept().is_empty());
    }

    #[test]
    fn a_reused_pid_does_not_inherit_the_history() {
        let mut app = inspecting_since(77, 3);
        app.update(Action::Command(Command::Back));
        app.update(Action::Inspect(4242));
        // Another process now has pid 4242.
        app.update(Action::Identified {
            pid: 4242,
            start: 99,
        });
        app.update(Action::Snapshot(snap(9000, MAIN)));
        let h = app.inspector().unwrap().history();
        assert_eq!((h.len(), h.stuck(1).map(|r| r.snapshots)), (1, Some(1)));
        assert!(
            app.kept().is_empty(),
            "the earlier process's view is dropped"
        );
        // And while inspecting: a new start time starts the history anew.
        let mut app = inspecting_since(77, 2);
        app.update(Action::Identified {
            pid: 4242,
            start: 78,
        });
        assert!(app.inspector().unwrap().history().is_empty());
    }

    #[test]
    fn kept_views_are_bounded() {
        let mut app = App::new();
        for pid in 0..KEPT_PROCESSES as u32 + 3 {
            app.update(Action::Inspect(pid));
            app.update(Action::Identified { pid, start: 1 });
            let first = snap(0, MAIN);
            let mut doc = crate::tracer::schema::SnapshotDoc::from(first.as_ref());
            doc.pid = pid;
            app.update(Action::Snapshot(Arc::new(doc.to_process())));
            app.update(Action::Command(Command::Back));
        }
        assert_eq!(app.kept().len(), KEPT_PROCESSES);
        // The least recently left went first: pid 0 starts afresh.
        app.update(Action::Inspect(0));
        app.update(Action::Identified { pid: 0, start: 1 });
        assert!(app.inspector().unwrap().history().is_empty());
    }

    #[test]
    fn loaded_snapshots_step_and_esc_quits_at_the_top() {
        let mut app = App::new();
        app.update(Action::OpenOffline(vec![
            snap(0, MAIN),
            snap(1000, &["read", "main"]),
            snap(2000, MAIN),
        ]));
        assert_eq!(app.context(), Context::Loaded);
        let viewed = |app: &App| {
            let h = app.inspector().unwrap().history();
            (h.viewed_position(), h.viewing_older())
        };
        assert_eq!(viewed(&app), (Some(2), false));
        app.update(Action::Command(Command::OlderSnapshot));
        assert_eq!(viewed(&app), (Some(1), true));
        let i = app.inspector().unwrap();
        assert_eq!(
            i.selected_thread().map(|t| t.frames().len()),
            Some(2),
            "the stacks are the viewed snapshot's"
        );
        // Its diff is against the snapshot before it.
        let (old, new) = i.history().diff_pair().unwrap();
        assert_eq!(
            (old.taken_at(), new.taken_at()),
            (snap(0, MAIN).taken_at(), snap(1000, MAIN).taken_at())
        );
        for _ in 0..5 {
            app.update(Action::Command(Command::OlderSnapshot));
        }
        assert_eq!(viewed(&app), (Some(0), true));
        assert!(app.inspector().unwrap().history().diff().is_none());
        app.update(Action::Command(Command::NewerSnapshot));
        app.update(Action::Command(Command::NewerSnapshot));
        assert_eq!(viewed(&app), (Some(2), false));
        assert_eq!(app.back_word(), Some("quit"));
        app.update(Action::Command(Command::DiffView));
        assert_eq!(app.back_word(), Some("back"));
        assert!(app.update(Action::Command(Command::Back)).is_empty());
        assert_eq!(app.update(Action::Command(Command::Back)), [Effect::Quit]);
        assert!(app.quit_requested());
    }

    #[test]
    fn live_an_older_snapshot_stays_viewed_as_new_ones_arrive() {
        let mut app = inspecting_since(5, 3);
        app.update(Action::Command(Command::OlderSnapshot));
        app.update(Action::Snapshot(snap(3000, MAIN)));
        let h = app.inspector().unwrap().history();
        assert_eq!((h.viewed_position(), h.len()), (Some(1), 4));
        assert_eq!(h.stuck(1).map(|r| r.snapshots), Some(2));
        app.update(Action::Command(Command::NewerSnapshot));
        app.update(Action::Command(Command::NewerSnapshot));
        let h = app.inspector().unwrap().history();
        assert!(!h.viewing_older());
        assert_eq!(h.stuck(1).map(|r| r.snapshots), Some(4));
        // Left while an older snapshot is viewed: back in, it is live.
        app.update(Action::Command(Command::OlderSnapshot));
        app.update(Action::Command(Command::Back));
        app.update(Action::Inspect(4242));
        app.update(Action::Identified {
            pid: 4242,
            start: 5,
        });
        let h = app.inspector().unwrap().history();
        assert_eq!((h.len(), h.viewing_older()), (4, false));
    }

    #[test]
    fn messages_stay_until_the_next_key() {
        let mut app = inspecting_since(5, 1);
        app.update(Action::TraceFailed {
            message: "boom".into(),
            exited: false,
        });
        app.update(Action::Snapshot(snap(1000, MAIN)));
        assert_eq!(app.last_error(), Some("boom"));
        app.update(Action::Command(Command::Down));
        assert_eq!(app.last_error(), None);
    }

    #[test]
    fn a_refused_save_asks_where_and_writes_there() {
        let mut app = inspecting_since(5, 2);
        let docs = match app.update(Action::Command(Command::SaveHistory)).as_slice() {
            [Effect::Save(docs)] => docs.clone(),
            other => panic!("{other:?}"),
        };
        app.update(Action::SaveRefused {
            failed_dir: "/srv".into(),
            error: "Permission denied (os error 13)".into(),
            suggestion: "/tmp/x.json".into(),
            docs,
        });
        let p = app.save_prompt().unwrap();
        assert_eq!(
            (p.path(), p.failed()),
            (
                "/tmp/x.json",
                "cannot write in /srv (Permission denied (os error 13))"
            )
        );
        assert!(app.typing_filter(), "keys are the path's text");
        // Other commands wait; the path is edited; Enter writes there.
        assert!(app.update(Action::Command(Command::DiffView)).is_empty());
        assert_eq!(app.inspector().map(|i| i.view()), Some(View::Threads));
        for _ in 0.."x.json".len() {
            app.update(Action::PromptBackspace);
        }
        app.update(Action::PromptChar('y'));
        match app.update(Action::Command(Command::Enter)).as_slice() {
            [Effect::SaveTo(path, docs)] => {
                assert_eq!((path.to_str(), docs.len()), (Some("/tmp/y"), 2))
            }
            other => panic!("{other:?}"),
        }
        assert!(app.save_prompt().is_none());
    }
}
