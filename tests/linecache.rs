//! Source-line lookups remembered on disk between runs (`TraceOptions::line_cache`): a new
//! tracer over the same files gives the same frames from the cache without touching DWARF; a
//! corrupt cache file is replaced, not believed; a directory others can write to is not used.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

/// `dump` remembers lookups under `$XDG_CACHE_HOME/rstack-tui` and says so in `--timings`;
/// `--no-line-cache` leaves the directory alone. Both print the same stacks.
#[test]
fn dump_uses_the_cache_unless_told_not_to() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let home = fresh_dir("cli");
    std::fs::create_dir(&home).unwrap();
    let dump = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
            .args(["dump", &fx.pid().to_string(), "--timings"])
            .args(extra)
            .env("XDG_CACHE_HOME", &home)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8(out.stdout).unwrap();
        // Without the header line (it holds the trace's duration).
        let stacks: String = stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
        (stacks, String::from_utf8(out.stderr).unwrap())
    };
    let (off, err) = dump(&["--no-line-cache"]);
    assert!(!home.join("rstack-tui").exists(), "{err}");
    assert!(
        err.contains("lines of 0 addresses from the line cache"),
        "{err}"
    );
    let (first, err) = dump(&[]);
    assert!(
        err.contains("lines of 0 addresses from the line cache"),
        "{err}"
    );
    assert!(!cache_files(&home.join("rstack-tui")).is_empty());
    let (second, err) = dump(&[]);
    assert!(err.contains(", 0 from DWARF"), "{err}");
    assert_eq!(first, off);
    assert_eq!(second, off);
    assert!(off.contains("at "), "no source lines in:\n{off}");
    fx.assert_running();
    std::fs::remove_dir_all(&home).unwrap();
}
