//! Source-line lookups remembered on disk between runs (`TraceOptions::line_cache`): a new
//! tracer over the same files gives the same frames from the cache without touching DWARF; a
//! corrupt cache file is replaced, not believed; a directory others can write to or redirect
//! (a symlink planted by the user whose home root runs in) is not used, and `dump` says why.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{Fixture, threads_bin};
use rstack_tui::{Process, TraceOptions, Tracer};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rstack-linecache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A new tracer (empty in-memory caches) remembering lookups under `dir`.
fn trace_with(pid: u32, dir: Option<&Path>) -> Process {
    let mut options = TraceOptions::new();
    options.line_cache(dir.map(Path::to_path_buf));
    Tracer::new(options).trace(pid).expect("trace")
}

/// Every thread's frames, names, lines and inlined functions included.
fn stacks(p: &Process) -> Vec<String> {
    let mut out: Vec<String> = p
        .threads()
        .iter()
        .map(|t| format!("{:?} {:?}", t.name(), t.frames()))
        .collect();
    out.sort();
    out
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn second_run_reads_lines_from_the_cache() {
    let fx = Fixture::spawn(threads_bin(), &["inline"]);
    let dir = fresh_dir("second");
    let reference = trace_with(fx.pid(), None);
    let first = trace_with(fx.pid(), Some(&dir));
    let t = first.timings();
    assert_eq!(t.lines_remembered, 0, "{t:?}");
    assert!(t.lines_looked_up >= 5, "{t:?}");
    assert_eq!(stacks(&first), stacks(&reference));
    // One file per DWARF file in a stack: the fixture's own and glibc's debug file.
    let files = cache_files(&dir);
    assert!(files.len() >= 2, "{files:?}");
    let inlined = first
        .threads()
        .iter()
        .flat_map(|t| t.frames())
        .filter(|f| f.is_inlined())
        .count();
    assert!(inlined > 0, "the inline fixture has inlined frames");

    // Every thread is parked: a new tracer finds every address in the cache.
    let second = trace_with(fx.pid(), Some(&dir));
    let t = second.timings();
    assert_eq!(t.lines_looked_up, 0, "{t:?}");
    assert_eq!(t.lines_remembered, first.timings().lines_looked_up);
    assert_eq!(stacks(&second), stacks(&reference));
    fx.assert_running();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dwarf_dropped_while_the_cache_answers_is_read_again_for_a_new_address() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let dir = fresh_dir("reload");
    let mut options = TraceOptions::new();
    options.line_cache(Some(dir.clone()));
    let mut tracer = Tracer::new(options);
    let first = tracer.trace(fx.pid()).expect("trace");
    assert!(first.timings().lines_looked_up > 0, "{:?}", first.timings());
    // Nothing ran: nothing is looked up, and the DWARF no lookup needed is dropped.
    let second = tracer.trace(fx.pid()).expect("trace");
    assert_eq!(
        second.timings().lines_looked_up,
        0,
        "{:?}",
        second.timings()
    );
    assert_eq!(stacks(&second), stacks(&first));
    // The mover's new stage is at addresses never seen: its module's DWARF is read again,
    // and gives what a tracer without any cache gives.
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    let third = tracer.trace(fx.pid()).expect("trace");
    assert!(third.timings().lines_looked_up > 0, "{:?}", third.timings());
    // The mover's stack only: the main thread may still be returning from writing "moved".
    let mover_of = |p: &Process| {
        let t = p.threads().iter().find(|t| t.name() == Some("mover"));
        format!("{:?}", t.expect("the mover").frames())
    };
    assert_eq!(mover_of(&third), mover_of(&trace_with(fx.pid(), None)));
    let mover = third
        .threads()
        .iter()
        .find(|t| t.name() == Some("mover"))
        .unwrap();
    let stage_two = mover
        .frames()
        .iter()
        .find(|f| {
            f.symbol()
                .is_some_and(|s| s.name() == "threads_fixture::stage_two")
        })
        .expect("the mover in stage_two");
    assert!(
        stage_two
            .location()
            .is_some_and(|l| l.file.ends_with("threads.rs"))
    );
    fx.assert_running();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_cache_files_are_replaced() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let dir = fresh_dir("corrupt");
    let reference = trace_with(fx.pid(), Some(&dir));
    let files = cache_files(&dir);
    assert!(!files.is_empty());
    let garbage: [&[u8]; 3] = [
        b"{\"format\":2,\"entries\":[[1,2,[{\"name\":",
        b"\x00\xff\xfe not json",
        b"{\"format\":2,\"entries\":[[18446744073709551614,18446744073709551615,[{\"name\":\"\\u001b[31mevil\",\"raw_name\":null,\"location\":[\"\\u009b\",4294967295,null]}]]]}",
    ];
    for (i, f) in files.iter().enumerate() {
        std::fs::write(f, garbage[i % garbage.len()]).unwrap();
    }
    let after = trace_with(fx.pid(), Some(&dir));
    assert_eq!(stacks(&after), stacks(&reference));
    assert!(after.timings().lines_looked_up > 0);
    // Rewritten whole: the next tracer finds everything again.
    let again = trace_with(fx.pid(), Some(&dir));
    assert_eq!(again.timings().lines_looked_up, 0, "{:?}", again.timings());
    assert_eq!(stacks(&again), stacks(&reference));
    fx.assert_running();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_others_can_write_is_not_used() {
    let fx = Fixture::spawn(threads_bin(), &["park", "1"]);
    let open = fresh_dir("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    // Inside a world-writable (not sticky) directory, even our own 0700 one is refused: its
    // parent's other writers could swap it for a symlink.
    let inner = open.join("cache");
    let p = trace_with(fx.pid(), Some(&inner));
    assert!(p.timings().lines_looked_up > 0);
    assert!(!inner.exists(), "created under a world-writable directory");
    let p = trace_with(fx.pid(), Some(&open));
    assert_eq!(p.timings().lines_remembered, 0);
    assert!(cache_files(&open).is_empty(), "{:?}", cache_files(&open));
    fx.assert_running();
    std::fs::remove_dir_all(&open).unwrap();
}

/// `dump --timings PID` with only the environment variables `env` of the cache's (`HOME`,
/// `XDG_CACHE_HOME`) set: (its stacks, its stderr), after checking that it succeeded.
fn dump(pid: u32, env: &[(&str, &Path)], extra: &[&str]) -> (String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rstack-tui"));
    command
        .args(["dump", &pid.to_string(), "--timings"])
        .args(extra)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HOME");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Without the header line (it holds the trace's duration).
    let stacks: String = stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    (stacks, stderr)
}

/// `dump` remembers lookups under `$XDG_CACHE_HOME/rstack-tui` and says so in `--timings`;
/// `--no-line-cache` leaves the directory alone. Both print the same stacks.
#[test]
fn dump_uses_the_cache_unless_told_not_to() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let home = fresh_dir("cli");
    std::fs::create_dir(&home).unwrap();
    let dump = |extra: &[&str]| dump(fx.pid(), &[("XDG_CACHE_HOME", &home)], extra);
    let (off, err) = dump(&["--no-line-cache"]);
    assert!(!home.join("rstack-tui").exists(), "{err}");
    assert!(!err.contains("line cache not used"), "{err}");
    assert!(
        err.contains("lines of 0 addresses from the line cache"),
        "{err}"
    );
    let (first, err) = dump(&[]);
    assert!(
        err.contains("lines of 0 addresses from the line cache"),
        "{err}"
    );
    assert!(!err.contains("line cache not used"), "{err}");
    assert!(!cache_files(&home.join("rstack-tui")).is_empty());
    let (second, err) = dump(&[]);
    assert!(err.contains(", 0 from DWARF"), "{err}");
    assert_eq!(first, off);
    assert_eq!(second, off);
    assert!(off.contains("at "), "no source lines in:\n{off}");
    fx.assert_running();
    std::fs::remove_dir_all(&home).unwrap();
}

/// Every entry of `dir`: name and contents (of a regular file; `None` for anything else).
fn contents(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let is_file = e.file_type().unwrap().is_file();
            let name = e.file_name().into_string().unwrap();
            (name, is_file.then(|| std::fs::read(e.path()).unwrap()))
        })
        .collect()
}

