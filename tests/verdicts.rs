//! Verdicts over time end to end: `dump --group --watch` on a fixture whose threads spin, hold
//! a lock another waits for, idle in a condition variable, deadlock, and a pool that grows on
//! a command sent once the watch's first snapshot is taken; and the inspector showing them
//! (threads pane, group view, header) on saved snapshots, as `load` opens them.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Fixture, fixtures_dir, gcc, tid_named};

fn fixture_bin() -> std::path::PathBuf {
    let src = fixtures_dir().join("verdicts.c");
    let args: Vec<&std::ffi::OsStr> = ["-O1", "-g", "-pthread"]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([src.as_os_str()])
        .collect();
    gcc("verdictsfixture", &args)
}

/// The block of the one-thread group of `tid`: its verdict line.
fn verdict_of(out: &str, name: &str, tid: u32) -> String {
    let head = format!("\n1 thread: \"{name}\" ({tid})\n");
    let at = out
        .find(&head)
        .unwrap_or_else(|| panic!("no group of {name} ({tid}) in:\n{out}"));
    out[at + head.len()..]
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_watch_gives_each_thread_its_verdict_and_ranks_the_suspects() {
    let mut fixture = Fixture::spawn_busy(&fixture_bin(), &[]);
    let pid = fixture.pid();
    let tid = |name: &str| tid_named(pid, name);
    let out = watch_while_the_pool_grows(&mut fixture);
    fixture.assert_running();

    let (spinner, holder, waiter, idler) =
        (tid("spinner"), tid("holder"), tid("waiter"), tid("idler"));
    let (a, b) = (tid("lock-a"), tid("lock-b"));
    // Header, then the suspects in rank order: the deadlock, the stuck holder, the spinner;
    // the waiter is explained by its holder, nobody else is stuck for 10 s.
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Process {pid} "))
            && lines[0].contains(": 47 threads in 8 groups; watched "),
        "{out}"
    );
    assert_eq!(lines[2], "Suspects:", "{out}");
    let cycle = if a < b {
        format!("{a} \"lock-a\" → {b} \"lock-b\" → {a}")
    } else {
        format!("{b} \"lock-b\" → {a} \"lock-a\" → {b}")
    };
    assert_eq!(lines[3], format!("  deadlock: {cycle}"), "{out}");
    assert!(
        lines[4].starts_with(&format!("  {holder} \"holder\" stuck "))
            && lines[4].ends_with("s at holder_main, holding a lock 1 thread waits for"),
        "{out}"
    );
    assert!(
        lines[5].starts_with(&format!("  {spinner} \"spinner\" spinning at spin_here, "))
            && lines[5].ends_with("% of a core"),
        "{out}"
    );
    assert_eq!(lines[6], "", "{out}");

    // Each thread's verdict.
    let stuck = |line: String| {
        assert!(
            line.starts_with("  verdict: stuck ") && line.ends_with("s: same stack, no CPU"),
            "{line}\n{out}"
        )
    };
    stuck(verdict_of(&out, "holder", holder));
    stuck(verdict_of(&out, "waiter", waiter));
    stuck(verdict_of(&out, "lock-a", a));
    stuck(verdict_of(&out, "lock-b", b));
    assert!(
        verdict_of(&out, "spinner", spinner).starts_with("  verdict: spinning, "),
        "{out}"
    );
    assert_eq!(
        verdict_of(&out, "idler", idler),
        "  verdict: idle in a condition variable"
    );
    assert_eq!(
        verdict_of(&out, "verdictsfixture", pid),
        "  verdict: idle in poll"
    );
    // The pool: one group, grown over the watch, every worker idle.
    let pool = lines
        .iter()
        .position(|l| l.starts_with("40 threads: \"pool\" ("))
        .unwrap_or_else(|| panic!("no pool group:\n{out}"));
    assert!(
        lines[pool].ends_with(" and 32 more; grew from 3 to 40 threads"),
        "{out}"
    );
    assert_eq!(lines[pool + 1], "  verdict: idle (all 40)", "{out}");
    assert!(
        lines[pool + 2..]
            .iter()
            .take_while(|l| !l.is_empty())
            .any(|l| l.ends_with(" pool_worker")),
        "{out}"
    );
}

