//! The inspector without a terminal: the app is built from fixture data, driven with
//! `Action`s as the event loop would, and every screen is rendered into ratatui's
//! `TestBackend` and compared with `insta` snapshots (80x24 and 160x48).

use std::sync::Arc;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use rstack_tui::Process;
use rstack_tui::app::look::{ColorLevel, Look};
use rstack_tui::app::{Action, App, Effect, Inspector, Pane, ProcColumn, Screen, Settings};
use rstack_tui::proclist::ProcessInfo;
use rstack_tui::tracer::schema::SnapshotDoc;
use rstack_tui::ui::{self, keymap::Command};

fn proc_info(
    pid: u32,
    name: &str,
    command: &str,
    user: &str,
    cpu: f64,
    rss_mb: u64,
    threads: u32,
) -> ProcessInfo {
    ProcessInfo {
        pid,
        user: user.into(),
        state: if cpu > 50.0 { 'R' } else { 'S' },
        threads,
        cpu_percent: cpu,
        rss_bytes: rss_mb << 20,
        name: name.into(),
        command: command.into(),
        kernel_thread: false,
    }
}

fn processes() -> Vec<ProcessInfo> {
    let mut kthread = proc_info(2, "kthreadd", "[kthreadd]", "root", 0.0, 0, 1);
    kthread.kernel_thread = true;
    vec![
        proc_info(1, "systemd", "/sbin/init", "root", 0.1, 12, 1),
        kthread,
        proc_info(
            812,
            "nginx",
            "nginx: master process /usr/sbin/nginx",
            "root",
            0.0,
            6,
            1,
        ),
        proc_info(813, "nginx", "nginx: worker process", "www-data", 2.5, 9, 1),
        proc_info(
            4242,
            "server",
            "/srv/server --port 8080 --workers 4",
            "app",
            97.0,
            310,
            6,
        ),
        proc_info(
            5001,
            "postgres",
            "postgres: checkpointer",
            "postgres",
            0.3,
            40,
            1,
        ),
        proc_info(6100, "bash", "-bash", "alice", 0.0, 5, 1),
    ]
}

/// A snapshot of process 4242: main thread, 3 workers parked, one busy, built as the JSON a
/// dump would write.
fn snapshot(taken_ms: u64, threads: &[(u32, &str, char, u64, &[&str])]) -> Arc<Process> {
    let threads: Vec<serde_json::Value> = threads
        .iter()
        .map(|(tid, name, state, cpu_ms, frames)| {
            let frames: Vec<serde_json::Value> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let libc = f.starts_with("__") || *f == "syscall" || *f == "pthread_cond_wait";
                    serde_json::json!({
                        "ip": 0x5555_0000_1000u64 + (i as u64) * 0x40 + (*tid as u64) * 0x10_000,
                        "symbol": f, "raw_symbol": f, "offset": 0x10 + i as u64,
                        "module": if libc { "/usr/lib/x86_64-linux-gnu/libc.so.6" } else { "/srv/server" },
                        "module_offset": 0x1000 + i as u64, "is_signal": false
                    })
                })
                .collect();
            serde_json::json!({
                "tid": tid, "name": name, "state": state.to_string(),
                "wchan": if *state == 'S' { Some("futex_do_wait") } else { None },
                "syscall": if *state == 'S' { Some(serde_json::json!({"number": 202, "name": "futex", "args": [0,0,0,0,0,0]})) } else { None },
                "user_time_ms": cpu_ms, "system_time_ms": 0, "stopped_us": 40, "truncated": false,
                "error": null, "end_note": null, "frames": frames
            })
        })
        .collect();
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 4242, "command": "/srv/server --port 8080 --workers 4",
        "taken_at": "", "taken_at_unix_ms": taken_ms, "mode": "rolling",
        "elapsed_us": 3100, "longest_stop_us": 85, "threads": threads
    }))
    .unwrap();
    Arc::new(doc.to_process())
}

const PARKED: &[&str] = &[
    "syscall",
    "std::sys::sync::condvar::futex::Condvar::wait",
    "server::pool::take_job",
    "server::pool::worker_loop",
    "std::thread::start",
    "__clone3",
];
const BUSY: &[&str] = &[
    "server::hash::sha_block",
    "server::hash::digest",
    "server::handler::serve",
    "server::pool::worker_loop",
    "__clone3",
];
const MAIN: &[&str] = &[
    "syscall",
    "std::thread::park",
    "server::main_loop",
    "server::main",
    "__libc_start_main",
];

fn first_snapshot() -> Arc<Process> {
    snapshot(
        1_795_953_600_000,
        &[
            (4242, "server", 'S', 10, MAIN),
            (4243, "worker-0", 'S', 0, PARKED),
            (4244, "worker-1", 'R', 500, BUSY),
            (4245, "worker-2", 'S', 0, PARKED),
            (4246, "worker-3", 'S', 0, PARKED),
        ],
    )
}

/// Two seconds later: worker-1 used 1.9 s of CPU, worker-2 exited, worker-4 is new, and the
/// list comes in another order.
fn second_snapshot() -> Arc<Process> {
    snapshot(
        1_795_953_602_000,
        &[
            (4242, "server", 'S', 10, MAIN),
            (4247, "worker-4", 'S', 0, PARKED),
            (4246, "worker-3", 'S', 0, PARKED),
            (4244, "worker-1", 'R', 2400, BUSY),
            (4243, "worker-0", 'S', 0, PARKED),
        ],
    )
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    terminal.backend().to_string()
}

