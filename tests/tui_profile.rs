//! The profile view end to end: the real inspector in tmux on a process whose thread "burner"
//! spins in burn_inner (called by burn_outer). With that thread selected, `p` then `t` show
//! its profile: the table puts burn_inner first; the flame graph at 80x24 draws it; Enter
//! zooms into burn_outer and Esc comes back; `w` writes the folded profile in the current
//! directory; Esc closes the view and `q` leaves the process running, neither traced nor
//! stopped.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::tmux::{Reaper, Tmux};
use common::{Fixture, fixtures_dir, gcc, tid_named};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// tests/fixtures/profile_busy.c, built once with gcc -O1 -g -pthread.
fn busy_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("profile_busy.c");
        let args: Vec<&std::ffi::OsStr> = ["-O1", "-g", "-pthread"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([src.as_os_str()])
            .collect();
        gcc("profilebusyfixture", &args)
    })
}

/// The line under the view's pane title (" Top functions" or " Flame graph"): the table's
/// header or the flame graph's top row; and the line under that.
fn under_title<'a>(screen: &'a str, title: &str) -> Option<(&'a str, &'a str)> {
    let mut lines = screen.lines().skip_while(|l| !l.starts_with(title));
    lines.next()?;
    Some((lines.next()?, lines.next()?))
}

/// A line's first word (a frame's label, a table's function).
fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

