//! End-to-end tests of the interactive inspector: the real binary in a real terminal (tmux),
//! driven by key presses as a person would, and ended the ways a session ends in practice
//! (`q`, SIGHUP, SIGTERM, the terminal going away). After each, the fixture must run on,
//! untraced, and the terminal must be back in its normal state.

mod common;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::tmux::{DEADLINE, POLL, Reaper, Tmux};
use common::{Fixture, expected_worker_chain, gone, thread_states, threads_bin, tid_named};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// Waits (bounded) until the inspector `pid` has exited; on timeout, panics with the screen.
fn wait_gone(pid: u32, tmux: Option<&Tmux>) {
    let deadline = Instant::now() + DEADLINE;
    while !gone(pid) {
        if Instant::now() > deadline {
            let screen = tmux.map(Tmux::capture).unwrap_or_default();
            let states = thread_states(pid);
            panic!("rstack-tui {pid} did not exit; its threads {states:?}; the screen:\n{screen}");
        }
        std::thread::sleep(POLL);
    }
}

/// TracerPid of one thread.
fn thread_tracer(pid: u32, tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The fixture runs on: no thread stopped or traced (every thread's TracerPid is 0).
fn assert_fixture_untouched(fx: &Fixture, context: &str) {
    fx.assert_running();
    let mut states = fx.thread_states();
    states.sort();
    for (tid, state) in &states {
        assert!(
            !matches!(state, 't' | 'T'),
            "{context}: thread {tid} of the fixture left in state {state}"
        );
        assert_eq!(
            thread_tracer(fx.pid(), *tid),
            0,
            "{context}: thread {tid} of the fixture still traced"
        );
    }
}

/// The first line of `screen` containing `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(needle))
}

/// The status line of the process view.
fn status_line(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.starts_with(" rolling ·") || l.starts_with(" snapshot ·"))
}

/// "HH:MM:SS" after "taken " on the status line.
fn taken(screen: &str) -> Option<String> {
    let line = status_line(screen)?;
    let at = line.find("taken ")? + "taken ".len();
    line.get(at..at + 8).map(str::to_string)
}

/// The current UTC time as HH:MM:SS.
fn utc_clock() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The fixture functions shown in the frames pane, innermost first (without offsets).
fn fixture_frames(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.starts_with(" Stack of "))
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with("threads_fixture::") && w.contains("+0x"))
        .map(|w| w.split('+').next().unwrap().to_string())
        .collect()
}

/// Shell-quotes one word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Selects `pid` in the filtered process list and inspects it; returns the inspector's screen.
/// Other tests' fixtures match the filter too: ours is picked by its row, and the header must
/// name it (the list may reorder between reading and pressing; then go back and retry).
fn inspect_row_of(tmux: &Tmux, pid: &str) -> String {
    let mut attempts = 0;
    loop {
        let screen = tmux.capture();
        let rows: Vec<&str> = screen
            .lines()
            .skip_while(|l| !l.starts_with("PID "))
            .skip(1)
            .collect();
        let row = rows
            .iter()
            .position(|l| l.split_whitespace().next() == Some(pid))
            .unwrap_or_else(|| panic!("fixture {pid} not listed; the screen:\n{screen}"));
        let mut keys = vec!["g"];
        keys.extend(std::iter::repeat_n("j", row));
        keys.push("Enter");
        tmux.send_keys(&keys);
        let screen = tmux.wait_for(" Threads (");
        if screen.starts_with(&format!(" pid {pid} ")) {
            break screen;
        }
        attempts += 1;
        assert!(
            attempts < 5,
            "could not select {pid}; the screen:\n{screen}"
        );
        tmux.send_keys(&["Escape"]);
        tmux.wait_for("Enter inspect");
    }
}

