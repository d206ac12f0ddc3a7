//! The two unwinders agree. On every fixture, capture-then-unwind (from a blocked thread's
//! registers as /proc shows them, or from a ptrace stop) gives exactly the frames that
//! libunwind's ptrace accessors give while the thread is stopped; and a stack copy too short
//! for a deep thread says so instead of guessing.

mod common;

use std::collections::BTreeMap;

use common::trace_with;
use common::{Fixture, cpp_bin, deadlock_bin, frames_with_prefix, threads_bin};
use rstack_tui::{Process, TraceOptions, UnwindMethod};

/// Each thread's physical frames (ip, signal frame?), and whether the walk was cut short.
type Walks = BTreeMap<u32, (Vec<(u64, bool)>, bool)>;

fn walks(p: &Process) -> Walks {
    p.threads()
        .iter()
        .map(|t| {
            let frames = t
                .frames()
                .iter()
                .filter(|f| !f.is_inlined())
                .map(|f| (f.ip(), f.is_signal()))
                .collect();
            (t.id(), (frames, t.is_truncated()))
        })
        .collect()
}

/// Traces `fx` three ways and asserts the same frames for every thread. `unstopped`: every
/// thread is blocked in code whose unwind needs no callee-saved register (C without frame
/// pointers), so the default capture never stops one. Rust's std is built with frame pointers:
/// its frames need RBP, which /proc does not show, so those threads are stopped after all.
fn assert_unwinders_agree(fx: &Fixture, min_frames: usize, unstopped: bool) {
    let reference = trace_with(fx.pid(), UnwindMethod::Ptrace, false);
    let blocked = trace_with(fx.pid(), UnwindMethod::Copy, false);
    let stopped = trace_with(fx.pid(), UnwindMethod::Copy, true);
    let want = walks(&reference);
    assert!(want.len() >= 3, "{want:?}");
    for (tid, (frames, _)) in &want {
        assert!(frames.len() >= min_frames, "thread {tid}: {frames:x?}");
    }
    // Blocked threads were captured without a stop; with stop_blocked every one was stopped.
    if unstopped {
        assert!(blocked.threads().iter().all(|t| t.stopped_for().is_zero()));
    }
    assert!(stopped.threads().iter().all(|t| !t.stopped_for().is_zero()));
    assert_eq!(
        walks(&blocked),
        want,
        "copy (blocked, not stopped) vs ptrace"
    );
    assert_eq!(walks(&stopped), want, "copy (stopped) vs ptrace");
    fx.assert_running();
}

#[test]
fn rust_fixture_same_frames_both_ways() {
    let fx = Fixture::spawn(threads_bin(), &["park", "4"]);
    assert_unwinders_agree(&fx, 5, false);
}

#[test]
fn inlined_frames_same_both_ways() {
    let fx = Fixture::spawn(threads_bin(), &["inline"]);
    assert_unwinders_agree(&fx, 5, false);
}

#[test]
fn deep_stack_and_signal_frame_same_both_ways() {
    let fx = Fixture::spawn(threads_bin(), &["deep", "300"]);
    assert_unwinders_agree(&fx, 5, false);
    let p = trace_with(fx.pid(), UnwindMethod::Copy, false);
    let by_name = |name: &str| {
        p.threads()
            .iter()
            .find(|t| t.name() == Some(name))
            .unwrap_or_else(|| panic!("no thread {name}"))
    };
    let deep = by_name("deep");
    let recursion = frames_with_prefix(deep, "threads_fixture::recurse");
    assert_eq!(recursion.len(), 301, "{recursion:?}");
    assert!(!deep.is_truncated());
    let sig = by_name("sigparked");
    let names = frames_with_prefix(sig, "threads_fixture::");
    assert_eq!(
        names,
        [
            "threads_fixture::park",
            "threads_fixture::park_in_handler",
            "threads_fixture::raise_and_park"
        ],
        "{:#?}",
        sig.frames()
    );
    assert!(
        sig.frames().iter().any(|f| f.is_signal()),
        "{:#?}",
        sig.frames()
    );
}

#[test]
fn cpp_fixture_same_frames_both_ways() {
    let fx = Fixture::spawn(cpp_bin(), &["3"]);
    assert_unwinders_agree(&fx, 5, true);
}

#[test]
fn c_fixture_same_frames_both_ways() {
    let fx = Fixture::spawn(deadlock_bin(), &[]);
    assert_unwinders_agree(&fx, 3, true);
}

#[test]
fn a_short_stack_copy_says_so() {
    let fx = Fixture::spawn(threads_bin(), &["deep", "300"]);
    let full = trace_with(fx.pid(), UnwindMethod::Ptrace, false);
    for stop_blocked in [false, true] {
        let p = TraceOptions::new()
            .stack_copy_limit(16 * 1024)
            .stop_blocked(stop_blocked)
            .trace(fx.pid())
            .unwrap();
        let deep = p
            .threads()
            .iter()
            .find(|t| t.name() == Some("deep"))
            .unwrap();
        let reference = full.threads().iter().find(|t| t.id() == deep.id()).unwrap();
        let got = walks(&p)[&deep.id()].0.clone();
        let want = walks(&full)[&deep.id()].0.clone();
        // 300 frames of 512 bytes do not fit in 16 KiB: the walk stops where the copy ends,
        // marked truncated, with every frame it gives the same as the reference's.
        assert!(deep.is_truncated(), "{:#?}", deep.frames());
        assert!(
            got.len() > 5 && got.len() < want.len(),
            "{} of {}",
            got.len(),
            want.len()
        );
        assert_eq!(got[..], want[..got.len()]);
        let note = deep.end_note().unwrap_or_default();
        assert!(
            note.contains("stack copy (16 KiB) ends before the stack"),
            "{note}"
        );
        assert!(!reference.is_truncated());
        // Shallow threads fit and are complete.
        let worker = p
            .threads()
            .iter()
            .find(|t| t.name() == Some("worker-0"))
            .unwrap();
        assert!(!worker.is_truncated());
    }
    fx.assert_running();
}

/// libunwind's `sigprocmask` calls (two per frame, as Debian builds it) reach the binary's
/// own, which skips them while unwinding: the binary must export it for that.
#[test]
fn binary_exports_its_sigprocmask() {
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_rstack-tui")).unwrap();
    let file = object::File::parse(bytes.as_slice()).unwrap();
    let exported = file
        .dynamic_symbols()
        .any(|s| s.name() == Ok("sigprocmask") && s.is_definition());
    assert!(
        exported,
        "sigprocmask is not in the binary's dynamic symbols"
    );
}
