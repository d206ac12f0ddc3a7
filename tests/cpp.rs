//! Tracing a C++ program (tests/fixtures/cpp_threads.cpp, built with g++ -O2 -g): thread names,
//! complete unwinds through -O2 code, and C++ demangling of namespaces, a class template's
//! method and a function template with a non-type template parameter.

mod common;

use common::Fixture;
use rstack_tui::{Mode, Process, Thread, TraceOptions};

const WORKERS: usize = 4;

/// The fixture's frames of every worker (demangled), innermost first.
const WORKER_CHAIN: [&str; 6] = [
    "app::detail::park()",
    "void app::detail::descend<1>()",
    "void app::detail::descend<2>()",
    "void app::detail::descend<3>()",
    "app::Pool<int>::run(int)",
    "app::worker_entry(void*)",
];

/// The same frames as they stand in the symbol table (Itanium C++ ABI).
const WORKER_CHAIN_RAW: [&str; 6] = [
    "_ZN3app6detail4parkEv",
    "_ZN3app6detail7descendILi1EEEvv",
    "_ZN3app6detail7descendILi2EEEvv",
    "_ZN3app6detail7descendILi3EEEvv",
    "_ZN3app4PoolIiE3runEi",
    "_ZN3app12worker_entryEPv",
];

/// Indices, demangled and raw names of the frames of `t` that belong to the fixture (their
/// demangled name mentions `app::`; a function template's name starts with its return type).
fn app_frames(t: &Thread) -> Vec<(usize, String, String)> {
    t.frames()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.symbol().map(|s| (i, s)))
        .filter(|(_, s)| s.name().contains("app::"))
        .map(|(i, s)| (i, s.name().to_string(), s.raw_name().to_string()))
        .collect()
}

fn spawn() -> Fixture {
    Fixture::spawn(common::cpp_bin(), &[&WORKERS.to_string()])
}

/// Asserts that `p` is the C++ fixture with `WORKERS` workers: exact thread names, exact
/// demangled and raw names of the fixture's frames, consecutive, and an unwind that goes on
/// past them.
fn assert_cpp_fixture(p: &Process) {
    assert_eq!(
        p.threads().len(),
        WORKERS + 1,
        "thread count of {}: {p:#?}",
        p.id()
    );

    let main = &p.threads()[0];
    assert_eq!(main.id(), p.id());
    assert_eq!(main.name(), Some("cppfixture"));
    assert_eq!(main.error(), None, "main thread");
    let frames = app_frames(main);
    let names: Vec<&str> = frames.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["app::main_loop()"],
        "main thread frames: {:#?}",
        main.frames()
    );
    assert_eq!(frames[0].2, "_ZN3app9main_loopEv");
    let caller = main
        .frames()
        .get(frames[0].0 + 1)
        .and_then(|f| f.symbol())
        .map(|s| s.name());
    assert_eq!(
        caller,
        Some("main"),
        "main thread frames: {:#?}",
        main.frames()
    );

    let mut names: Vec<&str> = p.threads()[1..]
        .iter()
        .map(|t| t.name().expect("thread names requested"))
        .collect();
    names.sort_unstable();
    let expected: Vec<String> = (0..WORKERS).map(|i| format!("cpp-worker-{i}")).collect();
    assert_eq!(names, expected, "worker names");

    for t in &p.threads()[1..] {
        let name = t.name().unwrap();
        assert_eq!(t.error(), None, "{name}");
        assert!(!t.is_truncated(), "{name} truncated");
        let frames = app_frames(t);
        let demangled: Vec<&str> = frames.iter().map(|(_, n, _)| n.as_str()).collect();
        assert_eq!(demangled, WORKER_CHAIN, "{name} frames: {:#?}", t.frames());
        let raw: Vec<&str> = frames.iter().map(|(_, _, r)| r.as_str()).collect();
        assert_eq!(raw, WORKER_CHAIN_RAW, "{name} raw names");
        for (_, demangled, raw) in &frames {
            assert!(
                raw.starts_with("_Z"),
                "{name}: raw name {raw:?} is not mangled"
            );
            assert_ne!(raw, demangled, "{name}: {raw:?} was not demangled");
        }
        // Every frame of the chain exists: no frame missing or inserted between them.
        let first = frames[0].0;
        let indices: Vec<usize> = frames.iter().map(|(i, ..)| *i).collect();
        assert_eq!(
            indices,
            (first..first + WORKER_CHAIN.len()).collect::<Vec<_>>(),
            "{name} frames: {:#?}",
            t.frames()
        );
        // The innermost fixture frame is called from pthread_cond_wait's frame below it.
        assert!(
            t.frames()[..first].iter().any(|f| f
                .symbol()
                .is_some_and(|s| s.name().contains("pthread_cond_wait"))),
            "{name}: no pthread_cond_wait frame: {:#?}",
            t.frames()
        );
        // The unwind goes on past worker_entry into the thread entry in libc.
        let outermost = frames.last().unwrap().0;
        let beyond = &t.frames()[outermost + 1..];
        assert!(
            !beyond.is_empty(),
            "{name} stack ends at worker_entry: {:#?}",
            t.frames()
        );
        assert!(
            beyond[0].module().is_some(),
            "{name}: thread entry frame not in a module: {:#?}",
            t.frames()
        );
    }
}

