//! Core files as a capture source (issue #20): a core that `gcore` writes of a running
//! fixture, and one the kernel writes when the fixture is killed with SIGABRT, are read back —
//! their threads are the process's threads, their registers put each thread's stack pointer
//! in memory the core holds, byte for byte what the live process holds there, their file
//! mappings name the fixture's binary, and `dump --core` names every thread's frames and
//! lines as the live dump taken just before does. A truncated or corrupted copy gives an
//! error or a note, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, gcore};
use rstack_tui::tracer::coredump::{Core, CoreError};

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    /// `$TMPDIR/rstack-NAME-PID`, created.
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rstack-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn live_memory(pid: u32, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let remote = [nix::sys::uio::RemoteIoVec {
        base: addr as usize,
        len,
    }];
    let n = {
        let mut local = [std::io::IoSliceMut::new(&mut buf)];
        nix::sys::uio::process_vm_readv(nix::unistd::Pid::from_raw(pid as i32), &mut local, &remote)
            .expect("read the live process")
    };
    assert_eq!(n, len);
    buf
}

#[test]
fn a_gcore_core_holds_the_process_threads_registers_memory_and_files() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let pid = fx.pid();
    let scratch = Scratch::new("core");
    let path = gcore(pid, &scratch.0);
    // gcore detached: the fixture runs on, untraced.
    fx.assert_running();

    let core = Core::open(&path).expect("read the core");
    assert_eq!(core.pid, Some(pid));
    assert_eq!(core.name.as_deref(), Some("moverfixture"));
    let mut tids: Vec<u32> = core.threads.iter().map(|t| t.tid).collect();
    tids.sort_unstable();
    let mut live: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    live.sort_unstable();
    assert_eq!(tids, live);
    // Every thread is parked: the 256 bytes above its stack pointer are in the core, and
    // equal the live process's.
    for t in &core.threads {
        let mut copy = vec![0u8; 256];
        assert!(
            core.read_memory(t.sp(), &mut copy),
            "no stack for {}",
            t.tid
        );
        assert_eq!(copy, live_memory(pid, t.sp(), 256), "thread {}", t.tid);
        assert!(
            core.files
                .iter()
                .any(|f| f.start <= t.pc() && t.pc() < f.end),
            "thread {}'s pc {:#x} in no mapped file",
            t.tid,
            t.pc()
        );
    }
    let bin = std::fs::canonicalize(common::mover_bin()).unwrap();
    assert!(
        core.files.iter().any(|f| f.path == bin),
        "{bin:?} not in {:?}",
        core.files
    );
    assert!(core.problems.is_empty(), "{:?}", core.problems);
}

