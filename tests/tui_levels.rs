//! Levels, offline mode and errors, end to end: the real binary in tmux (or run plainly for
//! what happens before any screen). Esc goes back one level and a process's history survives
//! leaving it; `load` has its own footer and steps through its snapshots; `diff` with its
//! files the wrong way round warns and swaps; a pid that names nothing is one line and an
//! exit code; help reaches its end; another user's process shows the hint and its threads.

mod common;

use common::panes::{frames_pane, thread_row};
use common::tmux::Tmux;
use common::{Fixture, run_cli, threads_bin};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// The sizes each screen test runs at: at 80x24 the inspector stacks its panes, at 200x50 it
/// puts them side by side.
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// Shell-quotes one word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The SAME cell ("12s/3") of the thread named `name` in the threads pane.
fn same_of(screen: &str, name: &str) -> Option<String> {
    let (_, line) = thread_row(screen, name)?;
    line.split_whitespace()
        .find(|w| {
            w.split_once('/')
                .is_some_and(|(t, n)| t.ends_with('s') && n.parse::<u32>().is_ok())
        })
        .map(str::to_string)
}

/// How many snapshots the SAME cell of `name` counts.
fn same_count(screen: &str, name: &str) -> Option<u32> {
    same_of(screen, name)?.split_once('/')?.1.parse().ok()
}

/// A directory of this test's own under the target dir.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("levels-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dump --json` of `pid` into `path`.
fn dump_json(pid: u32, path: &std::path::Path) {
    let (code, out, err) = run_cli(&["dump", "--json", &pid.to_string()]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(path, out).unwrap();
}

/// The frames pane's title line.
fn stack_title(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(" Stack of "))
        .unwrap_or_default()
        .to_string()
}

/// The mover fixture's stage function in the frames pane (`stage_one`, `stage_two`).
fn stage(screen: &str) -> Option<String> {
    frames_pane(screen)
        .iter()
        .flat_map(|(_, _, l)| l.split_whitespace())
        .filter_map(|w| w.strip_prefix("threads_fixture::"))
        .map(|w| w.split('+').next().unwrap_or(w))
        .find(|w| w.starts_with("stage_"))
        .map(str::to_string)
}

/// The footer (last line) of a screen.
fn footer(screen: &str) -> &str {
    screen
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

#[test]
fn esc_goes_back_one_level_and_the_history_survives_leaving() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    for (w, h) in SIZES {
        esc_round(&fx, w, h);
    }
}

fn esc_round(fx: &Fixture, w: u16, h: u16) {
    let pid = fx.pid().to_string();
    // No automatic refresh within the test: every snapshot is the first one or an `r`.
    let tmux = Tmux::shell(w, h, &format!("{} {pid} --interval 60", quote(BIN)));
    tmux.wait_screen("the first snapshot", |s| {
        s.contains("worker-0") && s.contains("taken ")
    });
    for n in 2..=3 {
        tmux.send_keys(&["r"]);
        tmux.wait_screen(&format!("{n} snapshots"), |s| {
            same_count(s, "worker-0") == Some(n)
        });
    }
    // Help, then the diff view, then the process, then the list: one level per Esc.
    tmux.send_keys(&["d"]);
    tmux.wait_for(" Diff ");
    tmux.send_keys(&["?"]);
    tmux.wait_for(" Help ");
    tmux.send_keys(&["Escape"]);
    let screen = tmux.wait_screen("help closed", |s| !s.contains(" Help "));
    assert!(screen.contains(" Diff "), "{screen}");
    tmux.send_keys(&["Escape"]);
    // A large screen reaches tmux a line at a time: each wait below is for the whole of what
    // it checks (it fails, with the screen, when that never shows).
    tmux.wait_screen("the threads, three snapshots", |s| {
        s.contains(" Threads (3) ") && !s.contains(" Diff ") && same_count(s, "worker-0") == Some(3)
    });
    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("the list with the fixture selected", |s| {
        s.contains("Enter inspect") && s.lines().any(|l| l.split_whitespace().next() == Some(&pid))
    });
    // Back in: the history is there, and the entry took one more snapshot.
    tmux.send_keys(&["Enter"]);
    tmux.wait_screen("the history back", |s| {
        s.starts_with(&format!(" pid {pid} "))
            && same_count(s, "worker-0") == Some(4)
            && same_count(s, "worker-1") == Some(4)
    });
    // Four snapshots: the one before the newest is 3/4, marked as not the newest.
    tmux.send_keys(&["<"]);
    let screen = tmux.wait_screen("snapshot 3/4", |s| {
        s.contains(" snapshot 3/4, ") && same_count(s, "worker-0") == Some(3)
    });
    let header = screen.lines().next().unwrap();
    let at = header.find(" snapshot 3/4, ").unwrap() + " snapshot 3/4, ".len();
    assert_eq!(
        header.get(at + 8..at + 37),
        Some(", not the newest (> to live) "),
        "{header}"
    );
    tmux.send_keys(&[">"]);
    tmux.wait_screen("live again", |s| {
        !s.contains(" snapshot 3/4") && same_count(s, "worker-0") == Some(4)
    });
    tmux.send_keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
    fx.assert_running();
}