fn app_with_processes() -> App {
    let mut app = App::new();
    app.update(Action::ProcessesListed(processes()));
    app
}

/// The inspector of an app that inspects a process.
fn inspector(app: &App) -> &Inspector {
    app.inspector().expect("a process is inspected")
}

/// Colour or not, as `NO_COLOR` would set it at the start (the other settings the defaults).
fn set_no_color(app: &mut App, no_color: bool) {
    app.update(Action::Start(Settings {
        interval: rstack_tui::app::DEFAULT_INTERVAL,
        snapshot_mode: false,
        mouse: true,
        look: Look {
            colors: if no_color {
                ColorLevel::None
            } else {
                ColorLevel::Ansi16
            },
            ..Look::default()
        },
    }));
}

fn cmd(app: &mut App, c: Command) -> Vec<Effect> {
    app.update(Action::Command(c))
}

fn type_filter(app: &mut App, text: &str) {
    cmd(app, Command::Filter);
    for c in text.chars() {
        app.update(Action::PromptChar(c));
    }
}

fn inspecting() -> App {
    let mut app = app_with_processes();
    type_filter(&mut app, "server");
    cmd(&mut app, Command::Enter);
    assert_eq!(cmd(&mut app, Command::Enter), vec![Effect::Inspect(4242)]);
    app.update(Action::Snapshot(first_snapshot()));
    app
}

#[test]
fn process_list_screens() {
    let app = app_with_processes();
    assert_snapshot!("processes_80x24", render(&app, 80, 24));
    assert_snapshot!("processes_160x48", render(&app, 160, 48));
}

#[test]
fn process_list_at_40_columns_keeps_command_and_shows_the_sort_on_s() {
    let mut app = app_with_processes();
    for _ in 0..5 {
        cmd(&mut app, Command::Sort);
    }
    assert_eq!(app.process_list().sort(), ProcColumn::State);
    let screen = render(&app, 40, 12);
    // Two nginx rows told apart by their command lines, cut with an ellipsis.
    assert!(screen.contains("nginx: master p…"), "{screen}");
    assert!(screen.contains("nginx: worker p…"), "{screen}");
    assert!(screen.contains("S▲"), "{screen}");
    assert_snapshot!("processes_sorted_by_state_40x12", screen);
}

#[test]
fn process_list_sorts_by_cpu_first_and_cycles_columns() {
    let mut app = app_with_processes();
    let pids = |app: &App| {
        app.process_list()
            .visible()
            .iter()
            .map(|p| p.pid)
            .collect::<Vec<_>>()
    };
    assert_eq!(app.process_list().sort(), ProcColumn::Cpu);
    assert_eq!(
        pids(&app),
        [4242, 813, 5001, 1, 812, 6100],
        "CPU% descending, kernel threads hidden"
    );
    cmd(&mut app, Command::Sort);
    assert_eq!(app.process_list().sort(), ProcColumn::Rss);
    assert_eq!(pids(&app)[0], 4242);
    cmd(&mut app, Command::InvertSort);
    assert_eq!(pids(&app)[0], 6100);
    cmd(&mut app, Command::Sort);
    assert_eq!(app.process_list().sort(), ProcColumn::Command);
    assert_eq!(pids(&app)[0], 6100, "-bash sorts first");
    cmd(&mut app, Command::ToggleKernel);
    assert!(pids(&app).contains(&2));
}

#[test]
fn filter_matches_name_command_user_and_pid() {
    let mut app = app_with_processes();
    type_filter(&mut app, "nginx");
    assert_eq!(app.process_list().visible().len(), 2);
    assert_snapshot!("processes_filtered_80x24", render(&app, 80, 24));
    cmd(&mut app, Command::Back);
    type_filter(&mut app, "www-data");
    assert_eq!(
        app.process_list()
            .visible()
            .iter()
            .map(|p| p.pid)
            .collect::<Vec<_>>(),
        [813]
    );
    cmd(&mut app, Command::Back);
    type_filter(&mut app, "5001");
    assert_eq!(
        app.process_list()
            .visible()
            .iter()
            .map(|p| p.pid)
            .collect::<Vec<_>>(),
        [5001]
    );
    cmd(&mut app, Command::Back);
    assert!(app.process_list().filter().text().is_empty() && !app.typing_filter());
    assert_eq!(app.process_list().visible().len(), 6);
}

#[test]
fn selection_in_process_list_survives_a_refresh() {
    let mut app = app_with_processes();
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Down);
    let selected = app.process_list().selected_pid().unwrap();
    let mut fresh = processes();
    fresh.reverse();
    fresh.retain(|p| p.pid != 1);
    for p in &mut fresh {
        p.cpu_percent = 0.0;
    }
    app.update(Action::ProcessesListed(fresh));
    assert_eq!(app.process_list().selected_pid(), Some(selected));
}