#[test]
fn truncated_and_corrupted_cores_are_errors_or_notes_never_panics() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let scratch = Scratch::new("badcore");
    let whole = std::fs::read(gcore(fx.pid(), &scratch.0)).unwrap();
    let bad = scratch.0.join("bad");
    // Cut at the header, inside the program headers, and inside the notes.
    for cut in [10, 64 + 30, 4096] {
        std::fs::write(&bad, &whole[..cut.min(whole.len())]).unwrap();
        match Core::open(&bad) {
            Err(CoreError::NotElf | CoreError::Truncated(_) | CoreError::Malformed(_)) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // gcore writes its notes last: half the file has no notes, and says so.
    std::fs::write(&bad, &whole[..whole.len() / 2]).unwrap();
    assert!(matches!(Core::open(&bad), Err(CoreError::Truncated(_))));
    // A memory segment that claims bytes past the file's end is left out, with a note; the
    // rest of the core reads.
    let mut lying = whole.clone();
    let phoff = u64::from_le_bytes(whole[32..40].try_into().unwrap()) as usize;
    let first_load = (0..64)
        .map(|i| phoff + 56 * i)
        .find(|&at| u32::from_le_bytes(whole[at..at + 4].try_into().unwrap()) == 1)
        .unwrap();
    lying[first_load + 8..first_load + 16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    std::fs::write(&bad, &lying).unwrap();
    let core = Core::open(&bad).expect("the rest reads");
    assert!(
        core.problems
            .iter()
            .any(|p| p.contains("claims bytes past the file's end")),
        "{:?}",
        core.problems
    );
    // Flipped bytes through the headers and notes: whatever comes back, no panic.
    for i in (0..whole.len().min(64 << 10)).step_by(97) {
        let mut b = whole.clone();
        b[i] ^= 0xa5;
        std::fs::write(&bad, &b).unwrap();
        let _ = Core::open(&bad);
    }
    // An executable is not a core; a directory is not a file.
    assert!(matches!(
        Core::open(common::mover_bin()),
        Err(CoreError::NotCore(_))
    ));
    assert_eq!(
        Core::open(&scratch.0).map(|_| ()),
        Err(CoreError::NotRegular)
    );
    // A FIFO nobody writes: refused at once, not waited on.
    let fifo = scratch.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert_eq!(Core::open(&fifo).map(|_| ()), Err(CoreError::NotRegular));
    assert!(!Core::looks_like_core(&fifo));
}

/// Each thread's frames as (symbol, file, line), by tid, from `dump --json`'s output.
fn frames_by_tid(json: &str) -> std::collections::BTreeMap<u64, Vec<(String, String, u64)>> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let frames = t["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["symbol"].as_str().unwrap_or("??").to_string(),
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["line"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            (t["tid"].as_u64().unwrap(), frames)
        })
        .collect()
}

#[test]
fn dump_of_a_core_names_the_frames_the_live_dump_names() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let pid = fx.pid();
    let (code, live, err) = common::run_cli(&["dump", "--json", &pid.to_string()]);
    assert_eq!(code, 0, "{err}");
    let scratch = Scratch::new("dumpcore");
    let path = gcore(pid, &scratch.0);
    fx.assert_running();
    let (code, from_core, err) =
        common::run_cli(&["dump", "--json", "--core", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&from_core).unwrap();
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["mode"], "core");
    let (live, core) = (frames_by_tid(&live), frames_by_tid(&from_core));
    assert_eq!(
        core.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>()
    );
    for (tid, frames) in &live {
        assert!(frames.len() >= 3, "thread {tid}: {frames:?}");
        assert_eq!(&core[tid], frames, "thread {tid}");
    }
    // The parked threads' named frames, with their lines, as the fixture has them.
    assert!(
        core.values()
            .filter(|f| f
                .iter()
                .any(|(s, file, line)| s == "park_here" && file.ends_with("mover.c") && *line > 0))
            .count()
            == 4,
        "{core:#?}"
    );
    // The text form of the same core.
    let (code, text, err) = common::run_cli(&["dump", "--core", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("park_here"), "{text}");
}

#[test]
fn dump_of_a_bad_core_is_one_line_and_exit_2() {
    let scratch = Scratch::new("notcore");
    let junk = scratch.0.join("junk");
    std::fs::write(&junk, b"not a core at all").unwrap();
    for (file, says) in [
        (junk.to_str().unwrap(), "not an ELF file"),
        (common::mover_bin().to_str().unwrap(), "not a core"),
        (scratch.0.to_str().unwrap(), "not a regular file"),
        ("/nonexistent/core", "No such file"),
    ] {
        let (code, out, err) = common::run_cli(&["dump", "--core", file]);
        assert_eq!(code, 2, "{file}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{file}: {err}");
    }
}

/// The kernel's own core, written when a fixture dies of SIGABRT (RLIMIT_CORE raised for it
/// alone, the core written in its working directory as this machine's `core_pattern` says):
/// the C, Rust (with inlined frames), C++ and deadlock fixtures, and a CPython process.
#[test]
fn kernel_cores_name_the_frames_the_live_dump_named_before_the_abort() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    assert!(
        !pattern.starts_with('|') && !pattern.trim().contains('/'),
        "this test needs a core_pattern that writes into the process's directory, not {pattern:?}"
    );
    let fixtures: [(&str, &Path, &[&str]); 4] = [
        ("c", common::mover_bin(), &[]),
        ("rust", common::threads_bin(), &["inline"]),
        ("cpp", common::cpp_bin(), &["2", "inline"]),
        ("deadlock", common::deadlock_bin(), &[]),
    ];
    for (name, bin, args) in fixtures {
        kernel_core_matches_live(name, bin, args);
    }
    // A CPython process: its Python frames are among the frames compared.
    let script = std::env::temp_dir().join(format!("rstack-kcore-py-{}.py", std::process::id()));
    std::fs::write(&script, common::python::ONE_WAITER).unwrap();
    let (version, python) = common::python::interpreters()
        .into_iter()
        .find(|(v, _)| v.starts_with("3.12.") || v.starts_with("3.13."))
        .expect("CPython 3.12 or 3.13 under pyenv");
    kernel_core_matches_live(&version, &python, &[script.to_str().unwrap()]);
    let _ = std::fs::remove_file(&script);
}

