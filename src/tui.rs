//! The interactive inspector's event loop and terminal guard.
//!
//! One loop on the main thread: block on the event channel, drain everything pending, update
//! the app, draw once. Input, the process lister, the tracer worker and signals each feed the
//! channel from their own thread, so an idle inspector sleeps. The terminal is restored and
//! every traced thread detached on quit, Ctrl-C, SIGTERM, SIGHUP and panic.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind,
    MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::{Terminal, layout::Rect};

use crate::app::look::Look;
use crate::app::{Action, App, Effect, Settings};
use crate::backend::SgrBackend;
use crate::proclist::ProcessLister;
use crate::ui;
use crate::worker::{TracerCmd, Worker, WorkerEvent};

/// How the inspector starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub pid: Option<u32>,
    /// Loaded snapshots (oldest first) to show offline instead of tracing.
    pub history: Option<Vec<Arc<crate::tracer::Process>>>,
    pub interval: Duration,
    pub snapshot: bool,
    pub unwinder: crate::tracer::UnwindMethod,
    /// Where source-line lookups are remembered between runs (`None`: not on disk).
    pub line_cache: Option<std::path::PathBuf>,
    pub mouse: bool,
    /// Colours, palette and glyphs for this terminal.
    pub look: Look,
    /// Open the process list filtered by this (a name several processes have).
    pub filter: Option<String>,
}

/// Everything the main loop wakes up for.
enum AppEvent {
    Key(event::KeyEvent),
    Mouse(event::MouseEvent),
    Resize,
    ProcessesListed(Vec<crate::proclist::ProcessInfo>),
    Worker(WorkerEvent),
    /// A terminating signal, or the terminal went away: quit in order.
    Stop,
    /// A save finished.
    Saved(Result<String, String>),
    /// A save could not be written there: the app asks where.
    SaveRefused(Action),
}

/// Restores the terminal when dropped (and from the panic hook).
struct TerminalGuard;

impl TerminalGuard {
    fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen)?;
        if mouse {
            execute!(io::stdout(), EnableMouseCapture)?;
        }
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leaves the alternate screen and raw mode; also turns off mouse capture and bracketed paste,
/// which `ratatui::restore` does not.
fn restore_terminal() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Runs the inspector until the user quits or a signal ends it.
pub fn run(opts: Options) -> io::Result<()> {
    // Block the terminating signals in every thread (threads inherit the mask) and take them
    // in one thread with sigwait, so the loop can shut down in order.
    let mut signals = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        signals.add(s);
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), None).map_err(io::Error::from)?;

    let (tx, rx) = channel::<AppEvent>();
    spawn_signal_thread(signals, tx.clone());

    let cancel = Arc::new(AtomicBool::new(false));
    let worker_tx = tx.clone();
    let mut trace_options = crate::tracer::TraceOptions::new();
    trace_options
        .snapshot(opts.snapshot)
        .unwind_method(opts.unwinder)
        .line_cache(opts.line_cache.clone());
    let worker = Worker::spawn(opts.interval, trace_options, cancel.clone(), move |e| {
        let _ = worker_tx.send(AppEvent::Worker(e));
    });
    let lister_active = Arc::new(AtomicBool::new(true));
    spawn_lister(tx.clone(), lister_active.clone());

    let guard = TerminalGuard::enter(opts.mouse)?;
    let results = tx.clone();
    spawn_input_thread(tx);
    let mut terminal = Terminal::new(SgrBackend::new(io::stdout(), opts.look.ascii))?;

    let mut app = App::new();
    app.update(Action::Start(Settings {
        interval: opts.interval,
        snapshot_mode: opts.snapshot,
        mouse: opts.mouse,
        look: opts.look,
    }));
    if let Some(name) = &opts.filter {
        app.update(Action::Command(crate::app::keymap::Command::Filter));
        for c in name.chars() {
            app.update(Action::PromptChar(c));
        }
        app.update(Action::Command(crate::app::keymap::Command::Enter));
    }
    if let Some(history) = opts.history {
        app.update(Action::OpenOffline(history));
        lister_active.store(false, Ordering::Relaxed);
    } else if let Some(pid) = opts.pid {
        // A thread id opens its process with the thread selected; an id that names nothing
        // traceable goes to the worker as given, whose trace says why.
        let effects = match crate::tracer::target_of(pid) {
            Ok(t) => app.update(Action::InspectTarget(t)),
            Err(_) => app.update(Action::Inspect(pid)),
        };
        for effect in effects {
            apply(effect, &worker, &lister_active, &results);
        }
    }
    let result = event_loop(
        &mut app,
        &mut terminal,
        &rx,
        &worker,
        &lister_active,
        &results,
    );

    // Detach first (the worker ends its trace early and resumes every thread), then restore.
    cancel.store(true, Ordering::Relaxed);
    worker.shutdown();
    drop(guard);
    result
}