/// The output of `dump --group --watch 4` on the fixture, its pool grown from 3 to 40 once
/// the watch's first snapshot is taken (the watch says so on stderr).
fn watch_while_the_pool_grows(fixture: &mut Fixture) -> String {
    let pid = fixture.pid();
    let cache = tempfile_dir();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(["dump", "--group", "--watch", "4", &pid.to_string()])
        .env("XDG_CACHE_HOME", &cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dump --watch");
    let stderr = watch.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the watch says when it starts");
    assert_eq!(
        first,
        format!("rstack-tui: watching process {pid} for 4 s, a snapshot every 0.5 s")
    );
    fixture.send_line("grow 37");
    assert_eq!(fixture.next_line(), "grown 40");
    let mut out = String::new();
    watch
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = watch.wait().unwrap();
    let errors: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "{status}: {errors:?}\n{out}");
    assert!(errors.is_empty(), "{errors:?}");
    out
}

/// A fresh directory for the line cache, so ~/.cache is left alone.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("verdicts-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

mod inspector {
    use std::sync::Arc;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rstack_tui::Process;
    use rstack_tui::app::{Action, App};
    use rstack_tui::tracer::schema::SnapshotDoc;
    use rstack_tui::ui::{self, keymap::Command};

    const T0: u64 = 1_795_953_600_000;