/// A root-owned directory of 2100 regular files with names the cache does not use, the oldest
/// first (what the cache's prune used to delete, 301 of them, when it wrote here): a stand-in
/// for /var/lib/dpkg/info.
fn plant_victim(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for i in 0..2100u64 {
        let path = dir.join(format!("package-{i:04}.list"));
        std::fs::write(&path, format!("/usr/share/doc/package-{i}\n")).unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    contents(dir)
}

/// Checks one refused dump against one with `--no-line-cache`: the same stacks (with source
/// lines), the refusal said exactly once with `why`, and nothing said without the cache.
fn assert_refused_once(pid: u32, env: &[(&str, &Path)], why: &str) {
    let (stacks, err) = dump(pid, env, &[]);
    let (off, err_off) = dump(pid, env, &["--no-line-cache"]);
    assert_eq!(stacks, off);
    assert!(
        stacks.contains("worker-1") && stacks.contains("at "),
        "{stacks}"
    );
    assert_eq!(err.matches("line cache not used").count(), 1, "{err}");
    let said = format!("rstack-tui: line cache not used: {why}; --no-line-cache skips it\n");
    assert!(err.contains(&said), "{said:?} not in:\n{err}");
    assert!(!err_off.contains("line cache not used"), "{err_off}");
}

/// The audit's attack: the user whose HOME root runs with makes `~/.cache/rstack-tui` a
/// symlink to a root-owned directory. `dump` writes nothing there and prunes nothing there,
/// says once why it did without the cache, and prints its stacks.
#[test]
fn a_symlinked_cache_in_home_is_refused_and_its_target_left_alone() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let root = fresh_dir("home-symlink");
    std::fs::create_dir(&root).unwrap();
    let victim = root.join("victim");
    let planted = plant_victim(&victim);
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".cache")).unwrap();
    let link = home.join(".cache/rstack-tui");
    symlink(&victim, &link).unwrap();
    let why = format!("{} is a symbolic link", link.display());
    assert_refused_once(fx.pid(), &[("HOME", &home)], &why);
    assert_eq!(contents(&victim), planted);
    assert_eq!(std::fs::read_link(&link).unwrap(), victim);
    fx.assert_running();
    std::fs::remove_dir_all(&root).unwrap();
}

