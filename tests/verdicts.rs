//! Verdicts over time end to end: `dump --group --watch` on a fixture whose threads spin, hold
//! a lock another waits for, idle in a condition variable, deadlock, and a pool that grows on
//! a command sent once the watch's first snapshot is taken.

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