/// gcore's cores of the same fixtures (the processes go on running): the live dump's frames,
/// lines, inlined frames and deadlocks.
#[test]
fn gcore_cores_name_the_frames_the_live_dump_names() {
    let fixtures: [(&str, &Path, &[&str]); 3] = [
        ("rust", common::threads_bin(), &["inline"]),
        ("cpp", common::cpp_bin(), &["2", "inline"]),
        ("deadlock", common::deadlock_bin(), &[]),
    ];
    for (name, bin, args) in fixtures {
        let fx = Fixture::spawn(bin, args);
        let (code, live, err) = common::run_cli(&["dump", "--json", &fx.pid().to_string()]);
        assert_eq!(code, 0, "{name}: {err}");
        let scratch = Scratch::new(&format!("gcore-{name}"));
        let path = gcore(fx.pid(), &scratch.0);
        fx.assert_running();
        dump_of_core_matches_live(name, &path, &live);
    }
}

/// A core of threads whose walks go astray (tests/fixtures/corrupt.c): one into a garbage
/// return address, one round a loop of its own frames, one in code of no file. Each thread's
/// frames are the live dump's: a walk that leaves every map must not cost the frames of the
/// threads after it their names (it made a core's symbolization look for a live process's
/// maps, and every new address after it came out unnamed).
#[test]
fn a_core_of_threads_whose_walks_go_astray_names_what_the_live_dump_names() {
    let fx = Fixture::spawn(common::corrupt_bin(), &[]);
    fx.wait_all_asleep();
    let (code, live, err) = common::run_cli(&["dump", "--json", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    let scratch = Scratch::new("astray");
    let path = gcore(fx.pid(), &scratch.0);
    fx.assert_running();
    let dumped = dump_of_core_matches_live("corrupt", &path, &live);
    // The garbage address, and the loop's own frames named after it.
    assert!(
        dumped
            .values()
            .any(|f| f.iter().any(|(s, _, _)| s == "smash_frame")),
        "{dumped:#?}"
    );
    assert!(
        dumped
            .values()
            .any(|f| f.iter().filter(|(s, _, _)| s == "loop_frame").count() >= 2),
        "{dumped:#?}"
    );
}

/// A Go program's core (its runtime's threads parked in assembly leaves, described by
/// `.debug_frame` only): every thread's frames as the live dump names them. The process is
/// held stopped (SIGSTOP) from before the live dump until gcore is done, so its runtime's
/// timers cannot move a thread in between. A Go thread's walk can end at an address no map
/// holds; that must not cost the frames of the threads after it their names.
#[test]
fn a_go_programs_core_names_the_frames_the_live_dump_names() {
    let fx = Fixture::spawn(common::gounwind_bin(), &[]);
    let pid = nix::unistd::Pid::from_raw(fx.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    common::wait_until("every thread of the Go fixture stopped", || {
        fx.thread_states().iter().all(|(_, s)| *s == 'T')
    });
    let (code, live, err) = common::run_cli(&["dump", "--json", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    let scratch = Scratch::new("gocore");
    let path = gcore(fx.pid(), &scratch.0);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let dumped = dump_of_core_matches_live("go", &path, &live);
    let named = |f: &(String, String, u64)| {
        f.0 != "??" && (f.1.ends_with(".s") || f.1.ends_with(".go")) && f.2 > 0
    };
    for (tid, frames) in &dumped {
        assert!(frames.iter().all(named), "thread {tid}: {frames:?}");
    }
    // The goroutine blocked reading stdin, on its thread's own stack down to runtime.goexit.
    assert!(
        dumped.values().any(|f| {
            let names: Vec<&str> = f.iter().map(|(s, _, _)| s.as_str()).collect();
            names.ends_with(&["main.readStdin", "main.main.func4", "runtime.goexit"])
        }),
        "{dumped:#?}"
    );
    fx.assert_running();
}

/// `dump --core CORE --json` against `dump --json` of the live process (`live`): the same
/// threads, none without frames, each with the same frames (name, file, line), the same
/// deadlocks. The core's frames, by tid.
fn dump_of_core_matches_live(
    name: &str,
    core: &Path,
    live: &str,
) -> std::collections::BTreeMap<u64, Vec<(String, String, u64)>> {
    let (code, from_core, err) =
        common::run_cli(&["dump", "--json", "--core", core.to_str().unwrap()]);
    assert_eq!(code, 0, "{name}: {err}");
    let (live_frames, dumped) = (frames_by_tid(live), frames_by_tid(&from_core));
    assert_eq!(
        dumped.keys().collect::<Vec<_>>(),
        live_frames.keys().collect::<Vec<_>>(),
        "{name}"
    );
    assert!(
        live_frames.values().all(|f| !f.is_empty()),
        "{name}: {live}"
    );
    for (tid, frames) in &live_frames {
        assert_eq!(&dumped[tid], frames, "{name}: thread {tid}");
    }
    let deadlocks =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["deadlocks"].clone();
    assert_eq!(deadlocks(&from_core), deadlocks(live), "{name}");
    dumped
}

fn kernel_core_matches_live(name: &str, bin: &Path, args: &[&str]) {
    let scratch = Scratch::new(&format!("kcore-{name}"));
    let script = format!(
        "ulimit -c unlimited && cd {} && exec {} {}",
        scratch.0.display(),
        bin.display(),
        args.join(" ")
    );
    let fx = Fixture::spawn(Path::new("/bin/sh"), &["-c", &script]);
    let pid = fx.pid();
    let (code, live, err) = common::run_cli(&["dump", "--json", &pid.to_string()]);
    assert_eq!(code, 0, "{name}: {err}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGABRT,
    )
    .unwrap();
    // The kernel writes the core before the process becomes a zombie.
    common::wait_until("the fixture to die of SIGABRT", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    });
    let core = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("core"))
        .unwrap_or_else(|| panic!("{name}: no core file in the fixture's directory"));
    let dumped = dump_of_core_matches_live(name, &core, &live);
    if name.starts_with("3.") {
        assert!(
            dumped.values().any(|f| f
                .iter()
                .any(|(s, file, _)| s == "wait_for_work" && file.ends_with(".py"))),
            "{name}: no Python frame in {dumped:?}"
        );
    }
}

/// The deadlock fixture's two threads waiting on each other's mutex: found in its core as in
/// the live process, with each lock's owner.
#[test]
fn the_deadlock_is_found_in_the_core() {
    let fx = Fixture::spawn(common::deadlock_bin(), &[]);
    let live = rstack_tui::trace(fx.pid()).expect("trace");
    assert_eq!(live.deadlocks().len(), 1, "{:?}", live.deadlocks());
    let scratch = Scratch::new("dlcore");
    let core = Core::open(&gcore(fx.pid(), &scratch.0)).expect("the core");
    let p = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new())
        .trace_core(std::sync::Arc::new(core), Path::new("/"))
        .expect("trace the core");
    assert_eq!(p.deadlocks(), live.deadlocks());
    for tid in &live.deadlocks()[0] {
        let owner = |p: &rstack_tui::Process| {
            p.threads()
                .iter()
                .find(|t| t.id() == *tid)
                .and_then(|t| t.facts().lock.as_ref()?.owner)
        };
        assert!(owner(&live).is_some());
        assert_eq!(owner(&p), owner(&live), "thread {tid}");
    }
}

/// A small deterministic mutation fuzz of whole cores through the whole path (headers, notes,
/// segments, maps, then the unwinder and symbolizer on the registers and memory it claims):
/// every mutant is an error or a process, none panics, and each takes a bounded time.
#[test]
fn mutated_cores_through_the_whole_path_never_panic() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let scratch = Scratch::new("fuzzcore");
    let seed = std::fs::read(gcore(fx.pid(), &scratch.0)).unwrap();
    drop(fx);
    // The headers, notes and the first segments: where a mutation changes what is believed.
    let hot = seed.len().min(256 << 10);
    let mut tracer = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new());
    let mutant = scratch.0.join("mutant");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut opened, mut traced) = (0, 0);
    for _ in 0..300 {
        let mut b = seed.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() % hot as u64) as usize;
            b[at] = match next() % 4 {
                0 => 0xff,
                1 => 0,
                2 => b[at] ^ (1 << (next() % 8)),
                _ => next() as u8,
            };
        }
        std::fs::write(&mutant, &b).unwrap();
        let started = std::time::Instant::now();
        if let Ok(core) = Core::open(&mutant) {
            opened += 1;
            if tracer
                .trace_core(std::sync::Arc::new(core), Path::new("/"))
                .is_ok()
            {
                traced += 1;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "a mutant took {:?}",
            started.elapsed()
        );
    }
    eprintln!("fuzz: 300 mutants, {opened} opened, {traced} traced");
    assert!(opened > 0 && traced > 0);
}