/// The same through `XDG_CACHE_HOME` set to a shared sticky directory (a /tmp of our own)
/// where another user planted `rstack-tui` as a symlink.
#[test]
fn a_symlink_planted_in_a_sticky_cache_home_is_refused() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let root = fresh_dir("sticky-symlink");
    std::fs::create_dir(&root).unwrap();
    let victim = root.join("victim");
    let planted = plant_victim(&victim);
    let tmp = root.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let link = tmp.join("rstack-tui");
    symlink(&victim, &link).unwrap();
    let why = format!("{} is a symbolic link", link.display());
    let nowhere = root.join("no-home");
    let env = [
        ("XDG_CACHE_HOME", tmp.as_path()),
        ("HOME", nowhere.as_path()),
    ];
    assert_refused_once(fx.pid(), &env, &why);
    assert_eq!(contents(&victim), planted);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "only the link");
    assert!(!nowhere.exists());
    fx.assert_running();
    std::fs::remove_dir_all(&root).unwrap();
}

/// A home, or a cache home, that belongs to another user is theirs to rearrange: refused,
/// and nothing is created in it.
#[test]
fn a_home_of_another_user_is_refused() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let root = fresh_dir("other-user");
    std::fs::create_dir(&root).unwrap();
    let home = root.join("home");
    std::fs::create_dir(&home).unwrap();
    chown(&home, Some(65534), Some(65534)).unwrap();
    let why = format!(
        "{} belongs to uid 65534, neither root nor us",
        home.display()
    );
    assert_refused_once(fx.pid(), &[("HOME", &home)], &why);
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
    let xdg = root.join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    chown(&xdg, Some(65534), Some(65534)).unwrap();
    let why = format!("{} belongs to uid 65534, not to us", xdg.display());
    assert_refused_once(fx.pid(), &[("XDG_CACHE_HOME", &xdg)], &why);
    assert_eq!(std::fs::read_dir(&xdg).unwrap().count(), 0);
    fx.assert_running();
    std::fs::remove_dir_all(&root).unwrap();
}