#[test]
fn drill_in_shows_threads_and_frames() {
    let app = inspecting();
    assert_eq!(app.screen(), Screen::Inspector);
    assert_snapshot!("process_view_80x24", render(&app, 80, 24));
    assert_snapshot!("process_view_160x48", render(&app, 160, 48));
}

#[test]
fn refresh_keeps_the_selected_thread_and_marks_exited_ones() {
    let mut app = inspecting();
    // Select worker-2 (the fourth row), which will exit.
    for _ in 0..3 {
        cmd(&mut app, Command::Down);
    }
    assert_eq!(inspector(&app).selected_tid(), Some(4245));
    app.update(Action::Snapshot(second_snapshot()));
    let t = inspector(&app);
    assert_eq!(
        t.selected_tid(),
        Some(4245),
        "the cursor stays on the exited thread"
    );
    let rows = inspector(&app).thread_rows();
    let exited: Vec<u32> = rows
        .iter()
        .filter(|r| r.exited)
        .map(|r| r.thread.id())
        .collect();
    assert_eq!(exited, [4245]);
    // CPU% since the previous snapshot: worker-1 used 1.9 s in 2 s.
    let busy = rows.iter().find(|r| r.thread.id() == 4244).unwrap();
    assert!(
        (busy.cpu_percent.unwrap() - 95.0).abs() < 0.01,
        "{:?}",
        busy.cpu_percent
    );
    assert_snapshot!("process_view_after_refresh_80x24", render(&app, 80, 24));
    // Moving to worker-1 and refreshing again keeps it selected though its row moved.
    cmd(&mut app, Command::Top);
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Down);
    assert_eq!(inspector(&app).selected_tid(), Some(4244));
    app.update(Action::Snapshot(first_snapshot()));
    assert_eq!(inspector(&app).selected_tid(), Some(4244));
}

#[test]
fn frames_pane_takes_focus_and_moves() {
    let mut app = inspecting();
    cmd(&mut app, Command::NextPane);
    assert_eq!(inspector(&app).focus(), Pane::Frames);
    cmd(&mut app, Command::Bottom);
    assert_eq!(inspector(&app).selected_frame(), MAIN.len() - 1);
    cmd(&mut app, Command::PrevPane);
    cmd(&mut app, Command::Down);
    assert_eq!(inspector(&app).selected_tid(), Some(4243));
    assert_eq!(
        inspector(&app).selected_frame(),
        0,
        "a new thread starts at its innermost frame"
    );
}

#[test]
fn refresh_pause_interval_and_mode_reach_the_worker() {
    let mut app = inspecting();
    assert_eq!(
        cmd(&mut app, Command::SnapshotNow),
        vec![Effect::SnapshotNow]
    );
    assert!(app.refresh().tracing());
    assert_snapshot!(
        "process_view_tracing_80x24",
        render(&app, 80, 24).lines().nth(22).unwrap().to_string()
    );
    assert_eq!(
        cmd(&mut app, Command::TogglePause),
        vec![Effect::SetPaused(true)]
    );
    assert_eq!(
        cmd(&mut app, Command::Faster),
        vec![Effect::SetInterval(std::time::Duration::from_secs(1))]
    );
    assert_eq!(
        cmd(&mut app, Command::Faster),
        vec![Effect::SetInterval(std::time::Duration::from_millis(500))]
    );
    assert_eq!(
        cmd(&mut app, Command::Faster),
        vec![Effect::SetInterval(std::time::Duration::from_millis(500))],
        "0.5 s is the floor"
    );
    for _ in 0..10 {
        cmd(&mut app, Command::Slower);
    }
    assert_eq!(
        app.refresh().interval(),
        std::time::Duration::from_secs(60),
        "60 s is the ceiling"
    );
    assert_eq!(
        cmd(&mut app, Command::ToggleMode),
        vec![Effect::SetSnapshotMode(true)]
    );
    assert!(render(&app, 80, 24).contains("snapshot · paused"));
}

#[test]
fn errors_show_in_the_status_line_and_exit_is_kept() {
    let mut app = inspecting();
    app.update(Action::TraceFailed {
        message: "process 4242 exited during the trace".into(),
        exited: true,
    });
    let screen = render(&app, 80, 24);
    assert!(screen.contains("EXITED"), "{screen}");
    assert!(
        screen.contains("process 4242 exited during the trace"),
        "{screen}"
    );
    assert!(
        inspector(&app).selected_thread().is_some(),
        "the last snapshot is kept"
    );
    assert_snapshot!("process_view_exited_80x24", screen);
    let mut app = inspecting();
    let msg =
        "permission denied to trace process 4242: run as root, give the binary CAP_SYS_PTRACE";
    app.update(Action::TraceFailed {
        message: msg.into(),
        exited: false,
    });
    assert!(render(&app, 160, 48).contains(msg));
}

#[test]
fn back_returns_to_the_list_with_the_process_selected() {
    let mut app = inspecting();
    assert_eq!(cmd(&mut app, Command::Back), vec![Effect::StopInspecting]);
    assert_eq!(app.screen(), Screen::ProcessList);
    assert_eq!(app.process_list().selected_pid(), Some(4242));
}