#[test]
fn find_inspect_snapshot_quit() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let pid = fx.pid().to_string();
    let tmux = Tmux::shell(100, 30, &quote(BIN));
    tmux.wait_for("Processes (");
    assert!(
        tmux.alternate_on(),
        "the inspector uses the alternate screen"
    );

    // Find the fixture by name.
    tmux.type_text("/rsfixture");
    tmux.wait_screen("the fixture in the filtered list", |s| {
        s.contains("filter: rsfixture")
            && s.lines().any(|l| l.split_whitespace().next() == Some(&pid))
    });
    tmux.send_keys(&["Enter"]);
    tmux.wait_for("Enter inspect");

    let screen = inspect_row_of(&tmux, &pid);
    assert!(
        screen.lines().next().unwrap().contains("rsfixture park 3"),
        "{screen}"
    );

    // The main thread is selected first: its stack is shown.
    let screen = tmux.wait_screen("the main thread's stack", |s| {
        s.contains("worker-0")
            && s.contains(&format!(" Stack of {pid} \"rsfixture\" "))
            && fixture_frames(s).first().map(String::as_str) == Some("threads_fixture::main_park")
    });
    assert_eq!(
        fixture_frames(&screen),
        ["threads_fixture::main_park", "threads_fixture::main"],
        "{screen}"
    );
    assert!(screen.contains(" Threads (4) "), "{screen}");

    // Down to the first worker: its whole fixture chain.
    tmux.send_keys(&["j"]);
    let screen = tmux.wait_screen("a worker's stack", |s| {
        line_with(s, " Stack of ").is_some_and(|l| l.contains("\"worker-"))
            && fixture_frames(s).contains(&"threads_fixture::worker_main".to_string())
    });
    let title = line_with(&screen, " Stack of ").unwrap();
    let worker: usize = title
        .split("\"worker-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no worker in {title:?}"));
    assert_eq!(
        fixture_frames(&screen),
        expected_worker_chain(worker),
        "{screen}"
    );

    // Pause auto-refresh, then `r` takes a snapshot: the "taken" time moves.
    tmux.send_keys(&["Space"]);
    let screen = tmux.wait_screen("paused, no trace running", |s| {
        status_line(s).is_some_and(|l| l.contains("paused") && !l.contains("tracing"))
    });
    let before = taken(&screen).unwrap_or_else(|| panic!("no taken time:\n{screen}"));
    while utc_clock() == before {
        std::thread::sleep(POLL);
    }
    tmux.send_keys(&["r"]);
    let screen = tmux.wait_screen("a new snapshot after r", |s| {
        status_line(s).is_some_and(|l| l.contains("took") && !l.contains("tracing"))
            && taken(s).is_some_and(|t| t != before)
    });
    assert!(screen.contains("paused"), "{screen}");
    assert_fixture_untouched(&fx, "while paused");

    tmux.send_keys(&["q"]);
    let screen = tmux.wait_for("TTY:");
    assert!(screen.contains("EXITED rc=0"), "{screen}");
    let tty = line_with(&screen, "TTY:").unwrap();
    assert_eq!(
        tty.split_whitespace().collect::<Vec<_>>(),
        ["TTY:", "isig", "icanon", "echo"],
        "terminal left in raw mode"
    );
    tmux.assert_terminal_restored();
    assert!(tmux.flag("cursor_flag"), "cursor left hidden");
    assert_fixture_untouched(&fx, "after q");
}

/// When, during a session, the inspector is ended.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// As soon as the status line says "tracing…".
    TracingShown,
    /// As soon as a new snapshot is shown (between refreshes).
    NewSnapshot,
    /// The moment the tracer holds the fixture's thread number `n` (in /proc order): inside
    /// a refresh, with a thread stopped.
    ThreadTraced(usize),
}

/// Waits for `moment` in the inspector showing `fx` in `tmux`.
fn wait_moment(tmux: &Tmux, fx: &Fixture, moment: Moment) {
    match moment {
        Moment::TracingShown => {
            tmux.wait_for("tracing…");
        }
        Moment::NewSnapshot => {
            let first = tmux.wait_for("took");
            let line =
                |s: &str| status_line(s).map(|l| l.split(" · tracing").next().unwrap().to_string());
            let before = line(&first);
            tmux.wait_screen("a new snapshot", |s| {
                line(s) != before && !s.contains("tracing…")
            });
        }
        Moment::ThreadTraced(n) => {
            let mut tids: Vec<u32> = fx.thread_states().into_iter().map(|(t, _)| t).collect();
            tids.sort();
            let tid = tids[n.min(tids.len() - 1)];
            // Each refresh holds the thread for a fraction of a millisecond: poll without
            // sleeping (a missed refresh is followed by another 0.5 s later).
            let deadline = Instant::now() + DEADLINE;
            while thread_tracer(fx.pid(), tid) == 0 {
                assert!(
                    Instant::now() < deadline,
                    "thread {tid} of the fixture never seen traced; the screen:\n{}",
                    tmux.capture()
                );
                std::hint::spin_loop();
            }
        }
    }
}

/// Starts the inspector on `fx` (auto-refresh every 0.5 s), waits until it shows the threads
/// and for `moment`, sends `signal`, and checks that it exits on its own, restores the
/// terminal and leaves the fixture running.
fn signal_round(fx: &Fixture, signal: Signal, moment: Moment, extra: &[&str]) {
    let pid = fx.pid().to_string();
    let mut argv = vec![BIN, &pid, "--interval", "0.5"];
    argv.extend_from_slice(extra);
    let tmux = Tmux::exec(100, 30, &argv);
    let ui = tmux.pane_pid();
    let _reaper = Reaper(ui);
    tmux.wait_for("worker-");
    wait_moment(&tmux, fx, moment);
    kill(Pid::from_raw(ui as i32), signal).expect("signal the inspector");
    let context = format!("{signal:?} at {moment:?} {extra:?}");
    wait_gone(ui, Some(&tmux));
    assert_fixture_untouched(fx, &context);
    let (status, killed_by) = tmux.exit_status(ui);
    assert!(
        !status.is_empty() && matches!(killed_by.as_str(), "" | "0"),
        "{context}: the inspector did not exit by itself (status {status:?}, signal \
         {killed_by:?}); the screen:\n{}",
        tmux.capture()
    );
    tmux.assert_terminal_restored();
}