/// A CPython process's core: each thread's Python frames (function, file, line) as the live
/// trace of the same process read them just before, on every installed 3.8+ interpreter.
#[test]
fn python_frames_are_read_from_a_core_as_from_the_live_process() {
    let scratch = Scratch::new("pycore");
    let script = scratch.0.join("one_waiter.py");
    std::fs::write(&script, common::python::ONE_WAITER).unwrap();
    let frames = |p: &rstack_tui::Process| -> std::collections::BTreeMap<u32, Vec<String>> {
        p.threads()
            .iter()
            .map(|t| (t.id(), common::python::python_frames_as(t, |f| f)))
            .collect()
    };
    let mut checked = 0;
    for (version, python) in common::python::interpreters() {
        if version.starts_with("3.7.") {
            continue;
        }
        let fx = Fixture::spawn(&python, &[script.to_str().unwrap()]);
        let live = rstack_tui::trace(fx.pid()).expect("trace");
        let core = Core::open(&gcore(fx.pid(), &scratch.0)).expect("the core");
        fx.assert_running();
        let p = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new())
            .trace_core(std::sync::Arc::new(core), Path::new("/"))
            .expect("trace the core");
        let (live, dumped) = (frames(&live), frames(&p));
        assert!(
            live.values()
                .any(|f| f.iter().any(|l| l.contains("wait_for_work"))),
            "{version}: {live:?}"
        );
        assert_eq!(dumped, live, "{version}");
        checked += 1;
    }
    assert!(checked >= 1, "no CPython 3.8+ found");
}