#[test]
fn help_lists_every_binding_and_scrolls() {
    let mut app = app_with_processes();
    cmd(&mut app, Command::Help);
    assert_snapshot!("help_80x24", render(&app, 80, 24));
    // Tall enough for every binding (a shorter terminal scrolls it).
    let big = render(&app, 160, 64);
    for b in rstack_tui::ui::keymap::KEYMAP {
        assert!(
            big.contains(b.help.split(' ').next().unwrap()),
            "help lacks {}",
            b.label
        );
    }
    cmd(&mut app, Command::Down);
    assert_eq!(app.help().scroll(), 1);
    cmd(&mut app, Command::Sort);
    assert_eq!(
        app.process_list().sort(),
        ProcColumn::Cpu,
        "keys other than scrolling do nothing under help"
    );
    cmd(&mut app, Command::Back);
    assert!(!app.help().is_open());
}

#[test]
fn no_color_marks_selection_with_reverse() {
    let mut app = app_with_processes();
    set_no_color(&mut app, true);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| ui::render(&app, f)).unwrap();
    let buf = terminal.backend().buffer();
    // Row 3 is the first data row (header line, title, column header).
    let cell = &buf[(0, 3)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");
    assert_eq!(cell.fg, ratatui::style::Color::Reset);
    assert_eq!(cell.bg, ratatui::style::Color::Reset);
    // And in colour, the selection is a colour, not reverse video.
    set_no_color(&mut app, false);
    terminal.draw(|f| ui::render(&app, f)).unwrap();
    assert_ne!(
        terminal.backend().buffer()[(0, 3)].bg,
        ratatui::style::Color::Reset
    );
}

#[test]
fn clicks_and_wheel_select_rows() {
    let mut app = inspecting();
    let areas = ui::layout(ratatui::layout::Rect::new(0, 0, 80, 24), Screen::Inspector);
    // The pane's title line, the column header, then rows 0, 1, 2...
    let (pane, row) = areas
        .hit(10, areas.threads.y + 4, Screen::Inspector)
        .unwrap();
    assert_eq!((pane, row), (Some(Pane::Threads), 2));
    app.update(Action::ClickRow { pane, row });
    assert_eq!(inspector(&app).selected_tid(), Some(4244));
    let (pane, row) = areas
        .hit(10, areas.frames.y + 3, Screen::Inspector)
        .unwrap();
    app.update(Action::ClickRow { pane, row });
    assert_eq!(inspector(&app).focus(), Pane::Frames);
    assert_eq!(inspector(&app).selected_frame(), 2);
    app.update(Action::Scroll(-3));
    assert_eq!(inspector(&app).selected_frame(), 0);
}

#[test]
fn hostile_text_is_drawn_inert() {
    let mut app = App::new();
    let mut evil = proc_info(
        666,
        "evil",
        "evil \u{1b}]0;pwned\u{7}\u{1b}[2J",
        "root",
        0.0,
        1,
        1,
    );
    evil.command = rstack_tui::text::inert(&evil.command).into_owned();
    app.update(Action::ProcessesListed(vec![evil]));
    let screen = render(&app, 80, 24);
    assert!(!screen.contains('\u{1b}'), "{screen:?}");
    assert!(screen.contains(r"\x1b]0;pwned\x07"), "{screen}");
    // A loaded snapshot with control characters in names is made inert on the way in.
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 7, "command": "x\u{9b}31m", "taken_at": "", "taken_at_unix_ms": 0, "mode": "rolling",
        "elapsed_us": 0, "longest_stop_us": 0,
        "threads": [{"tid": 7, "name": "\u{1b}[5mblink", "state": "S", "wchan": null, "syscall": null,
            "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false, "error": null,
            "end_note": null, "frames": [{"ip": 1, "symbol": "f\u{7f}oo", "raw_symbol": null, "offset": 0,
            "module": "/tmp/\u{1b}x", "module_offset": 0, "is_signal": false}]}]
    }))
    .unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(7));
    app.update(Action::Snapshot(Arc::new(doc.to_process())));
    let screen = render(&app, 160, 48);
    assert!(
        !screen
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{7f}' || c == '\u{9b}'),
        "{screen:?}"
    );
    assert!(
        screen.contains(r"\x1b[5mblink") && screen.contains(r"f\x7foo"),
        "{screen}"
    );
}

/// The buffer with its styles (ratatui's Debug form lists every style run), so colour and
/// monochrome themes are snapshotted too, not only the text.
fn render_styled(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    format!("{:?}", terminal.backend().buffer())
}

#[test]
fn colour_and_no_color_styles() {
    for no_color in [false, true] {
        let mut app = inspecting();
        set_no_color(&mut app, no_color);
        app.update(Action::Snapshot(second_snapshot()));
        let name = if no_color {
            "process_view_styles_no_color_80x24"
        } else {
            "process_view_styles_colour_80x24"
        };
        assert_snapshot!(name, render_styled(&app, 80, 24));
        let mut list = app_with_processes();
        set_no_color(&mut list, no_color);
        let name = if no_color {
            "processes_styles_no_color_80x24"
        } else {
            "processes_styles_colour_80x24"
        };
        assert_snapshot!(name, render_styled(&list, 80, 24));
    }
}

#[test]
fn help_at_a_large_size() {
    let mut app = inspecting();
    cmd(&mut app, Command::Help);
    assert_snapshot!("help_160x48", render(&app, 160, 48));
}