#[test]
fn load_mode_has_its_own_footer_and_steps_through_snapshots() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let dir = scratch("load");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    dump_json(fx.pid(), &a);
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    dump_json(fx.pid(), &b);
    for (w, h) in SIZES {
        load_round(&a, &b, w, h);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The clock time (HH:MM:SS) a snapshot file was taken at.
fn clock(f: &std::path::Path) -> String {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    doc["taken_at"].as_str().unwrap()[11..19].to_string()
}

fn load_round(a: &std::path::Path, b: &std::path::Path, w: u16, h: u16) {
    let tmux = Tmux::shell(
        w,
        h,
        &format!(
            "{} load {} {}",
            quote(BIN),
            quote(a.to_str().unwrap()),
            quote(b.to_str().unwrap())
        ),
    );
    // A large screen reaches tmux a line at a time: wait for the whole of what is checked.
    let newest = format!(" snapshot 2/2, {} ", clock(b));
    let load_footer = " q quit  ? help  d diff  c group  < earlier  > later  Tab pane  Esc quit";
    let mut screen = tmux.wait_screen("the newest snapshot and the load footer", |s| {
        s.contains(&newest) && footer(s) == load_footer
    });
    // Select the mover: its stack is in the frames pane.
    for _ in 0..6 {
        if stack_title(&screen).contains("\"mover\"") {
            break;
        }
        let title = stack_title(&screen);
        tmux.send_keys(&["j"]);
        screen = tmux.wait_screen("the next thread's stack", |s| stack_title(s) != title);
    }
    assert!(stack_title(&screen).contains("\"mover\""), "{screen}");
    tmux.wait_screen("the mover in stage_two", |s| {
        stage(s).as_deref() == Some("stage_two")
    });
    tmux.send_keys(&["<"]);
    let older = format!(" snapshot 1/2, {} ", clock(a));
    tmux.wait_screen("the older snapshot, the mover in stage_one", |s| {
        s.contains(&older) && stage(s).as_deref() == Some("stage_one")
    });
    // The oldest has nothing older to diff against; the newer one diffs against it.
    tmux.send_keys(&["d"]);
    tmux.wait_for(" Diff: this is the oldest snapshot kept; > views a newer one ");
    tmux.send_keys(&[">"]);
    let diff = format!(" Diff {} → {} ", clock(a), clock(b));
    let screen = tmux.wait_screen("the diff, no thread new or exited, the mover's row", |s| {
        s.contains(&diff) && s.contains(" 0 new, 0 exited, ") && thread_row(s, "mover").is_some()
    });
    let mover = thread_row(&screen, "mover");
    assert_eq!(
        mover
            .as_ref()
            .and_then(|(_, l)| l.split_whitespace().nth(2)),
        Some("changed"),
        "{screen}"
    );
    // Esc: the view, then quit (never the live process list).
    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("the threads again, the load footer", |s| {
        !s.contains(" Diff ") && footer(s) == load_footer
    });
    tmux.send_keys(&["Escape"]);
    let screen = tmux.wait_for("EXITED rc=0");
    assert!(!screen.contains("Processes ("), "{screen}");

    // One file of one snapshot: the diff says what it needs.
    let one = Tmux::shell(
        w,
        h,
        &format!("{} load {}", quote(BIN), quote(a.to_str().unwrap())),
    );
    one.wait_for(" snapshot 1/1, ");
    one.send_keys(&["d"]);
    one.wait_for(" Diff: needs two snapshots (load two files or a file with several) ");
    one.send_keys(&["q"]);
    one.wait_for("EXITED rc=0");
}

#[test]
fn diff_with_the_newer_file_first_warns_and_swaps() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let dir = scratch("diff");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    dump_json(fx.pid(), &a);
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    dump_json(fx.pid(), &b);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let clock = |f: &str| -> String {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        doc["taken_at"].as_str().unwrap()[11..19].to_string()
    };
    let forward = run_cli(&["diff", a, b]);
    assert_eq!((forward.0, forward.2.as_str()), (0, ""));
    let backward = run_cli(&["diff", b, a]);
    assert_eq!(
        backward.2,
        format!(
            "rstack-tui: warning: {b} (taken {} UTC) is newer than {a} (taken {} UTC): diffing {a} -> {b}\n",
            clock(b),
            clock(a)
        )
    );
    assert_eq!(backward.0, 0);
    assert_eq!(backward.1, forward.1, "the same diff, forward in time");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pid_that_names_nothing_is_one_line_and_exit_code_4() {
    // Pids are below pid_max: pid_max itself never names a process.
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = max.to_string();
    for args in [vec![pid.as_str()], vec!["dump", pid.as_str()]] {
        let (code, out, err) = run_cli(&args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (
                4,
                "",
                format!("rstack-tui: error: no process {pid}\n").as_str()
            ),
            "{args:?}"
        );
    }
    // In a terminal too: the line, no screen.
    let tmux = Tmux::shell(80, 24, &format!("{} {pid}", quote(BIN)));
    let screen = tmux.wait_for("EXITED rc=4");
    assert!(
        screen.starts_with(&format!(
            "rstack-tui: error: no process {pid}\nEXITED rc=4\n"
        )),
        "{screen}"
    );
}

#[test]
fn help_goes_to_its_end_and_no_further() {
    let fx = Fixture::spawn(threads_bin(), &["park", "1"]);
    // At 200x50 all of the help may fit (on main it does, with the frame detail's keys it
    // does not); 200x30, as wide, always scrolls.
    for (w, h) in SIZES.into_iter().chain([(200, 30)]) {
        help_round(&fx, w, h);
    }
}

/// Checks that no wrapped line of a key's description starts at the box's edge: the line
/// under a key's line is another key, or the description going on under its text (column
/// 10 inside the box). Returns how many such continuation lines the screen shows.
fn assert_help_wraps_under_the_text(screen: &str) -> usize {
    let inside: Vec<&str> = screen
        .lines()
        .filter_map(|l| Some(l.split_once('│')?.1))
        .map(|l| l.rsplit_once('│').map_or(l, |(inner, _)| inner))
        .collect();
    let is_key = |l: &str| l.starts_with("  ") && !l.starts_with("   ");
    let is_more = |l: &str| l.starts_with(&" ".repeat(10)) && !l.trim().is_empty();
    let mut more = 0;
    for pair in inside.windows(2) {
        if (is_key(pair[0]) || is_more(pair[0])) && !pair[1].trim().is_empty() {
            assert!(
                is_key(pair[1]) || is_more(pair[1]),
                "a wrapped line not under its text: {:?}\n{screen}",
                pair[1]
            );
            more += usize::from(is_more(pair[1]));
        }
    }
    more
}

fn help_round(fx: &Fixture, w: u16, h: u16) {
    let tmux = Tmux::shell(w, h, &format!("{} {} --interval 60", quote(BIN), fx.pid()));
    tmux.wait_for("worker-0");
    tmux.send_keys(&["?"]);
    // The box is drawn whole: its first line and its bottom border.
    let top = tmux.wait_screen("the help", |s| {
        s.contains(" Help ") && s.contains("│Everywhere") && s.contains('└')
    });
    let last = "quits.";
    // The last line is at the bottom of the box: the line under it is the border.
    let at_end = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines
            .iter()
            .position(|l| l.contains(last))
            .is_some_and(|at| lines.get(at + 1).is_some_and(|l| l.contains('└')))
    };
    // When all of it fits there is nothing to scroll to.
    let fits = top.contains(last);
    assert!(!fits || at_end(&top), "{top}");
    for end in ["G", "End"].into_iter().filter(|_| !fits) {
        tmux.send_keys(&[end]);
        let screen = tmux.wait_screen("the end of the help", at_end);
        // Further down does not scroll into blank space.
        tmux.send_keys(&["j", "j", "PgDn", "k"]);
        tmux.wait_screen("one line up from the end", |s| !s.contains(last));
        tmux.send_keys(&[end]);
        tmux.wait_screen("the same end again", |s| s == screen);
        for top_key in ["g", "Home"] {
            tmux.send_keys(&[top_key]);
            tmux.wait_screen("the top of the help", |s| {
                s.contains("│Everywhere") && !s.contains(last)
            });
            tmux.send_keys(&[end]);
            tmux.wait_screen("the end of the help", at_end);
        }
    }
    // Wrapped lines start under their text, not at the box's edge; at 80 columns the first
    // page has some. (The screen is redrawn top down: the end is drawn whole once its last
    // line shows, the top once that line is gone.)
    assert_help_wraps_under_the_text(&tmux.wait_screen("the end of the help", at_end));
    tmux.send_keys(&["g"]);
    let screen = tmux.wait_screen("the top of the help", |s| {
        s.contains("│Everywhere") && (fits || !s.contains(last))
    });
    let wrapped = assert_help_wraps_under_the_text(&screen);
    if w == 80 {
        assert!(wrapped > 0, "nothing wrapped at 80 columns:\n{screen}");
    }
    tmux.send_keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
}