fn event_loop(
    app: &mut App,
    terminal: &mut Terminal<SgrBackend<io::Stdout>>,
    rx: &Receiver<AppEvent>,
    worker: &Worker,
    lister_active: &AtomicBool,
    results: &Sender<AppEvent>,
) -> io::Result<()> {
    let mut size = terminal.size()?;
    resized(app, size);
    terminal.draw(|f| ui::render(app, f))?;
    let mut clicks = Clicks::default();
    while let Ok(first) = rx.recv() {
        for ev in std::iter::once(first).chain(rx.try_iter()) {
            let area = Rect::new(0, 0, size.width, size.height);
            for action in to_actions(ev, app, area, &mut clicks) {
                for effect in app.update(action) {
                    apply(effect, worker, lister_active, results);
                }
            }
            if app.quit_requested() {
                return Ok(());
            }
        }
        size = terminal.size()?;
        resized(app, size);
        terminal.draw(|f| ui::render(app, f))?;
    }
    Ok(())
}

/// Tells the app what depends on the terminal's size: the rows each list shows, the help's
/// and the frame detail view's furthest scroll.
fn resized(app: &mut App, size: ratatui::layout::Size) {
    let area = Rect::new(0, 0, size.width, size.height);
    app.update(Action::Viewport(ui::viewport(area, app.screen())));
    app.update(Action::HelpRoom(ui::help::max_scroll(area)));
    if let Some(n) = ui::detail::max_scroll(app, area) {
        app.update(Action::DetailMaxScroll(n));
    }
}

/// Two presses on one cell within this time are a double click (the terminal reports presses,
/// not double clicks).
const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// The last press, to tell a double click.
#[derive(Default)]
struct Clicks {
    last: Option<(Instant, u16, u16)>,
}

impl Clicks {
    /// A press at (x, y): true when it makes a double click.
    fn press(&mut self, x: u16, y: u16) -> bool {
        let now = Instant::now();
        let double = self
            .last
            .is_some_and(|(t, lx, ly)| (lx, ly) == (x, y) && now.duration_since(t) < DOUBLE_CLICK);
        // A third press starts afresh.
        self.last = (!double).then_some((now, x, y));
        double
    }
}

