//! How stacks end, and the frames around a signal: a thread inside a signal handler shows the
//! handler, `<signal handler called>` on the trampoline, then the interrupted function by its
//! exact address; threads caught at any point of their life in a thread-creation storm end at
//! their root (or say why not), never in a run of garbage frames; every stack cut short says
//! why, once, in the model, the JSON and the dump text; a frameless leaf without unwind info
//! (glibc's `clone3` after the system call, an assembly leaf) is passed through its return
//! address at the stack pointer, and only when that is one.

mod common;

use common::{Fixture, frameless_bin, nocfi_bin, run_cli, sigframe_bin, storm_bin, threads_bin};
use rstack_tui::{Process, StackEnd, Thread, TraceOptions, Tracer, UnwindMethod};

/// The names of the physical frames of `t`, `??` for none.
fn names(t: &Thread) -> Vec<&str> {
    t.frames()
        .iter()
        .filter(|f| !f.is_inlined())
        .map(|f| f.symbol().map_or("??", |s| s.name()))
        .collect()
}

/// Traces `pid` with the copy unwinder (blocked threads captured without a stop, or every
/// thread stopped) and the ptrace one.
fn three_ways(pid: u32) -> Vec<(&'static str, Process)> {
    [
        ("copy", UnwindMethod::Copy, false),
        ("copy, stopped", UnwindMethod::Copy, true),
        ("ptrace", UnwindMethod::Ptrace, false),
    ]
    .into_iter()
    .map(|(how, method, stop)| {
        let p = TraceOptions::new()
            .unwind_method(method)
            .stop_blocked(stop)
            .trace(pid)
            .unwrap();
        (how, p)
    })
    .collect()
}

#[test]
fn a_signal_frame_is_named_and_the_interrupted_frame_exact() {
    let fx = Fixture::spawn(sigframe_bin(), &[]);
    for (how, p) in three_ways(fx.pid()) {
        let t = &p.threads()[0];
        // trap_here was interrupted at its first byte: looked up at the byte before, it would
        // be named after whatever precedes it. Its caller is looked up as a return address.
        assert_eq!(
            names(t),
            [
                "read",
                "handler_waits",
                "on_sigill",
                "__restore_rt",
                "trap_here",
                "interrupted_here",
                "main",
                "__libc_start_call_main",
                "__libc_start_main",
                "_start"
            ],
            "{how}: {:#?}",
            t.frames()
        );
        let physical: Vec<_> = t.frames().iter().filter(|f| !f.is_inlined()).collect();
        let signal: Vec<bool> = physical.iter().map(|f| f.is_signal()).collect();
        assert_eq!(
            signal,
            [
                false, false, false, true, false, false, false, false, false, false
            ],
            "{how}"
        );
        let trap = physical[4];
        assert_eq!(trap.symbol().unwrap().offset(), 0, "{how}: {trap:?}");
        // The handler ran on an alternate stack above the interrupted frames: the stack
        // pointer goes down across the signal frame, and that is no reason to stop.
        assert_eq!(t.stack_end(), Some(&StackEnd::Root), "{how}");
        assert!(!t.is_truncated(), "{how}");
        assert_eq!(t.end_note(), None, "{how}");
    }
    let (code, out, err) = run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("  <signal handler called> __restore_rt+0x0  (")),
        "{out}"
    );
    assert!(!out.contains("  ... ("), "{out}");
    fx.assert_running();
}

/// The functions of storm.c's threads and the libc functions they run in: a thread of the
/// storm is never deeper than this many physical frames.
const STORM_DEPTH: usize = 12;

/// A creator thread of the storm caught inside clone3 around the system call, where glibc
/// has no unwind info (it ends the FDE before the call, for the new thread's sake): clone3 is
/// frameless there, and its callers are found through its return address, as gdb finds them.
const CREATOR_IN_CLONE3: [&str; 7] = [
    "clone3",
    "__clone_internal",
    "create_thread",
    "pthread_create",
    "creator",
    "start_thread",
    "clone3",
];

/// The physical frames of `t`, whether each is frameless (see [`CREATOR_IN_CLONE3`]).
fn frameless(t: &Thread) -> Vec<bool> {
    t.frames()
        .iter()
        .filter(|f| !f.is_inlined())
        .map(|f| f.is_frameless())
        .collect()
}