#[test]
fn another_users_process_shows_the_hint_and_its_threads_from_proc() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: running a fixture as another user needs root");
        return;
    }
    // The fixture runs as nobody; the inspector as a third uid, not root, with no capability.
    let fixture = threads_bin().to_str().unwrap();
    let fx = Fixture::spawn(
        std::path::Path::new("setpriv"),
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            fixture,
            "park",
            "2",
        ],
    );
    for (w, h) in SIZES {
        hint_round(&fx, w, h);
    }
}

fn hint_round(fx: &Fixture, w: u16, h: u16) {
    let pid = fx.pid();
    let tmux = Tmux::shell(
        w,
        h,
        &format!(
            "setpriv --reuid=4321 --regid=4321 --clear-groups --inh-caps=-all {} {pid} --no-line-cache",
            quote(BIN)
        ),
    );
    // A large screen reaches tmux a line at a time: wait for the rows and the status line.
    let screen = tmux.wait_screen("the threads from /proc and the hint", |s| {
        s.contains(" NOT TRACED: /proc only ")
            && thread_row(s, "worker-1").is_some()
            && s.contains(" ! no permission to trace: ")
    });
    assert!(
        screen.starts_with(&format!(" pid {pid}  NOT TRACED: /proc only 3 threads  ")),
        "{screen}"
    );
    assert!(screen.contains(" Threads (3) "), "{screen}");
    // Names and states, as /proc gives them to anyone.
    for name in ["rsfixture", "worker-0", "worker-1"] {
        let (_, row) =
            thread_row(&screen, name).unwrap_or_else(|| panic!("no row for {name}:\n{screen}"));
        assert_eq!(row.split_whitespace().nth(2), Some("S"), "{screen}");
    }
    // The hint on the status line, whole where it fits; at 80 columns its head, with what to
    // do (a cut may be marked with …).
    let hint = " ! no permission to trace: run as root (sudo -E) or grant CAP_SYS_PTRACE; threads from /proc only";
    let lines: Vec<&str> = screen.lines().collect();
    let status = lines[lines.len() - 2].trim_end();
    if usize::from(w) > hint.chars().count() {
        assert!(
            status.starts_with(&format!("{hint} ")) || status == hint,
            "{screen}"
        );
    } else {
        let shown = status.trim_end_matches('…').trim_end();
        assert!(
            hint.starts_with(shown) && shown.contains("or grant CAP_SYS_PTRACE"),
            "{screen}"
        );
    }
    assert!(
        screen.contains("stack not read: no permission to trace"),
        "{screen}"
    );
    tmux.send_keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
    fx.assert_running();
}