    /// A thread of [`snapshot`]: tid, name, CPU ms so far, blocking call, lock owner, frames.
    type T<'a> = (u32, &'a str, u64, Option<i64>, Option<u32>, &'a [&'a str]);

    /// A snapshot of process 4242 `secs` seconds in, as saved JSON reads (libc's frames in
    /// libc). A thread with no blocking call runs (R).
    fn snapshot(secs: u64, threads: &[T]) -> Arc<Process> {
        let threads: Vec<serde_json::Value> = threads
            .iter()
            .map(|&(tid, name, cpu_ms, call, owner, frames)| {
                let frames: Vec<serde_json::Value> = frames
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let ip = 0x5555_0000_1000u64 + i as u64 * 0x40 + u64::from(tid) * 0x10_000;
                        let libc = f.starts_with("__") || f.starts_with("pthread_") || *f == "pause";
                        serde_json::json!({"ip": ip, "symbol": f, "raw_symbol": f, "offset": 16,
                            "module": if libc { "/usr/lib/x86_64-linux-gnu/libc.so.6" } else { "/srv/server" },
                            "module_offset": 0x1000 + i as u64, "is_signal": false})
                    })
                    .collect();
                serde_json::json!({"tid": tid, "name": name,
                    "state": if call.is_some() { "S" } else { "R" }, "wchan": null,
                    "syscall": call.map(|n| serde_json::json!({"number": n, "args": [0,0,0,0,0,0]})),
                    "lock": owner.map(|o| serde_json::json!({"address": 4096, "owner": o, "note": null})),
                    "user_time_ms": cpu_ms, "system_time_ms": 0, "stopped_us": 40,
                    "truncated": false, "error": null, "end_note": null, "frames": frames})
            })
            .collect();
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 2, "pid": 4242, "command": "/srv/server --workers 4", "taken_at": "",
            "taken_at_unix_ms": T0 + secs * 1000, "mode": "rolling", "elapsed_us": 3100,
            "longest_stop_us": 85, "threads": threads
        }))
        .unwrap();
        Arc::new(doc.to_process())
    }

    const MAIN: &[&str] = &["epoll_wait", "server::main_loop", "main"];
    const SPIN: &[&str] = &["server::spin_here", "server::spinner", "start_thread"];
    const HOLD: &[&str] = &["pause", "server::hold", "start_thread"];
    const WAIT: &[&str] = &[
        "__lll_lock_wait",
        "pthread_mutex_lock",
        "server::wait",
        "start_thread",
    ];
    const POOL: &[&str] = &[
        "__futex_wait",
        "pthread_cond_wait",
        "server::pool_worker",
        "start_thread",
    ];

    /// Five snapshots a second apart: main idle in epoll_wait, a spinner, a holder stuck in
    /// pause() with a waiter, and a pool growing from 2 to 4 workers at the fourth.
    fn watched() -> Vec<Arc<Process>> {
        (0..5u64)
            .map(|i| {
                let mut threads: Vec<T> = vec![
                    (4242, "server", 20, Some(232), None, MAIN),
                    (4243, "spinner", 990 * i, None, None, SPIN),
                    (4244, "holder", 0, Some(34), None, HOLD),
                    (4245, "waiter", 0, Some(202), Some(4244), WAIT),
                ];
                for k in 0..if i < 3 { 2 } else { 4 } {
                    threads.push((4250 + k, "pool", 0, Some(202), None, POOL));
                }
                snapshot(i, &threads)
            })
            .collect()
    }

    fn render(app: &App) -> Vec<String> {
        render_at(app, 80)
    }

    fn render_at(app: &App, width: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, 24)).unwrap();
        terminal.draw(|f| ui::render(app, f)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..24)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn verdicts_suspects_and_growth_on_saved_snapshots() {
        let mut app = App::new();
        app.update(Action::OpenOffline(watched()));
        let screen = render(&app);
        let all = screen.join("\n");
        // The header names the suspects first: the stuck holder, then the spinner (where
        // there is room: at 80 columns the thread count outranks the second).
        assert_eq!(
            screen[0],
            " pid 4242  snapshot 5/5, 12:00:04  STUCK 4244 \"holder\" 4s, 1 waiting 8 threads",
            "{all}"
        );
        assert_eq!(
            render_at(&app, 140)[0].trim_end(),
            " pid 4242  snapshot 5/5, 12:00:04  STUCK 4244 \"holder\" 4s, 1 waiting  \
             SPINNING 4243 \"spinner\" 8 threads  /srv/server --workers 4"
        );
        // The VERDICT column comes once there are verdicts, after the SAME column.
        assert_eq!(
            screen[2], "TID     NAME    S CPU% WAITING ON   SAME      VERDICT   TOP FRAME",
            "{all}"
        );
        let row = |tid: &str| {
            screen
                .iter()
                .find(|l| l.starts_with(tid))
                .unwrap_or_else(|| panic!("no row {tid}:\n{all}"))
                .clone()
        };
        assert!(row("4242 ").contains(" idle "), "{all}");
        assert!(row("4243 ").contains(" spinning "), "{all}");
        assert!(row("4244 ").contains(" stuck 4s "), "{all}");
        assert!(row("4245 ").contains(" stuck 4s "), "{all}");
        // The newest workers are too new for a verdict: their SAME run only.
        assert!(
            row("4252 ").contains(" 1s/2 ") && !row("4252 ").contains("idle"),
            "{all}"
        );
        assert!(row("4250 ").contains(" idle "), "{all}");

        // The selected thread's stack says its verdict with the evidence.
        app.update(Action::Command(Command::Down));
        let screen = render(&app);
        let title = screen.iter().find(|l| l.starts_with(" Stack of ")).unwrap();
        assert!(
            title.starts_with(" Stack of 4243 \"spinner\" (spinning, 99% of a core) ──"),
            "{title}"
        );

        // The group view shows the pool's growth over the history (CHANGE is against the
        // snapshot before, which had 4 already).
        app.update(Action::Command(Command::GroupView));
        let screen = render(&app);
        let all = screen.join("\n");
        assert_eq!(
            screen[2], "COUNT CHANGE GROWTH THREADS                        TOP FRAME",
            "{all}"
        );
        assert!(
            screen[3].starts_with("4            2→4    pool, pool, pool, pool"),
            "{all}"
        );

        // Back at the second snapshot: too early for verdicts, suspects or growth.
        for _ in 0..3 {
            app.update(Action::Command(Command::OlderSnapshot));
        }
        let screen = render(&app);
        let all = screen.join("\n");
        assert!(!all.contains("GROWTH") && !all.contains("STUCK"), "{all}");
        app.update(Action::Command(Command::GroupView));
        let screen = render(&app);
        let all = screen.join("\n");
        assert!(
            screen[2].contains(" SAME ") && !screen[2].contains("VERDICT"),
            "{all}"
        );
        assert!(!all.contains("spinning"), "{all}");
    }
}

#[test]
fn a_watch_needs_group_and_a_sane_length() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
            .args(args)
            .output()
            .expect("run rstack-tui");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let me = std::process::id().to_string();
    let (code, err) = run(&["dump", "--watch", "2", &me]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--group"), "{err}");
    let (code, err) = run(&["dump", "--group", "--watch", "0.1", &me]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(2),
            "rstack-tui: error: --watch must be between 0.5 and 86400 seconds\n"
        )
    );
}