#[test]
fn a_thread_creation_storm_gives_no_garbage_frames() {
    let fx = Fixture::spawn_busy(storm_bin(), &[]);
    let traces = common::env_count("STORM_TRACES", 200);
    let (mut threads, mut new_at_clone3, mut parents_in_clone3) = (0, 0, 0);
    let mut tracers = [UnwindMethod::Copy, UnwindMethod::Ptrace]
        .map(|m| (m, Tracer::new(TraceOptions::new().unwind_method(m).clone())));
    let started = std::time::Instant::now();
    let mut done = 0;
    // At least `traces` with each method, and on until both moments the storm is for were
    // caught (how soon is the scheduler's business), within bounds.
    while done < 2 * traces || new_at_clone3 == 0 || parents_in_clone3 == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "in {done} traces: {new_at_clone3} new threads caught right after clone3, \
             {parents_in_clone3} creators inside it"
        );
        let (method, tracer) = &mut tracers[done % 2];
        let method = *method;
        done += 1;
        let p = tracer.trace(fx.pid()).unwrap();
        for t in p.threads() {
            threads += 1;
            let names = names(t);
            let what = format!("{method:?}, thread {}: {:#?}", t.id(), t.frames());
            assert!(t.error().is_none(), "{what}");
            assert!(names.len() <= STORM_DEPTH, "{what}");
            assert!(!names.contains(&"??"), "{what}");
            let physical: Vec<u64> = t
                .frames()
                .iter()
                .filter(|f| !f.is_inlined())
                .map(|f| f.ip())
                .collect();
            assert!(physical.windows(2).all(|w| w[0] != w[1]), "{what}");
            assert_eq!(t.stack_end(), Some(&StackEnd::Root), "{what}");
            assert!(!t.is_truncated(), "{what}");
            assert_eq!(t.end_note(), None, "{what}");
            if names == ["clone3"] {
                new_at_clone3 += 1;
            }
            let marks = frameless(t);
            if names.first() == Some(&"clone3") && names.len() > 1 {
                // A creator: its callers exact, to its root; clone3 frameless past the
                // end of its CFI.
                assert_eq!(names, CREATOR_IN_CLONE3, "{what}");
                assert!(!marks[1..].contains(&true), "{what}");
                if marks[0] {
                    parents_in_clone3 += 1;
                }
            } else {
                assert!(!marks.contains(&true), "{what}");
            }
        }
    }
    eprintln!(
        "storm: {threads} threads in {done} traces; {new_at_clone3} new threads caught right \
         after clone3, {parents_in_clone3} creators inside it past its unwind info"
    );
    fx.assert_running();
}

#[test]
fn every_cut_stack_says_why_once() {
    let fx = Fixture::spawn(threads_bin(), &["deep", "300"]);
    let deep_of = |p: &Process| {
        p.threads()
            .iter()
            .find(|t| t.name() == Some("deep"))
            .unwrap()
            .clone()
    };
    // The frame limit.
    let p = TraceOptions::new().max_frames(10).trace(fx.pid()).unwrap();
    let deep = deep_of(&p);
    assert_eq!(deep.stack_end(), Some(&StackEnd::FrameLimit { limit: 10 }));
    assert!(deep.is_truncated());
    assert_eq!(
        deep.end_note().as_deref(),
        Some("stack cut at the frame limit (10 frames)")
    );
    // A copy too short: how much was copied, and how much would do.
    let p = TraceOptions::new()
        .stack_copy_limit(16 * 1024)
        .trace(fx.pid())
        .unwrap();
    let deep = deep_of(&p);
    match deep.stack_end() {
        Some(StackEnd::CopyTooShort {
            copied,
            needed: Some(needed),
        }) => {
            assert_eq!(*copied, 16 * 1024);
            assert!(*needed > 300 * 512, "{needed}");
        }
        other => panic!("{other:?}"),
    }
    assert!(deep.is_truncated());
    // Shallow threads reach their root.
    for t in p.threads().iter().filter(|t| t.name() != Some("deep")) {
        assert_eq!(t.stack_end(), Some(&StackEnd::Root), "{:#?}", t.frames());
    }

    // The same through the binary, in the JSON (the note in words and typed) and the text
    // (one note per stack).
    let pid = fx.pid().to_string();
    let (code, out, err) = run_cli(&["dump", "--json", "--max-frames", "10", &pid]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let deep = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "deep")
        .unwrap();
    assert_eq!(deep["truncated"], true);
    assert_eq!(deep["end_note"], "stack cut at the frame limit (10 frames)");
    assert_eq!(
        deep["end"],
        serde_json::json!({"reason": "frame_limit", "limit": 10})
    );
    let (code, out, err) = run_cli(&["dump", "--max-frames", "10", &pid]);
    assert_eq!(code, 0, "{err}");
    let deep_text = out
        .split("\n\n")
        .find(|block| block.contains(" \"deep\" ("))
        .unwrap();
    assert_eq!(
        deep_text.matches("  ... (").count(),
        1,
        "one reason per stack:\n{deep_text}"
    );
    fx.assert_running();
}