/// "N samples" on the facts line (0 before it shows).
fn samples(screen: &str) -> u64 {
    screen
        .lines()
        .find_map(|l| l.trim_start().split_once(" samples ("))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

/// `w` writes one folded file in `dir` (the inspector's directory), named for `pid`, with at
/// least 40 samples of the burner thread `burner` in burn_inner under burn_outer.
fn assert_saved(tmux: &Tmux, dir: &Path, pid: u32, burner: u32) {
    tmux.send_keys(&["w"]);
    let screen = tmux.wait_screen("the save", |s| s.contains(" saved "));
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}\n{screen}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("rstack-{}-", pid)) && name.ends_with("Z.folded"),
        "{name}"
    );
    let folded = std::fs::read_to_string(&files[0]).unwrap();
    let burning: u64 = folded
        .lines()
        .filter(|l| l.starts_with(&format!("burner ({burner});")))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(stack, _)| stack.ends_with(";burn_outer;burn_inner"))
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .sum();
    assert!(burning >= 40, "{burning} samples in burn_inner:\n{folded}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_profile_view_shows_the_busy_function_zooms_and_leaves_no_trace() {
    let fx = Fixture::spawn_busy(busy_bin(), &[]);
    let burner = tid_named(fx.pid(), "burner");
    // In a directory of its own, where `w` writes the profile.
    let dir = std::env::temp_dir().join(format!("rstack-tui-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("cd '{}' && exec '{BIN}' {}", dir.display(), fx.pid());
    let tmux = Tmux::exec(80, 24, &["sh", "-c", &script]);
    let reaper = Reaper(tmux.pane_pid());
    tmux.wait_screen("the first snapshot with both threads", |s| {
        s.contains(" Threads (2) ") && s.contains(" rolling ·")
    });

    // The burner is the second thread by id: select it, open the profile, take its scope.
    tmux.send_keys(&["j"]);
    tmux.wait_screen("the burner selected", |s| {
        s.contains(&format!(" Stack of {burner} "))
    });
    tmux.send_keys(&["p"]);
    tmux.wait_for(" Top functions · whole process ");
    tmux.send_keys(&["t"]);
    let scope = format!(" Top functions · thread {burner} ");
    // Enough samples that the order is the burner's steady one (20 Hz: about 2 s).
    let screen = tmux.wait_screen("40 samples of the burner", |s| {
        s.contains(&scope) && samples(s) >= 40
    });
    let (header, first) = under_title(&screen, &scope).expect("the table");
    assert!(
        header.starts_with("FUNCTION") && header.contains("SELF"),
        "{screen}"
    );
    assert_eq!(first_word(first), "burn_inner", "not first:\n{screen}");

    // The flame graph at 80x24: the thread at the top, burn_inner drawn below it.
    tmux.send_keys(&["Tab"]);
    let title = " Flame graph · thread ";
    let screen = tmux.wait_for(title);
    let (top, _) = under_title(&screen, title).expect("the flame graph");
    assert!(top.starts_with(&format!("burner ({burner})")), "{screen}");
    let rows: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with(title))
        .collect();
    assert!(
        rows.iter().any(|l| first_word(l) == "burn_inner"),
        "no burn_inner row:\n{screen}"
    );

    // Find burn_outer, keep the search, zoom into it: it fills the top row.
    tmux.type_text("/burn_outer");
    tmux.wait_screen("burn_outer selected as typed", |s| {
        s.contains(" · burn_outer ") && s.contains(" /burn_outer")
    });
    tmux.send_keys(&["Enter"]);
    tmux.send_keys(&["Enter"]);
    let screen = tmux.wait_screen("the zoom into burn_outer", |s| {
        s.lines()
            .any(|l| l.starts_with(" Flame graph · ") && l.contains(" · zoomed · "))
    });
    let zoomed_title = screen
        .lines()
        .find(|l| l.starts_with(" Flame graph · "))
        .unwrap_or_default()
        .to_string();
    let (top, below) = under_title(&screen, &zoomed_title).expect("the zoomed graph");
    assert_eq!(first_word(top), "burn_outer", "{screen}");
    assert_eq!(first_word(below), "burn_inner", "{screen}");

    // Esc: the search goes; Esc: the zoom; Esc: the view.
    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("the search cleared", |s| !s.contains(" /burn_outer"));
    tmux.send_keys(&["Escape"]);
    let screen = tmux.wait_screen("back from the zoom", |s| {
        s.lines()
            .any(|l| l.starts_with(title) && !l.contains(" · zoomed"))
    });
    let (top, _) = under_title(&screen, title).expect("the flame graph");
    assert!(top.starts_with(&format!("burner ({burner})")), "{screen}");
    // w: the profile, folded, in the current directory; the burner's stack among its lines.
    assert_saved(&tmux, &dir, fx.pid(), burner);

    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("the panes again", |s| {
        s.contains(" Threads (2) ") && !s.contains(" Flame graph ")
    });

    // Quit: the inspector ends, the fixture runs on, untraced and not stopped.
    tmux.send_keys(&["q"]);
    tmux.wait_exited(reaper.0);
    fx.assert_running();
}

/// The worker while the view is open: samples at the profile's rate go out as `Sample` (no
/// `Started`), refreshes keep their own interval as `Snapshot`; closed, only refreshes.
#[test]
fn the_worker_samples_while_profiling_and_refreshes_at_its_own_pace() {
    use rstack_tui::TraceOptions;
    use rstack_tui::worker::{TracerCmd, Worker, WorkerEvent};
    use std::time::{Duration, Instant};
    let fx = Fixture::spawn_busy(busy_bin(), &[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut options = TraceOptions::new();
    options.line_cache(None);
    let interval = Duration::from_secs(1);
    let worker = Worker::spawn(interval, options, Default::default(), move |e| {
        let _ = tx.send(e);
    });
    let next = || {
        rx.recv_timeout(common::tmux::DEADLINE)
            .expect("a worker event")
    };
    worker.send(TracerCmd::Target(Some(fx.pid())));
    while !matches!(next(), WorkerEvent::Snapshot(_)) {}

    worker.send(TracerCmd::SetProfiling(Some(Duration::from_millis(50))));
    let start = Instant::now();
    let (mut samples, mut snapshots, mut started) = (0, 0, 0);
    while samples < 20 {
        match next() {
            WorkerEvent::Sample(p) => {
                assert_eq!(p.id(), fx.pid());
                samples += 1;
            }
            WorkerEvent::Snapshot(_) => snapshots += 1,
            WorkerEvent::Started => started += 1,
            WorkerEvent::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    // Refreshes only at their interval (one may be under way at either end).
    let most = elapsed.as_secs() + 2;
    assert!(
        snapshots <= most && started <= most,
        "{snapshots} refreshes, {started} started in {elapsed:?} of sampling"
    );

    // Closed: the next refresh, then another, and no sample between them.
    worker.send(TracerCmd::SetProfiling(None));
    while !matches!(next(), WorkerEvent::Snapshot(_)) {}
    loop {
        match next() {
            WorkerEvent::Sample(_) => panic!("a sample after profiling stopped"),
            WorkerEvent::Snapshot(_) => break,
            _ => {}
        }
    }
    worker.shutdown();
    fx.assert_running();
}