#[test]
fn sighup_mid_refresh_detaches_and_restores() {
    // Many threads, so a refresh takes long enough to be interrupted.
    let fx = Fixture::spawn(threads_bin(), &["park", "200"]);
    for (signal, moment, extra) in [
        (Signal::SIGHUP, Moment::TracingShown, &[][..]),
        (Signal::SIGHUP, Moment::NewSnapshot, &[]),
        (Signal::SIGHUP, Moment::ThreadTraced(1), &[]),
        (Signal::SIGHUP, Moment::ThreadTraced(100), &[]),
        // Snapshot mode holds every thread stopped at once: end it with 190 held.
        (Signal::SIGHUP, Moment::ThreadTraced(190), &["--snapshot"]),
        (Signal::SIGTERM, Moment::ThreadTraced(100), &[]),
    ] {
        signal_round(&fx, signal, moment, extra);
    }
}

#[test]
fn killing_the_terminal_detaches() {
    let fx = Fixture::spawn(threads_bin(), &["park", "200"]);
    let pid = fx.pid().to_string();
    let tmux = Tmux::exec(100, 30, &[BIN, &pid, "--interval", "0.5"]);
    let ui = tmux.pane_pid();
    let _reaper = Reaper(ui);
    tmux.wait_for("worker-");
    wait_moment(&tmux, &fx, Moment::ThreadTraced(100));
    // What a dropped SSH connection does: the terminal is gone and the inspector hung up.
    tmux.kill_server();
    wait_gone(ui, None);
    assert_fixture_untouched(&fx, "terminal killed mid-refresh");
}

#[test]
fn small_terminal_80x24_shows_everything_essential() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let tmux = Tmux::shell(80, 24, &format!("{} {}", quote(BIN), fx.pid()));
    let footer = " q quit  ? help  r snap  Space pause  d diff  c group  Tab pane  Esc back";
    let screen = tmux.wait_screen("the process view", |s| {
        [
            " Threads (4) ",
            " Stack of ",
            footer,
            "worker-0",
            "worker-2",
            "threads_fixture::main_park+0x",
        ]
        .iter()
        .all(|t| s.contains(t))
            && status_line(s).is_some_and(|l| l.contains("taken"))
    });
    assert!(
        screen.starts_with(&format!(" pid {} 4 threads", fx.pid())),
        "{screen}"
    );
    // The footer is the bottom line of the 24.
    assert_eq!(screen.lines().nth(23), Some(footer), "{screen}");

    tmux.send_keys(&["?"]);
    tmux.wait_for(" Help ");
    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("help closed", |s| {
        !s.contains(" Help ") && s.contains(footer)
    });
    tmux.send_keys(&["q"]);
    let screen = tmux.wait_for("TTY:");
    assert!(screen.contains("EXITED rc=0"), "{screen}");
    tmux.assert_terminal_restored();
    assert_fixture_untouched(&fx, "after q at 80x24");
}

/// `rstack-tui -p TID` opens the thread's process with that thread selected, and says so.
#[test]
fn a_thread_id_opens_its_process_with_the_thread_selected() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let tid = tid_named(fx.pid(), "worker-1");
    let tmux = Tmux::exec(140, 30, &[BIN, "-p", &tid.to_string()]);
    let ui = tmux.pane_pid();
    let _reaper = Reaper(ui);
    let note = format!(
        "thread {tid} belongs to process {} (rsfixture): showing the process, thread {tid} \
         selected",
        fx.pid()
    );
    let screen = tmux.wait_screen("the thread's process with the thread selected", |s| {
        s.contains(&format!(" Stack of {tid} \"worker-1\" "))
            && fixture_frames(s).contains(&"threads_fixture::worker_main".to_string())
    });
    assert!(
        screen.starts_with(&format!(" pid {} 4 threads", fx.pid())),
        "{screen}"
    );
    // The status line (the one with the refresh facts) says why.
    let status = screen
        .lines()
        .find(|l| l.contains(" · "))
        .unwrap_or_else(|| panic!("no status line in\n{screen}"));
    assert!(status.starts_with(&format!(" {note} ")), "{screen}");
    assert_eq!(
        fixture_frames(&screen),
        expected_worker_chain(1),
        "{screen}"
    );
    // It is the threads pane's selection: one row down selects the thread listed below it.
    let below: String = screen
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{tid} ")))
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no row below {tid}'s in\n{screen}"))
        .to_string();
    tmux.send_keys(&["j"]);
    tmux.wait_screen("the row below selected", |s| {
        line_with(s, " Stack of ").is_some_and(|l| l.contains(&format!(" Stack of {below} ")))
    });
    tmux.send_keys(&["q"]);
    wait_gone(ui, Some(&tmux));
    assert_fixture_untouched(&fx, "after q");
}