/// A full directory of our own: the oldest of the cache's own files go (201 of 2001 plus
/// the one coming, and a stale temporary file), every other file stays, however old.
#[test]
fn prune_removes_only_the_caches_own_files() {
    let fx = Fixture::spawn(threads_bin(), &["park", "1"]);
    let dir = fresh_dir("prune");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let age = |path: &Path, secs: u64| {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(at).unwrap();
    };
    let mut ours: Vec<String> = vec![".tmp-1-abc".into()];
    ours.extend((0..2000u64).map(|i| format!("lines-2-{i:016x}-fd00-{i:x}-10-1f-12.json")));
    for (i, name) in ours.iter().enumerate() {
        std::fs::write(dir.join(name), "{}").unwrap();
        age(&dir.join(name), 2_000_000 + i as u64);
    }
    // Older than all of ours: what an oldest-first prune of every file would take first.
    let foreign = [
        "notes.txt",
        "lines-2-zz.json",
        "lines-2-1-2.json.bak",
        "lines-",
        ".tmp-x-1",
        "status",
    ];
    for (i, name) in foreign.iter().enumerate() {
        std::fs::write(dir.join(name), format!("keep {i}")).unwrap();
        age(&dir.join(name), 1_000_000 + i as u64);
    }
    let outside = fresh_dir("prune-outside");
    std::fs::write(&outside, "outside").unwrap();
    symlink(&outside, dir.join("lines-2-0-0-0-0-0-0.json")).unwrap();
    std::fs::create_dir(dir.join("lines-2-1-1-1-1-1-1.json")).unwrap();
    let before = contents(&dir);

    let p = trace_with(fx.pid(), Some(&dir));
    assert!(p.timings().lines_looked_up > 0);
    let after = contents(&dir);
    let mut expected = before.clone();
    for name in &ours[..202] {
        expected.remove(name);
    }
    let new: Vec<&String> = after.keys().filter(|n| !before.contains_key(*n)).collect();
    assert!(new.len() >= 2, "{new:?}");
    assert!(new.iter().all(|n| n.starts_with("lines-2-")), "{new:?}");
    let kept: BTreeMap<_, _> = after
        .into_iter()
        .filter(|(n, _)| before.contains_key(n))
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(std::fs::read(&outside).unwrap(), b"outside");
    fx.assert_running();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&outside).unwrap();
}

/// The inspector's tracer worker reports a refused directory once, however many traces.
#[test]
fn the_worker_reports_a_refused_cache_once() {
    use rstack_tui::tracer::{CacheRefusal, CacheRefused};
    use rstack_tui::worker::{TracerCmd, Worker, WorkerEvent};
    let fx = Fixture::spawn(threads_bin(), &["park", "1"]);
    let root = fresh_dir("worker");
    std::fs::create_dir(&root).unwrap();
    let link = root.join("rstack-tui");
    symlink("/", &link).unwrap();
    let mut options = TraceOptions::new();
    options.line_cache(Some(link.clone()));
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = Worker::spawn(
        Duration::from_secs(60),
        options,
        Default::default(),
        move |e| {
            let _ = tx.send(e);
        },
    );
    worker.send(TracerCmd::Target(Some(fx.pid())));
    let mut refused = Vec::new();
    let mut snapshots = 0;
    while snapshots < 3 {
        match rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a worker event")
        {
            WorkerEvent::Snapshot(_) => {
                snapshots += 1;
                worker.send(TracerCmd::SnapshotNow);
            }
            WorkerEvent::LineCacheRefused(r) => refused.push(r),
            WorkerEvent::Failed { message, .. } => panic!("{message}"),
            WorkerEvent::Degraded(_) => panic!("a degraded snapshot of our own fixture"),
            WorkerEvent::Sample(_) => panic!("a sample, and no profile was asked for"),
            WorkerEvent::Started | WorkerEvent::Identified { .. } => {}
        }
    }
    worker.shutdown();
    let expected = CacheRefused {
        path: link.clone(),
        at: link,
        reason: CacheRefusal::Symlink,
    };
    assert_eq!(refused, [expected]);
    fx.assert_running();
    std::fs::remove_dir_all(&root).unwrap();
}