fn trace_and_check(snapshot: bool, mode: Mode) {
    let fixture = spawn();
    let p = TraceOptions::new()
        .snapshot(snapshot)
        .trace(fixture.pid())
        .expect("trace");
    fixture.assert_running();
    assert_eq!(p.id(), fixture.pid());
    assert_eq!(p.mode(), mode);
    assert!(p.is_complete(), "{p:#?}");
    assert_cpp_fixture(&p);
}

#[test]
fn cpp_rolling() {
    trace_and_check(false, Mode::Rolling);
}

#[test]
fn cpp_snapshot() {
    trace_and_check(true, Mode::Snapshot);
}

#[test]
fn cpp_retrace_same_process() {
    // Both modes, one after the other, on the same process: the first trace left it intact.
    let fixture = spawn();
    for snapshot in [false, true, false] {
        let p = TraceOptions::new()
            .snapshot(snapshot)
            .trace(fixture.pid())
            .expect("trace");
        fixture.assert_running();
        assert_cpp_fixture(&p);
    }
}

/// The tid of the thread of `pid` named `name`.
fn tid_named(pid: u32, name: &str) -> u32 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            if comm.trim_end() != name {
                return None;
            }
            e.file_name().to_str()?.parse().ok()
        })
        .next()
        .unwrap_or_else(|| panic!("no thread named {name} in {pid}"))
}

#[test]
fn cpp_cli_dump() {
    let fixture = spawn();
    let pid = fixture.pid();
    let (code, out, err) = common::run_cli(&["dump", &pid.to_string()]);
    fixture.assert_running();
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let tid = tid_named(pid, "cpp-worker-0");
    let header = format!("Thread {tid} \"cpp-worker-0\"");
    let start = out
        .find(&header)
        .unwrap_or_else(|| panic!("no {header:?} in:\n{out}"));
    // That thread's section: up to the blank line before the next thread.
    let section = &out[start..];
    let section = &section[..section.find("\n\n").unwrap_or(section.len())];
    let mut rest = section;
    for frame in WORKER_CHAIN {
        let at = rest
            .find(&format!("  {frame}+0x"))
            .unwrap_or_else(|| panic!("no frame {frame:?} (in order) in:\n{section}"));
        rest = &rest[at..];
    }
    assert!(out.contains("void app::detail::descend<3>()+0x"), "{out}");
    assert!(
        !out.contains("_ZN3app"),
        "mangled names in the listing:\n{out}"
    );
}