#[test]
fn diff_view_between_the_newest_two_and_any_older_pick() {
    let mut app = inspecting();
    cmd(&mut app, Command::DiffView);
    assert!(render(&app, 80, 24).contains("Diff: needs two snapshots"));
    app.update(Action::Snapshot(second_snapshot()));
    let (old, new) = inspector(&app).history().diff_pair().unwrap();
    assert_eq!(
        (old.taken_at(), new.taken_at()),
        (first_snapshot().taken_at(), second_snapshot().taken_at())
    );
    assert_snapshot!("diff_view_80x24", render(&app, 80, 24));
    assert_snapshot!("diff_view_160x48", render(&app, 160, 48));
    // A third snapshot: `[` picks the first one as the old side, `]` comes back.
    app.update(Action::Snapshot(snapshot(
        1_795_953_604_000,
        &[
            (4242, "server", 'S', 10, MAIN),
            (4247, "worker-4", 'S', 0, PARKED),
            (4246, "worker-3", 'S', 0, PARKED),
            (4244, "worker-1", 'S', 2400, PARKED),
            (4243, "worker-0", 'S', 0, PARKED),
        ],
    )));
    cmd(&mut app, Command::OlderBase);
    assert_eq!(
        inspector(&app).history().diff_pair().unwrap().0.taken_at(),
        first_snapshot().taken_at()
    );
    let screen = render(&app, 160, 48);
    assert!(screen.contains("Diff 12:00:00 → 12:00:04"), "{screen}");
    cmd(&mut app, Command::OlderBase);
    assert_eq!(
        inspector(&app).history().diff_pair().unwrap().0.taken_at(),
        first_snapshot().taken_at(),
        "no older snapshot"
    );
    cmd(&mut app, Command::NewerBase);
    assert_eq!(
        inspector(&app).history().diff_pair().unwrap().0.taken_at(),
        second_snapshot().taken_at()
    );
    // The changed thread's frames: the differing inner frames are marked, the outer ones not.
    let tids: Vec<u32> = rstack_tui::tracer::diff::diff(
        inspector(&app).history().diff_pair().unwrap().0,
        inspector(&app).history().diff_pair().unwrap().1,
    )
    .threads
    .iter()
    .map(|t| t.tid)
    .collect();
    let busy_row = tids.iter().position(|t| *t == 4244).unwrap();
    cmd(&mut app, Command::Top);
    for _ in 0..busy_row {
        cmd(&mut app, Command::Down);
    }
    assert_eq!(inspector(&app).selected_tid(), Some(4244));
    let screen = render(&app, 160, 48);
    // worker-1 went from the hash code back to the pool: only __clone3 is common.
    assert!(
        screen.contains("!0 ") && screen.contains("!4 ") && screen.contains("#5 "),
        "{screen}"
    );
    assert_snapshot!("diff_view_changed_thread_160x48", screen);
    cmd(&mut app, Command::DiffView);
    assert_eq!(inspector(&app).view(), rstack_tui::app::View::Threads);
}

#[test]
fn stuck_threads_show_for_how_long_and_sort_first() {
    let mut app = inspecting();
    app.update(Action::Snapshot(second_snapshot()));
    let rows = inspector(&app).thread_rows();
    let stuck = |tid: u32| {
        rows.iter()
            .find(|r| r.thread.id() == tid)
            .and_then(|r| r.stuck)
            .map(|s| s.snapshots)
    };
    assert_eq!(stuck(4243), Some(2), "worker-0 parked in both");
    assert_eq!(stuck(4247), Some(1), "worker-4 is new");
    drop(rows);
    let screen = render(&app, 80, 24);
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("\"4243 ") && l.contains("2s/2")),
        "{screen}"
    );
    cmd(&mut app, Command::SortThreads);
    assert_eq!(
        inspector(&app).thread_sort(),
        rstack_tui::app::ThreadSort::Stuck
    );
    let first = inspector(&app).thread_rows()[0].thread.id();
    assert_ne!(first, 4247, "the new thread is not the longest stuck");
    assert!(render(&app, 80, 24).contains("longest unchanged first"));
}

#[test]
fn group_view_collapses_identical_stacks() {
    let mut app = inspecting();
    cmd(&mut app, Command::GroupView);
    assert_snapshot!("group_view_80x24", render(&app, 80, 24));
    let groups = inspector(&app).history().groups();
    assert_eq!(
        groups.iter().map(|g| g.threads.len()).collect::<Vec<_>>(),
        [3, 1, 1]
    );
    // The frames pane shows the selected group's stack; moving selects the next group.
    assert_eq!(inspector(&app).selected_thread().unwrap().id(), 4243);
    cmd(&mut app, Command::Down);
    assert_eq!(inspector(&app).selected_thread().unwrap().id(), 4242);
    // After a refresh the counts that changed are shown, and the selection is kept by stack.
    app.update(Action::Snapshot(second_snapshot()));
    assert_eq!(inspector(&app).selected_thread().unwrap().id(), 4242);
    assert_snapshot!("group_view_after_refresh_160x48", render(&app, 160, 48));
}

