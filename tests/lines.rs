//! Source lines and inline frames from DWARF (issue 5): file:line of the fixtures' frames, and
//! functions inlined into a frame listed before it like gdb's `bt` does, at the same ip.

mod common;

use common::Fixture;
use rstack_tui::{Frame, Process, Thread, TraceOptions};

/// The 1-based number of the only line of `source` containing `needle`.
fn line_of(source: &str, needle: &str) -> u32 {
    let hits: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "lines containing {needle:?}: {hits:?}");
    hits[0] as u32
}

fn fixture_source(name: &str) -> String {
    std::fs::read_to_string(common::fixtures_dir().join(name)).unwrap()
}

fn thread<'a>(p: &'a Process, name: &str) -> &'a Thread {
    p.threads()
        .iter()
        .find(|t| t.name() == Some(name))
        .unwrap_or_else(|| panic!("no thread {name:?} in {p:#?}"))
}

/// The index and frame of the first frame of `t` whose symbol is `name`.
fn frame<'a>(t: &'a Thread, name: &str) -> (usize, &'a Frame) {
    t.frames()
        .iter()
        .enumerate()
        .find(|(_, f)| f.symbol().is_some_and(|s| s.name() == name))
        .unwrap_or_else(|| panic!("no frame {name:?} in {:#?}", t.frames()))
}

fn assert_at(f: &Frame, file_suffix: &str, line: u32) {
    let loc = f
        .location()
        .unwrap_or_else(|| panic!("no location for {f:#?}"));
    assert!(
        loc.file.ends_with(file_suffix),
        "file {} of {f:#?}",
        loc.file
    );
    assert_eq!(loc.line, line, "line of {f:#?}");
}

#[test]
fn rust_frames_have_lines() {
    let fx = Fixture::spawn(common::threads_bin(), &["park", "3"]);
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    fx.assert_running();
    let src = fixture_source("threads.rs");
    let call = line_of(&src, "if depth > 1 { level_two(depth) } else { park() }");
    let worker_call = line_of(&src, "level_one(1 + i % 3);");
    for name in ["worker-0", "worker-1", "worker-2"] {
        let t = thread(&p, name);
        let (_, f) = frame(t, "threads_fixture::level_one");
        assert!(!f.is_inlined());
        assert_at(f, "tests/fixtures/threads.rs", call);
        let (_, f) = frame(t, "threads_fixture::worker_main");
        assert_at(f, "tests/fixtures/threads.rs", worker_call);
    }
}

#[test]
fn rust_inlined_frame() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    fx.assert_running();
    let src = fixture_source("threads.rs");
    let t = thread(&p, "inliner");
    let (i, helper) = frame(t, "threads_fixture::inline_helper");
    assert!(helper.is_inlined(), "{:#?}", t.frames());
    assert_at(
        helper,
        "tests/fixtures/threads.rs",
        line_of(&src, "park(); // the inlined call"),
    );
    let caller = &t.frames()[i + 1];
    assert_eq!(
        caller.symbol().map(|s| s.name()),
        Some("threads_fixture::inline_caller")
    );
    assert!(!caller.is_inlined());
    assert_eq!(
        helper.ip(),
        caller.ip(),
        "an inlined frame shares its caller's ip"
    );
    assert_eq!(helper.module(), caller.module());
    assert_at(
        caller,
        "tests/fixtures/threads.rs",
        line_of(
            &src,
            "inline_helper(depth); // the call of the inlined helper",
        ),
    );
    // The physical frame inside: park, not inlined.
    let (j, park) = frame(t, "threads_fixture::park");
    assert!(j < i && !park.is_inlined());
}

#[test]
fn no_lines_option() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    let p = TraceOptions::new()
        .lines(false)
        .trace(fx.pid())
        .expect("trace");
    fx.assert_running();
    for t in p.threads() {
        for f in t.frames() {
            assert!(f.location().is_none() && !f.is_inlined(), "{f:#?}");
        }
    }
    let t = thread(&p, "inliner");
    frame(t, "threads_fixture::inline_caller");
    assert!(!t.frames().iter().any(|f| {
        f.symbol()
            .is_some_and(|s| s.name().contains("inline_helper"))
    }));
}

#[test]
fn cpp_frames_have_lines_and_inlined_helper() {
    let fx = Fixture::spawn(common::cpp_bin(), &["2", "inline"]);
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    fx.assert_running();
    let src = fixture_source("cpp_threads.cpp");
    // descend<2> calls descend<1>: `descend<N - 1>();` is the only such line.
    let call = line_of(&src, "descend<N - 1>();");
    for name in ["cpp-worker-0", "cpp-worker-1"] {
        let t = thread(&p, name);
        let (_, f) = frame(t, "void app::detail::descend<2>()");
        assert_at(f, "tests/fixtures/cpp_threads.cpp", call);
    }
    let t = thread(&p, "cpp-inliner");
    let (i, helper) = t
        .frames()
        .iter()
        .enumerate()
        .find(|(_, f)| f.symbol().is_some_and(|s| s.name().contains("inline_wait")))
        .unwrap_or_else(|| panic!("no inline_wait in {:#?}", t.frames()));
    assert!(helper.is_inlined());
    assert_at(
        helper,
        "tests/fixtures/cpp_threads.cpp",
        line_of(&src, "detail::park();  // the inlined call"),
    );
    let caller = &t.frames()[i + 1];
    assert_eq!(
        caller.symbol().map(|s| s.name()),
        Some("app::inline_entry(void*)")
    );
    assert_eq!(helper.ip(), caller.ip());
    assert_at(
        caller,
        "tests/fixtures/cpp_threads.cpp",
        line_of(&src, "inline_wait();  // the call of the inlined helper"),
    );
}

#[test]
fn dump_shows_lines_and_inlined() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    let pid = fx.pid().to_string();
    let (code, out, err) = common::run_cli(&["dump", &pid]);
    assert_eq!(code, 0, "{err}");
    let src = fixture_source("threads.rs");
    let line = line_of(&src, "park(); // the inlined call");
    assert!(
        out.lines()
            .any(|l| l.contains("[inlined] threads_fixture::inline_helper")
                && l.ends_with(&format!("tests/fixtures/threads.rs:{line}"))),
        "{out}"
    );
    let (code, out, err) = common::run_cli(&["dump", "--no-lines", &pid]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("[inlined]") && !out.contains("  at "),
        "{out}"
    );
    fx.assert_running();
}

#[test]
fn schema_round_trips_lines() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    fx.assert_running();
    let doc = rstack_tui::tracer::schema::SnapshotDoc::from(&p);
    let json = serde_json::to_string(&doc).unwrap();
    let back: rstack_tui::tracer::schema::SnapshotDoc = serde_json::from_str(&json).unwrap();
    let q = back.to_process();
    let t = thread(&q, "inliner");
    let (i, helper) = frame(t, "threads_fixture::inline_helper");
    assert!(helper.is_inlined());
    assert!(helper.location().is_some());
    assert!(t.frames()[i + 1].location().is_some());
}