#[test]
fn code_without_unwind_info_is_named_where_the_stack_stops() {
    let fx = Fixture::spawn(nocfi_bin(), &[]);
    for (how, p) in three_ways(fx.pid()) {
        assert_eq!(p.threads().len(), 2, "{how}");
        for t in p.threads() {
            assert_eq!(
                names(t),
                ["pause", "parked_here"],
                "{how}: {:#?}",
                t.frames()
            );
            let stop = t.frames()[1].ip();
            let Some(StackEnd::NoUnwindInfo {
                module: Some(module),
                address,
            }) = t.stack_end()
            else {
                panic!("{how}: {:?}", t.stack_end());
            };
            assert!(module.ends_with("/nocfifixture"), "{how}: {module}");
            assert_eq!(*address, stop, "{how}");
            assert!(t.is_truncated(), "{how}");
            assert_eq!(
                t.end_note(),
                Some(format!(
                    "stack cut: no unwind info for {module} at {stop:#x}"
                )),
                "{how}"
            );
        }
    }
    let (code, out, err) = run_cli(&["dump", "--json", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for t in doc["threads"].as_array().unwrap() {
        assert_eq!(t["truncated"], true);
        assert_eq!(t["end"]["reason"], "no_unwind_info");
        assert!(
            t["end"]["module"]
                .as_str()
                .is_some_and(|m| m.ends_with("/nocfifixture")),
            "{t}"
        );
        assert_eq!(t["end"]["address"], t["frames"][1]["ip"]);
    }
    fx.assert_running();
}

#[test]
fn a_frameless_leaf_without_unwind_info_is_passed_through_its_return_address() {
    let fx = Fixture::spawn(frameless_bin(), &[]);
    let main = [
        "leaf_pause",
        "direct_inner",
        "main",
        "__libc_start_call_main",
    ];
    let main = [&main[..], &["__libc_start_main", "_start"]].concat();
    let direct = [
        "leaf_pause",
        "direct_inner",
        "direct_thread",
        "start_thread",
        "clone3",
    ];
    let indirect = ["leaf_pause", "indirect_thread", "start_thread", "clone3"];
    for (how, p) in three_ways(fx.pid()) {
        assert_eq!(p.threads().len(), 4, "{how}");
        for t in p.threads() {
            let what = format!("{how}, {:?}: {:#?}", t.name(), t.frames());
            let want: &[&str] = match t.name() {
                Some("direct") => &direct,
                Some("indirect") => &indirect,
                Some("pushed") => continue,
                _ => &main,
            };
            // Called directly (e8 to leaf_pause) and through a pointer (ff d0): the leaf is
            // marked, its callers are exact, and the stack reaches its root.
            assert_eq!(names(t), want, "{what}");
            let mut marked = vec![false; want.len()];
            marked[0] = true;
            assert_eq!(frameless(t), marked, "{what}");
            assert_eq!(t.stack_end(), Some(&StackEnd::Root), "{what}");
            assert!(!t.is_truncated(), "{what}");
        }
        // The word at the stack pointer is code (leaf_pushed's own address), but no call
        // precedes it: the walk ends at the leaf, as without the fallback.
        let pushed = p
            .threads()
            .iter()
            .find(|t| t.name() == Some("pushed"))
            .unwrap();
        let what = format!("{how}: {:#?}", pushed.frames());
        assert_eq!(names(pushed), ["leaf_pushed"], "{what}");
        assert_eq!(frameless(pushed), [false], "{what}");
        let leaf = pushed.frames()[0].ip();
        match pushed.stack_end() {
            Some(StackEnd::NoUnwindInfo {
                module: Some(module),
                address,
            }) => {
                assert!(module.ends_with("/framelessfixture"), "{what}");
                assert_eq!(*address, leaf, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(pushed.is_truncated(), "{how}");
    }
    // The mark in the text and the JSON (written only where it is true).
    let pid = fx.pid().to_string();
    let (code, out, err) = run_cli(&["dump", &pid]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.matches("  [frameless] leaf_pause+0x7  (").count(),
        3,
        "{out}"
    );
    assert_eq!(out.matches("[frameless]").count(), 3, "{out}");
    let (code, out, err) = run_cli(&["dump", "--json", &pid]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for t in doc["threads"].as_array().unwrap() {
        let frames = t["frames"].as_array().unwrap();
        let marked: Vec<bool> = frames
            .iter()
            .map(|f| f.get("frameless").is_some())
            .collect();
        let leaf_pause = frames[0]["symbol"] == "leaf_pause";
        assert_eq!(marked[0], leaf_pause, "{t}");
        assert!(!marked[1..].contains(&true), "{t}");
        if leaf_pause {
            assert_eq!(frames[0]["frameless"], true, "{t}");
        }
    }
    fx.assert_running();
}