#[test]
fn save_asks_the_loop_to_write_and_reports_where() {
    let mut app = inspecting();
    app.update(Action::Snapshot(second_snapshot()));
    match cmd(&mut app, Command::Save).as_slice() {
        [Effect::Save(docs)] => assert_eq!(docs.len(), 1),
        other => panic!("{other:?}"),
    }
    match cmd(&mut app, Command::SaveHistory).as_slice() {
        [Effect::Save(docs)] => assert_eq!(docs.len(), 2),
        other => panic!("{other:?}"),
    }
    app.update(Action::Saved(Ok(
        "/tmp/rstack-4242-server-20261129T120002Z.json".into(),
    )));
    assert!(render(&app, 160, 48).contains("saved /tmp/rstack-4242-server-20261129T120002Z.json"));
    app.update(Action::Saved(Err(
        "x.json: already exists; not overwritten".into(),
    )));
    assert!(render(&app, 160, 48).contains("already exists"));
}

#[test]
fn a_refused_line_cache_is_said_on_the_status_line() {
    use rstack_tui::tracer::{CacheRefusal, CacheRefused};
    let mut app = inspecting();
    let path = std::path::PathBuf::from("/home/u\u{1b}[2J/.cache/rstack-tui");
    app.update(Action::LineCacheRefused(CacheRefused {
        path: path.clone(),
        at: path,
        reason: CacheRefusal::Symlink,
    }));
    // Kept across refreshes; the user's path drawn inert.
    app.update(Action::Snapshot(second_snapshot()));
    let screen = render(&app, 160, 48);
    let said = r"line cache not used: /home/u\x1b[2J/.cache/rstack-tui is a symbolic link";
    assert_eq!(screen.matches(said).count(), 1, "{screen}");
    assert!(!screen.contains('\u{1b}'), "{screen}");
}

#[test]
fn offline_history_opens_in_the_same_panes() {
    let mut app = App::new();
    app.update(Action::OpenOffline(vec![
        first_snapshot(),
        second_snapshot(),
    ]));
    assert!(app.refresh().offline() && app.screen() == Screen::Inspector);
    assert!(
        cmd(&mut app, Command::SnapshotNow).is_empty(),
        "no tracing offline"
    );
    let screen = render(&app, 80, 24);
    assert!(screen.contains("offline, 2 snapshots"), "{screen}");
    cmd(&mut app, Command::DiffView);
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("0 changed, 1 new, 1 exited, 4 same"),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("\"4244 ") && l.contains("busy")),
        "{screen}"
    );
}

#[test]
fn history_is_bounded() {
    let mut app = inspecting();
    for i in 0..40u64 {
        app.update(Action::Snapshot(snapshot(
            1_795_953_602_000 + i * 2000,
            &[(4242, "server", 'S', 10, MAIN)],
        )));
    }
    let t = inspector(&app);
    assert_eq!(t.history().len(), rstack_tui::app::HISTORY);
    assert_eq!(
        t.history().stuck(4242).map(|s| s.snapshots),
        Some(41),
        "the stuck count outlives the history window"
    );
}

#[test]
fn a_state_changed_at_the_capture_is_shown() {
    let mut doc: serde_json::Value =
        serde_json::to_value(SnapshotDoc::from(first_snapshot().as_ref())).unwrap();
    doc["threads"][1]["state"] = serde_json::json!("S");
    doc["threads"][1]["state_before"] = serde_json::json!("R");
    doc["threads"][1]["syscall"] =
        serde_json::json!({"number": 230, "name": "clock_nanosleep", "args": [1, 0, 0, 0, 0, 0]});
    doc["threads"][1]["wait"] = serde_json::json!("clock_nanosleep(CLOCK_MONOTONIC)");
    doc["threads"][2]["state"] = serde_json::json!("R");
    doc["threads"][2]["syscall"] = serde_json::Value::Null;
    doc["threads"][2]["leaving"] = serde_json::json!({"call": {"number": 230,
        "name": "clock_nanosleep", "args": [1, 0, 0, 0, 0, 0]}});
    let p: SnapshotDoc = serde_json::from_value(doc).unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(4242));
    app.update(Action::Snapshot(Arc::new(p.to_process())));
    cmd(&mut app, Command::Down);
    let screen = render(&app, 160, 48);
    // Below the selected thread's frames: the state the capture found, and the one before.
    assert!(
        screen
            .lines()
            .any(|l| l.contains(" --   ") && l.contains("  S at the capture, R just before  ")),
        "{screen}"
    );
    // The threads pane: the call the other thread was leaving (whole: the name is narrowed).
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("\"4244    worker-1 R      ← clock_nanosleep ")),
        "{screen}"
    );
    cmd(&mut app, Command::Down);
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("  leaving clock_nanosleep (it returned)  "),
        "{screen}"
    );
}