#[test]
fn a_save_in_an_unwritable_directory_asks_where_prefilled() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: running as a user who cannot write a directory needs root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // A directory of root's (0755) to start in, and a $TMPDIR of the user's own.
    let (ro, tmp) = (scratch("ro"), scratch("tmpdir"));
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(&tmp, Some(4321.into()), Some(4321.into())).unwrap();
    let fixture = threads_bin().to_str().unwrap();
    let fx = Fixture::spawn(
        std::path::Path::new("setpriv"),
        &[
            "--reuid=4321",
            "--regid=4321",
            "--clear-groups",
            fixture,
            "park",
            "1",
        ],
    );
    let pid = fx.pid();
    let tmux = Tmux::shell(
        220,
        30,
        &format!(
            "cd {} && TMPDIR={} setpriv --reuid=4321 --regid=4321 --clear-groups --inh-caps=-all {} {pid} --no-line-cache --interval 60",
            quote(ro.to_str().unwrap()),
            quote(tmp.to_str().unwrap()),
            quote(BIN)
        ),
    );
    tmux.wait_for("threads_fixture::main_park");
    tmux.send_keys(&["w"]);
    let screen = tmux.wait_for(" save to: ");
    let prefix = format!(
        " ! cannot write in {} (Permission denied (os error 13))  save to: {}/rstack-{pid}-rsfixture-",
        ro.display(),
        tmp.display()
    );
    let status = screen.lines().find(|l| l.contains(" save to: ")).unwrap();
    assert!(status.starts_with(&prefix), "{status}\n{prefix}");
    assert!(status.ends_with(".json█"), "{status}");
    assert!(screen.contains(" Enter save  Esc cancel"), "{screen}");
    tmux.send_keys(&["Enter"]);
    let screen = tmux.wait_for(" saved ");
    let saved: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(
        screen.contains(&format!(" saved {} ", saved[0].display())),
        "{screen}"
    );
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    tmux.send_keys(&["q"]);
    tmux.wait_for("EXITED rc=0");
    fx.assert_running();
    std::fs::remove_dir_all(&ro).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
}