/// `rstack-tui core CORE` in a terminal (tmux, 80x24): the threads pane lists the core's
/// threads with what they waited in, the stack pane the selected one's frames with their
/// lines, the status line says it is a core; `q` quits and the terminal is restored. `load`
/// takes the same core.
#[test]
fn the_inspector_opens_a_core() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let scratch = Scratch::new("tuicore");
    let path = gcore(fx.pid(), &scratch.0);
    let pid = fx.pid().to_string();
    drop(fx);
    for command in ["core", "load"] {
        let tmux = common::tmux::Tmux::shell(
            80,
            24,
            &format!(
                "{} {command} {}",
                env!("CARGO_BIN_EXE_rstack-tui"),
                path.display()
            ),
        );
        // Drawn in parts: wait for the whole screen (the status line comes last).
        let screen = tmux.wait_screen("the core's panes and status line", |s| {
            s.contains("core · offline")
                && s.contains("fixtures/mover.c:")
                && s.matches("park_here").count() == 4
        });
        assert!(
            screen.contains(&format!("pid {pid}")),
            "{command}:\n{screen}"
        );
        assert!(screen.contains("core · offline"), "{command}:\n{screen}");
        assert_eq!(
            screen.matches("park_here").count(),
            4,
            "{command}:\n{screen}"
        );
        // The main thread, selected first: its frames down to the fixture's main, with lines.
        assert!(screen.contains("fixtures/mover.c:"), "{command}:\n{screen}");
        tmux.send_keys(&["q"]);
        tmux.wait_for("EXITED rc=0");
        tmux.assert_terminal_restored();
        tmux.kill_server();
    }
}