#[test]
fn deadlocks_locks_and_kernel_stacks_are_shown() {
    let mut doc: serde_json::Value =
        serde_json::to_value(SnapshotDoc::from(first_snapshot().as_ref())).unwrap();
    doc["deadlocks"] = serde_json::json!([[4243, 4245]]);
    doc["threads"][1]["lock"] =
        serde_json::json!({"address": 0x5555_1234_0040u64, "owner": 4245, "note": null});
    doc["threads"][1]["wait"] = serde_json::json!("futex_wait(0x555512340040)");
    doc["threads"][3]["lock"] =
        serde_json::json!({"address": 0x5555_1234_0080u64, "owner": 4243, "note": null});
    doc["threads"][4]["lock"] = serde_json::json!({"address": 0x5555_1234_00c0u64, "owner": null, "note": "not a glibc mutex"});
    doc["threads"][4]["kernel_stack"] =
        serde_json::json!(["futex_wait_queue+0x6b/0xa0", "do_futex+0x11f/0x1a0"]);
    let p: SnapshotDoc = serde_json::from_value(doc).unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(4242));
    app.update(Action::Snapshot(Arc::new(p.to_process())));
    cmd(&mut app, Command::Down);
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("DEADLOCK 4243 \"worker-0\" → 4245 \"worker-2\" → 4243"),
        "{screen}"
    );
    assert!(screen.contains("held by 4245"), "{screen}");
    assert!(screen.contains("in futex_wait(0x555512340040)"), "{screen}");
    assert!(
        screen.contains("waiting for mutex 0x555512340040 held by 4245 \"worker-2\""),
        "{screen}"
    );
    assert_snapshot!("deadlock_100x30", screen);
    cmd(&mut app, Command::Bottom);
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains("not a glibc mutex") && screen.contains("futex_wait_queue+0x6b/0xa0"),
        "{screen}"
    );
    // The text dump says the same.
    let text = rstack_tui::dump::to_text(&p.to_process());
    assert!(
        text.contains("deadlock: 4243 \"worker-0\" → 4245 \"worker-2\" → 4243"),
        "{text}"
    );
    assert!(
        text.contains("  -- waiting for mutex 0x555512340040 held by 4245 \"worker-2\""),
        "{text}"
    );
    assert!(
        text.contains("  kernel:\n    futex_wait_queue+0x6b/0xa0"),
        "{text}"
    );
}

#[test]
fn frames_pane_shows_lines_and_inlined_frames() {
    let frame = |ip: u64, symbol: &str, file: Option<&str>, line: u32, inlined: bool| {
        serde_json::json!({"ip": ip, "symbol": symbol, "raw_symbol": symbol, "offset": 0x10,
            "module": "/srv/server", "module_offset": ip, "is_signal": false,
            "file": file, "line": file.map(|_| line), "inlined": inlined})
    };
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 9, "command": "server", "taken_at": "", "taken_at_unix_ms": 0,
        "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
        "threads": [{"tid": 9, "name": "main", "state": "S", "wchan": null, "syscall": null,
            "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
            "error": null, "end_note": null, "frames": [
                frame(0x1000, "server::pool::wait_job", Some("/build/server/src/pool.rs"), 42, true),
                frame(0x1000, "server::pool::worker_loop", Some("/build/server/src/pool.rs"), 17, false),
                frame(0x2000, "server::main", None, 0, false),
            ]}]
    }))
    .unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(9));
    app.update(Action::Snapshot(Arc::new(doc.to_process())));
    let screen = render(&app, 160, 30);
    assert!(screen.contains("[i] server::pool::wait_job"), "{screen}");
    assert!(
        !screen.contains("[i] server::pool::worker_loop"),
        "{screen}"
    );
    assert!(screen.contains("src/pool.rs:42"), "{screen}");
    assert!(screen.contains("src/pool.rs:17"), "{screen}");
    assert!(!screen.contains("/build/server/src/pool.rs"), "{screen}");
    // Without a location the module stays.
    assert!(screen.contains("server::main+0x10"), "{screen}");
}