/// Turns an event into app actions (keys as the app's input mode reads them; a double click
/// is a click and Enter).
fn to_actions(ev: AppEvent, app: &App, area: Rect, clicks: &mut Clicks) -> Vec<Action> {
    match ev {
        AppEvent::Key(key) => app.key_action(key).into_iter().collect(),
        AppEvent::Mouse(m) => match m.kind {
            MouseEventKind::Down(_) => {
                let Some((pane, row)) =
                    ui::layout(area, app.screen()).hit(m.column, m.row, app.screen())
                else {
                    return Vec::new();
                };
                let mut actions = vec![Action::ClickRow { pane, row }];
                if clicks.press(m.column, m.row) {
                    actions.push(Action::Command(crate::app::keymap::Command::Enter));
                }
                actions
            }
            MouseEventKind::ScrollDown => vec![Action::Scroll(3)],
            MouseEventKind::ScrollUp => vec![Action::Scroll(-3)],
            _ => Vec::new(),
        },
        AppEvent::Resize => Vec::new(),
        AppEvent::ProcessesListed(list) => vec![Action::ProcessesListed(list)],
        AppEvent::Worker(WorkerEvent::Identified { pid, start }) => {
            vec![Action::Identified { pid, start }]
        }
        AppEvent::Worker(WorkerEvent::Started) => vec![Action::TraceStarted],
        AppEvent::Worker(WorkerEvent::Snapshot(p)) => vec![Action::Snapshot(p)],
        AppEvent::Worker(WorkerEvent::Sample(p)) => vec![Action::Sample(p)],
        AppEvent::Worker(WorkerEvent::Degraded(p)) => vec![Action::Degraded(p)],
        AppEvent::Worker(WorkerEvent::Failed { message, exited }) => {
            vec![Action::TraceFailed { message, exited }]
        }
        AppEvent::Worker(WorkerEvent::LineCacheRefused(r)) => vec![Action::LineCacheRefused(r)],
        AppEvent::Stop => vec![Action::Command(crate::app::keymap::Command::Quit)],
        AppEvent::Saved(r) => vec![Action::Saved(r)],
        AppEvent::SaveRefused(a) => vec![a],
    }
}

fn apply(effect: Effect, worker: &Worker, lister_active: &AtomicBool, tx: &Sender<AppEvent>) {
    match effect {
        Effect::Inspect(pid) => {
            lister_active.store(false, Ordering::Relaxed);
            worker.send(TracerCmd::Target(Some(pid)));
        }
        Effect::StopInspecting => {
            lister_active.store(true, Ordering::Relaxed);
            worker.send(TracerCmd::Target(None));
        }
        Effect::SnapshotNow => worker.send(TracerCmd::SnapshotNow),
        Effect::SetInterval(i) => worker.send(TracerCmd::SetInterval(i)),
        Effect::SetPaused(p) => worker.send(TracerCmd::SetPaused(p)),
        Effect::SetSnapshotMode(s) => worker.send(TracerCmd::SetSnapshotMode(s)),
        Effect::SetProfiling(p) => worker.send(TracerCmd::SetProfiling(p)),
        Effect::SaveProfile { profile, name, to } => {
            let _ = tx.send(save_profile(profile.0, &name, to));
        }
        Effect::Save(history) => {
            let _ = tx.send(save(&history, None));
        }
        Effect::SaveTo(path, history) => {
            let _ = tx.send(save(&history, Some(path)));
        }
        Effect::Quit => {}
    }
}

/// Writes snapshots to a new file at `to`, else in the current directory named after the
/// process and the time: the path written, or the one-line error; a directory we may not
/// write in asks the app for another path (a writable one offered).
fn save(history: &[Arc<crate::tracer::Process>], to: Option<std::path::PathBuf>) -> AppEvent {
    use crate::tracer::schema::SnapshotDoc;
    use crate::tracer::snapfile::{self, FileError};
    let docs: Vec<SnapshotDoc> = history
        .iter()
        .map(|p| SnapshotDoc::from(p.as_ref()))
        .collect();
    let Some(newest) = docs.last() else {
        return AppEvent::Saved(Err("nothing to save".into()));
    };
    let name = snapfile::default_file_name(newest);
    let path = to.unwrap_or_else(|| std::path::PathBuf::from(&name));
    let absolute = std::env::current_dir()
        .map(|d| d.join(&path))
        .unwrap_or_else(|_| path.clone());
    let shown = |p: &std::path::Path| crate::text::inert(&p.display().to_string()).into_owned();
    match snapfile::save(&path, &docs) {
        Ok(()) => AppEvent::Saved(Ok(shown(&absolute))),
        Err(FileError::Io { source, .. }) if unwritable(&source) => {
            let dir = absolute
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            AppEvent::SaveRefused(Action::SaveRefused {
                failed_dir: shown(&dir),
                error: source.to_string(),
                suggestion: writable_dir().join(&name).display().to_string(),
                docs: history.to_vec(),
            })
        }
        Err(e) => AppEvent::Saved(Err(e.to_string())),
    }
}