/// `rstack-tui demo` starts the demo as its child, opens it, and ends it on quit.
#[test]
fn demo_opens_and_ends_with_the_inspector() {
    let tmux = Tmux::shell(100, 30, &format!("{} demo", quote(BIN)));
    let screen = tmux.wait_screen("the demo's threads", |s| {
        [
            "pool-0",
            "rstack_tui::demo::main_wait",
            "rstack_tui::demo::wait_for_job",
        ]
        .iter()
        .all(|t| s.contains(t))
    });
    // The last rows: the deadlocked pair, each in its own transfer function.
    tmux.send_keys(&["G"]);
    tmux.wait_screen("the deadlocked threads", |s| {
        [
            "deadlock-a",
            "deadlock-b",
            "busy",
            "rstack_tui::demo::transfer_b_to_a+0x",
        ]
        .iter()
        .all(|t| s.contains(t))
    });
    let demo: u32 = screen
        .lines()
        .next()
        .and_then(|l| l.trim_start().strip_prefix("pid "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the header: {screen}"));
    let _reaper = Reaper(demo);
    assert!(
        std::fs::read_to_string(format!("/proc/{demo}/cmdline"))
            .unwrap()
            .contains("__demo-target")
    );
    tmux.send_keys(&["q"]);
    let screen = tmux.wait_for("TTY:");
    assert!(screen.contains("EXITED rc=0"), "{screen}");
    wait_gone(demo, Some(&tmux));
    tmux.assert_terminal_restored();
}

/// Live history: the stuck marker grows with each refresh; `w` saves the snapshot and `W` the
/// history (0600 files); `load` opens them offline, where the diff works across the saved
/// snapshots.
#[test]
fn stuck_marker_save_and_load_offline() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cd = quote(dir.to_str().unwrap());
    let tmux = Tmux::shell(
        160,
        40,
        &format!("cd {cd} && {} {} --interval 0.5", quote(BIN), fx.pid()),
    );
    // "SAME FOR" is "<time>/<snapshots>": how many snapshots in a row a thread's stack
    // stayed the same.
    let row = |s: &str, name: &str| -> Option<u32> {
        let line = s
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))?;
        line.split_whitespace()
            .find_map(|w| w.split_once('/').and_then(|(_, n)| n.parse().ok()))
    };
    // Parked threads: same stack for 3 snapshots and counting.
    tmux.wait_screen("a stuck marker", |s| {
        row(s, "worker-0").is_some_and(|n| n >= 3)
    });
    // The mover moves: its count starts again while the workers' keeps growing.
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    tmux.wait_screen("the mover's count to restart", |s| {
        match (row(s, "mover"), row(s, "worker-0")) {
            (None, Some(_)) => true, // 1 snapshot: no marker yet
            (Some(m), Some(w)) => m + 2 < w,
            _ => false,
        }
    });
    let files = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    tmux.send_keys(&["w"]);
    tmux.wait_for("saved ");
    let saved = files();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let one = saved[0].clone();
    assert!(
        one.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("rstack-{}-rsfixture-", fx.pid()))
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&one).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // W: the whole history. File names have a second's resolution, so a save in the same
    // second is refused ("already exists", never overwritten); try again on a later snapshot.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while files().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "W never saved: {}",
            tmux.capture()
        );
        tmux.send_keys(&["W"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let history = files().into_iter().find(|f| *f != one).unwrap();
    tmux.send_keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
    assert_fixture_untouched(&fx, "after saving");

    let offline = Tmux::shell(
        160,
        40,
        &format!("{} load {}", quote(BIN), quote(history.to_str().unwrap())),
    );
    let screen = offline.wait_for("offline, ");
    assert!(
        screen.contains("worker-0") && screen.contains("mover"),
        "{screen}"
    );
    offline.send_keys(&["d"]);
    offline.wait_screen("the offline diff", |s| {
        s.contains(" Diff ") && s.contains(" changed")
    });
    offline.send_keys(&["q"]);
    offline.wait_for("EXITED rc=0");
    drop(offline);
    std::fs::remove_dir_all(&dir).unwrap();
}