/// The stack pane says why a module's frames have no names: the trace's note on that module
/// (no debuginfo, or an ELF file it could not read), only for the modules in this stack.
#[test]
fn module_notes_show_under_the_stack_that_uses_the_module() {
    let frame = |module: &str| {
        serde_json::json!({"ip": 1, "symbol": null, "raw_symbol": null, "offset": null,
            "module": module, "module_offset": 16, "is_signal": false})
    };
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 7, "command": "srv", "taken_at": "", "taken_at_unix_ms": 0,
        "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
        "missing_debuginfo": [
            "/lib/libbroken.so: unreadable ELF file (bad header): no symbols",
            "/lib/libother.so: no debuginfo (build-id 1234)"
        ],
        "threads": [{"tid": 7, "name": "main", "state": "S", "wchan": null, "syscall": null,
            "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
            "error": null, "end_note": null,
            "frames": [frame("/lib/libbroken.so"), frame("/srv/srv")]}]
    }))
    .unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(7));
    app.update(Action::Snapshot(Arc::new(doc.to_process())));
    let screen = render(&app, 160, 48);
    let note = screen
        .lines()
        .find(|l| l.contains("unreadable ELF file: no symbols"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(note.contains("libbroken.so"), "{note}");
    assert!(!screen.contains("libother.so"), "{screen}");
}

/// The stack pane ends a stack cut short with its one reason (typed in the snapshot, or a note
/// of an older snapshot as written), and a stack that reached its root with nothing; the
/// signal trampoline is labelled as gdb does.
#[test]
fn stack_pane_says_once_why_a_stack_ends() {
    let frame = |ip: u64, symbol: &str, is_signal: bool| {
        serde_json::json!({"ip": ip, "symbol": symbol, "raw_symbol": symbol, "offset": 0,
            "module": "/srv/srv", "module_offset": ip, "is_signal": is_signal})
    };
    let thread = |tid: u32, name: &str, end: serde_json::Value, end_note: serde_json::Value| {
        serde_json::json!({"tid": tid, "name": name, "state": "S", "wchan": null,
            "syscall": null, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0,
            "truncated": !end_note.is_null(), "error": null, "end_note": end_note, "end": end,
            "frames": [frame(0x10, "on_signal", false), frame(0x20, "__restore_rt", true),
                frame(0x30, "interrupted", false)]})
    };
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 7, "command": "srv", "taken_at": "", "taken_at_unix_ms": 0,
        "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
        "threads": [
            thread(7, "limited", serde_json::json!({"reason": "frame_limit", "limit": 3}),
                serde_json::json!("stack cut at the frame limit (3 frames)")),
            thread(8, "whole", serde_json::json!({"reason": "root"}), serde_json::Value::Null),
            thread(9, "old", serde_json::Value::Null,
                serde_json::json!("unwinding stopped: no unwind info")),
        ]
    }))
    .unwrap();
    let process = doc.to_process();
    let mut app = App::new();
    app.update(Action::Inspect(7));
    app.update(Action::Snapshot(Arc::new(process.clone())));
    let screen = render(&app, 200, 30);
    assert!(
        screen.contains("<signal handler called> __restore_rt+0x0"),
        "{screen}"
    );
    let cut: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("cut at the frame limit"))
        .collect();
    assert_eq!(cut.len(), 1, "{screen}");
    assert!(cut[0].contains("3 frames"), "{screen}");
    assert!(!screen.contains("repeating"), "{screen}");
    let ends: Vec<(Option<String>, bool)> = process
        .threads()
        .iter()
        .map(|t| (t.end_note(), t.is_truncated()))
        .collect();
    assert_eq!(
        ends,
        [
            (Some("stack cut at the frame limit (3 frames)".into()), true),
            (None, false),
            (Some("unwinding stopped: no unwind info".into()), true)
        ]
    );
    // The same in the text dump: one line per cut stack.
    let text = rstack_tui::dump::to_text(&process);
    assert_eq!(text.matches("  ... (").count(), 2, "{text}");
    assert!(
        text.contains("  ... (stack cut at the frame limit (3 frames))"),
        "{text}"
    );
}

/// The first snapshot with three goroutines, as a Go process's: two parked on a channel in
/// `main.worker`, one running on thread 4242.
fn go_snapshot() -> Arc<Process> {
    let first = first_snapshot();
    let mut doc = SnapshotDoc::from(&*first);
    let frame = |symbol: &str, line: u32| {
        serde_json::json!({"ip": 0x40_1000u64 + line as u64, "symbol": symbol, "raw_symbol": symbol,
            "offset": 0x10, "module": "/srv/goserver", "module_offset": 0x1000,
            "is_signal": false, "file": "/src/server/main.go", "line": line, "inlined": false})
    };
    let parked = |id: u64| {
        serde_json::json!({"goid": id, "status": "waiting", "wait_reason": "chan receive",
            "waiting_ms": null, "thread": null, "end_note": null,
            "frames": [frame("runtime.gopark", 1), frame("main.worker", 20), frame("runtime.goexit", 3)]})
    };
    doc.goroutines = serde_json::from_value(serde_json::json!([
        parked(7),
        parked(8),
        {"goid": 1, "status": "running", "wait_reason": null, "waiting_ms": null,
         "thread": 4242, "end_note": "running on thread 4242: its stack is that thread's",
         "frames": []}
    ]))
    .unwrap();
    Arc::new(doc.to_process())
}

#[test]
fn goroutine_view_lists_goroutines_and_shows_the_selected_ones_stack() {
    let mut app = inspecting();
    app.update(Action::Snapshot(go_snapshot()));
    cmd(&mut app, Command::GoroutineView);
    let screen = render(&app, 100, 30);
    let line = |text: &str| {
        screen
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?} in\n{screen}"))
            .to_string()
    };
    line(" Goroutines (3) ");
    assert!(line("\"GOID").contains("STATE     "));
    let seven = line("\"7 ");
    assert!(
        seven.contains(" chan receive ") && seven.contains(" main.worker "),
        "{seven}"
    );
    let one = line("\"1 ");
    assert!(one.contains(" running ") && one.contains(" 4242 "), "{one}");
    assert!(
        screen.contains(" Stack of goroutine 7 [chan receive] "),
        "{screen}"
    );
    assert!(line("#1").contains("main.worker+0x10") && line("#1").contains("server/main.go:20"));

    // Down selects the next goroutine, and a refresh keeps it; the frames pane follows.
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Down);
    app.update(Action::Snapshot(go_snapshot()));
    let screen = render(&app, 100, 30);
    assert!(
        screen.contains(" Stack of goroutine 1 [running, thread 4242] "),
        "{screen}"
    );
    assert!(
        screen.contains("… running on thread 4242: its stack is"),
        "{screen}"
    );
    // The key toggles back to the threads.
    cmd(&mut app, Command::GoroutineView);
    assert!(render(&app, 100, 30).contains(" Threads ("));
}