/// Writes a profile to a new file at `to`, else `name` in the current directory, in the
/// format its extension tells (folded when it tells none); a directory we may not write in
/// asks the app for another path, as a snapshot's save does.
fn save_profile(
    profile: Arc<crate::profile::Profile>,
    name: &str,
    to: Option<std::path::PathBuf>,
) -> AppEvent {
    use crate::profile::export::{self, Format};
    let path = to.unwrap_or_else(|| std::path::PathBuf::from(name));
    let absolute = std::env::current_dir()
        .map(|d| d.join(&path))
        .unwrap_or_else(|_| path.clone());
    let shown = |p: &std::path::Path| crate::text::inert(&p.display().to_string()).into_owned();
    let format = Format::from_path(&path).unwrap_or(Format::Folded);
    let profile = if format == Format::Pprof {
        // The mappings' build-ids, from the files the live target maps.
        let mut with_ids = Arc::unwrap_or_clone(profile);
        let pid = with_ids.pid;
        with_ids.add_build_ids(|path| crate::app::source::mapped_build_id(pid, path));
        Arc::new(with_ids)
    } else {
        profile
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| {
            let written = export::write(&profile, format, &mut f);
            if written.is_err() {
                // Nothing half-written stays behind under the name asked for.
                let _ = std::fs::remove_file(&path);
            }
            written
        });
    match written {
        Ok(()) => AppEvent::Saved(Ok(shown(&absolute))),
        Err(e) if unwritable(&e) => {
            let dir = absolute
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            let file = path
                .file_name()
                .map_or_else(|| name.to_string(), |f| f.to_string_lossy().into_owned());
            AppEvent::SaveRefused(Action::SaveProfileRefused(crate::app::ProfileRefused {
                failed_dir: shown(&dir),
                error: e.to_string(),
                suggestion: writable_dir().join(file).display().to_string(),
                profile,
            }))
        }
        Err(e) => AppEvent::Saved(Err(format!("{}: {e}", shown(&path)))),
    }
}

/// The directory refuses new files: permission, or a read-only file system.
fn unwritable(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        || matches!(
            e.raw_os_error(),
            Some(libc::EROFS | libc::EACCES | libc::EPERM)
        )
}

/// Where a save can go when the current directory cannot be written: $TMPDIR, else $HOME,
/// else /tmp, the first we may write in.
fn writable_dir() -> std::path::PathBuf {
    use nix::unistd::{AccessFlags, access};
    ["TMPDIR", "HOME"]
        .iter()
        .filter_map(std::env::var_os)
        .map(std::path::PathBuf::from)
        .chain([std::path::PathBuf::from("/tmp")])
        .find(|d| d.is_dir() && access(d, AccessFlags::W_OK | AccessFlags::X_OK).is_ok())
        .unwrap_or_else(|| "/tmp".into())
}

fn spawn_signal_thread(signals: SigSet, tx: Sender<AppEvent>) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while signals.wait().is_ok() {
                if tx.send(AppEvent::Stop).is_err() {
                    return;
                }
            }
        })
        .expect("spawning the signal thread");
}

fn spawn_input_thread(tx: Sender<AppEvent>) {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            loop {
                let ev = match event::read() {
                    Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => AppEvent::Key(k),
                    Ok(Event::Mouse(m)) => AppEvent::Mouse(m),
                    Ok(Event::Resize(..)) => AppEvent::Resize,
                    Ok(_) => continue,
                    // The terminal is gone (e.g. the SSH connection dropped): quit.
                    Err(_) => AppEvent::Stop,
                };
                let stop = matches!(ev, AppEvent::Stop);
                if tx.send(ev).is_err() || stop {
                    return;
                }
            }
        })
        .expect("spawning the input thread");
}

/// Reads the process list every 2 s while the process list is shown.
fn spawn_lister(tx: Sender<AppEvent>, active: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("proclist".into())
        .spawn(move || {
            let mut lister = ProcessLister::new();
            loop {
                if active.load(Ordering::Relaxed)
                    && tx
                        .send(AppEvent::ProcessesListed(lister.refresh()))
                        .is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        })
        .expect("spawning the process list thread");
}
