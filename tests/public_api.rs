//! A program outside the crate that uses only the public API at its root (no
//! `rstack_tui::tracer::` paths, none of the inspector's hidden modules): it traces the Rust
//! fixture and prints each thread's id and name and each frame's ip, symbol name and offset.
//! The test reads that output back and checks the exact chains of the fixture's threads.

mod common;

use common::{Fixture, expected_worker_chain, threads_bin};

/// The program: only names re-exported at the crate root.
mod program {
    use std::fmt::Write;

    use rstack_tui::{Error, Frame, Process, Symbol, Thread, TraceOptions, Tracer};

    /// "thread TID NAME", then "  IP NAME+OFFSET" per frame (or "  IP ??" without a symbol),
    /// " (inlined)" after a function inlined into the next frame (same ip, offset 0).
    pub fn report(process: &Process) -> String {
        let mut out = String::new();
        for thread in process.threads() {
            thread_lines(&mut out, thread);
        }
        out
    }

    fn thread_lines(out: &mut String, thread: &Thread) {
        let name = thread.name().unwrap_or("?");
        let _ = writeln!(out, "thread {} {name}", thread.id());
        for frame in thread.frames() {
            let _ = writeln!(out, "  {}", frame_text(frame));
        }
    }

    fn frame_text(frame: &Frame) -> String {
        let symbol = frame.symbol().map_or("??".into(), symbol_text);
        let inlined = if frame.is_inlined() { " (inlined)" } else { "" };
        format!("{:#x} {symbol}{inlined}", frame.ip())
    }

    fn symbol_text(symbol: &Symbol) -> String {
        format!("{}+{:#x}", symbol.name(), symbol.offset())
    }

    /// One trace with the defaults, one through a long-lived tracer in snapshot mode.
    pub fn trace_twice(pid: u32) -> Result<[Process; 2], Error> {
        let once = rstack_tui::trace(pid)?;
        let mut tracer = Tracer::new(TraceOptions::new().snapshot(true).clone());
        Ok([once, tracer.trace(pid)?])
    }
}

/// One thread of the program's output: its id, its name, and its frames.
struct Printed {
    tid: u32,
    name: String,
    frames: Vec<PrintedFrame>,
}

struct PrintedFrame {
    ip: u64,
    /// Name and offset.
    symbol: Option<(String, u64)>,
    inlined: bool,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.strip_prefix("0x").expect("0x"), 16).expect("hex")
}

fn parse(report: &str) -> Vec<Printed> {
    let mut threads: Vec<Printed> = Vec::new();
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("thread ") {
            let (tid, name) = rest.split_once(' ').expect("thread TID NAME");
            threads.push(Printed {
                tid: tid.parse().expect("tid"),
                name: name.to_string(),
                frames: Vec::new(),
            });
            continue;
        }
        let (ip, symbol) = line
            .strip_prefix("  ")
            .and_then(|f| f.split_once(' '))
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let (symbol, inlined) = match symbol.strip_suffix(" (inlined)") {
            Some(outer) => (outer, true),
            None => (symbol, false),
        };
        let symbol = (symbol != "??").then(|| {
            let (name, offset) = symbol.rsplit_once('+').expect("NAME+OFFSET");
            (name.to_string(), hex(offset))
        });
        let thread = threads.last_mut().expect("a frame before any thread");
        thread.frames.push(PrintedFrame {
            ip: hex(ip),
            symbol,
            inlined,
        });
    }
    threads
}

/// The names of `thread`'s frames of the fixture's own code (not inlined), innermost first.
fn fixture_chain(thread: &Printed) -> Vec<String> {
    thread
        .frames
        .iter()
        .filter(|f| !f.inlined)
        .filter_map(|f| f.symbol.as_ref())
        .map(|(name, _)| name.clone())
        .filter(|n| n.starts_with("threads_fixture::"))
        .collect()
}

#[test]
fn a_program_using_only_the_root_api_prints_the_fixtures_threads_and_chains() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    for process in program::trace_twice(fx.pid()).expect("trace") {
        let report = program::report(&process);
        let threads = parse(&report);
        assert_eq!(threads.len(), 4, "{report}");
        assert_eq!(threads[0].tid, fx.pid(), "{report}");
        assert_eq!(threads[0].name, "rsfixture", "{report}");
        assert_eq!(
            fixture_chain(&threads[0]),
            ["threads_fixture::main_park", "threads_fixture::main"],
            "{report}"
        );
        let mut workers: Vec<_> = threads[1..].iter().collect();
        workers.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, worker) in workers.into_iter().enumerate() {
            assert_eq!(worker.name, format!("worker-{i}"), "{report}");
            assert_eq!(fixture_chain(worker), expected_worker_chain(i), "{report}");
        }
        // The name each thread has now, and each fixture function at one start address
        // (ip - offset) in every thread it is on, after its call (offset > 0).
        let mut starts = std::collections::HashMap::new();
        for thread in &threads {
            let comm = format!("/proc/{}/task/{}/comm", fx.pid(), thread.tid);
            let live = std::fs::read_to_string(comm).expect("a live thread");
            assert_eq!(live.trim_end(), thread.name);
            for frame in thread.frames.iter().filter(|f| !f.inlined) {
                let Some((name, offset)) = frame.symbol.as_ref() else {
                    continue;
                };
                if name.starts_with("threads_fixture::") {
                    assert!(*offset > 0, "{report}");
                    let start = *starts.entry(name.clone()).or_insert(frame.ip - offset);
                    assert_eq!(
                        frame.ip - offset,
                        start,
                        "{name} at two addresses: {report}"
                    );
                }
            }
        }
        assert!(
            starts.contains_key("threads_fixture::worker_main"),
            "{report}"
        );
    }
    fx.assert_running();
}

/// Linking the library does not replace libc's `sigprocmask`: only the binary defines its
/// own (src/sigprocmask.rs). This test program links the library; it has no such symbol.
#[test]
fn a_program_linking_the_library_keeps_libcs_sigprocmask() {
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let file = object::File::parse(bytes.as_slice()).unwrap();
    let defined = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.name() == Ok("sigprocmask") && s.is_definition())
        .count();
    assert_eq!(defined, 0, "this program defines sigprocmask");
    // The program keeps a symbol table, or the check above would prove nothing.
    assert!(
        file.symbols()
            .any(|s| s.name().is_ok_and(|n| n.contains("public_api")))
    );
}