/// A copy of the mover fixture run from `scratch` and its gcore core there, the process
/// gone: (the copy, the core). A test may then move or remove the copy.
fn core_of_a_moved_mover(scratch: &Scratch) -> (PathBuf, PathBuf) {
    let bin = scratch.0.join("moverfixture");
    std::fs::copy(common::mover_bin(), &bin).unwrap();
    let fx = Fixture::spawn(&bin, &[]);
    let core = gcore(fx.pid(), &scratch.0);
    drop(fx);
    (bin, core)
}

/// The text of `dump --core CORE --sysroot SYSROOT`, which must succeed.
fn dump_core_in(core: &Path, sysroot: &Path) -> String {
    let (code, text, err) = common::run_cli(&[
        "dump",
        "--core",
        core.to_str().unwrap(),
        "--sysroot",
        sysroot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    text
}

/// Absolute path `p` as it lies under `root`.
fn in_root(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap())
}

/// Copies file `p` to its place under `root`.
fn copy_into(root: &Path, p: &Path) {
    let to = in_root(root, p);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(p, &to).unwrap();
}

/// The executable moved after the dump: without `--exe` its frames have no names and a note
/// says how to give it, with it they have; another program given as `--exe` is refused by its
/// build-id, and said so.
#[test]
fn the_executable_is_taken_from_exe_and_checked_by_build_id() {
    let scratch = Scratch::new("execore");
    let (bin, path) = core_of_a_moved_mover(&scratch);
    let moved = scratch.0.join("moved");
    std::fs::rename(&bin, &moved).unwrap();
    let core = path.to_str().unwrap();
    let parked = |text: &str| text.matches("park_here").count();
    let (code, without, err) = common::run_cli(&["dump", "--core", core]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(parked(&without), 0, "{without}");
    let note = format!(
        "{}: file not found (at its path, nor by its build-id): give the executable with --exe",
        bin.display()
    );
    assert!(without.contains(&note), "{without}");
    let (code, with, err) =
        common::run_cli(&["dump", "--core", core, "--exe", moved.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(parked(&with), 4, "{with}");
    let (code, wrong, err) = common::run_cli(&["dump", "--core", core, "--exe", "/usr/bin/true"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(parked(&wrong), 0, "{wrong}");
    assert!(
        wrong.contains("not the file the core's process mapped"),
        "{wrong}"
    );
}

/// systemd-coredump keeps cores compressed: a zstd, xz or lz4 core reads as the plain one.
#[test]
fn compressed_cores_read_as_the_plain_one() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let scratch = Scratch::new("zcore");
    let path = gcore(fx.pid(), &scratch.0);
    drop(fx);
    let (code, plain, err) = common::run_cli(&["dump", "--json", "--core", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for (tool, args) in [
        ("zstd", &["-q", "-3", "-c"][..]),
        ("xz", &["-1", "-c"]),
        ("lz4", &["-q", "-c"]),
    ] {
        let packed = scratch.0.join(format!("core.{tool}"));
        let out = std::process::Command::new(tool)
            .args(args)
            .arg(&path)
            .stdout(std::fs::File::create(&packed).unwrap())
            .status()
            .unwrap_or_else(|e| panic!("{tool} (scripts/deps.sh installs it): {e}"));
        assert!(out.success(), "{tool}");
        let (code, json, err) =
            common::run_cli(&["dump", "--json", "--core", packed.to_str().unwrap()]);
        assert_eq!(code, 0, "{tool}: {err}");
        assert_eq!(frames_by_tid(&json), frames_by_tid(&plain), "{tool}");
        // A compressed core cut short is one line and exit 2.
        let whole = std::fs::read(&packed).unwrap();
        std::fs::write(&packed, &whole[..whole.len() / 3]).unwrap();
        let (code, _, err) = common::run_cli(&["dump", "--core", packed.to_str().unwrap()]);
        assert_eq!(code, 2, "{tool}: {err}");
        assert_eq!(err.lines().count(), 1, "{tool}: {err}");
    }
}

/// The executable is gone from the path the core records, but a file with its build-id is
/// under the root's `/usr/lib/.build-id/` (as distributions link binaries): found there. The
/// root here is a sysroot holding copies of the process's libraries.
#[test]
fn a_moved_executable_is_found_by_its_build_id() {
    let scratch = Scratch::new("bidcore");
    let (bin, path) = core_of_a_moved_mover(&scratch);
    let core = Core::open(&path).unwrap();
    let sysroot = scratch.0.join("sysroot");
    let exe = core.executable().unwrap().to_path_buf();
    for f in core.files.iter().filter(|f| f.path != exe) {
        copy_into(&sysroot, &f.path);
    }
    let id =
        object::Object::build_id(&object::File::parse(&*std::fs::read(&bin).unwrap()).unwrap())
            .unwrap()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
    let link = sysroot.join(format!("usr/lib/.build-id/{}/{}", &id[..2], &id[2..]));
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::fs::rename(&bin, &link).unwrap();
    let text = dump_core_in(&path, &sysroot);
    assert_eq!(text.matches("park_here").count(), 4, "{text}");
    assert!(text.contains("fixtures/mover.c:"), "{text}");
}

/// A sysroot is the core's machine: a library there that is a symbolic link to the host's
/// copy (absolute, or climbing out with `..`) is resolved inside the sysroot, where it is not,
/// so the host's file is never read as the core's; the listing says the file is not found.
#[test]
fn a_sysroot_link_never_reaches_the_hosts_files() {
    let scratch = Scratch::new("linkroot");
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let path = gcore(fx.pid(), &scratch.0);
    drop(fx);
    let core = Core::open(&path).unwrap();
    let sysroot = scratch.0.join("sysroot");
    let exe = core.executable().unwrap().to_path_buf();
    let libc = core
        .files
        .iter()
        .map(|f| f.path.clone())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
        })
        .expect("the mover fixture maps libc");
    let in_root = |p: &Path| in_root(&sysroot, p);
    copy_into(&sysroot, &exe);
    std::fs::create_dir_all(in_root(&libc).parent().unwrap()).unwrap();
    let climb = "../".repeat(libc.components().count() + scratch.0.components().count() + 2);
    let (code, text, err) = common::run_cli(&["dump", "--core", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("pthread_cond_wait"), "{text}");
    for target in [
        libc.clone(),
        PathBuf::from(format!("{climb}{}", libc.display())),
    ] {
        let _ = std::fs::remove_file(in_root(&libc));
        std::os::unix::fs::symlink(&target, in_root(&libc)).unwrap();
        let text = dump_core_in(&path, &sysroot);
        // libc's frames unnamed (and the walk cut there: its unwind tables are not read).
        assert!(!text.contains("pthread_cond_wait"), "{target:?}: {text}");
        assert!(text.contains("?? "), "{target:?}: {text}");
        let note = format!("{}: file not found (at its path", libc.display());
        assert!(text.contains(&note), "{target:?}: {text}");
    }
}
