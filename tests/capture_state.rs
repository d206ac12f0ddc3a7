//! The state shown with each thread is the one of its capture: a fixture whose threads flip
//! between spinning and sleeping (tests/fixtures/flipper.c) is traced many times, and no
//! thread whose stack sits at its sleep's system call is shown plainly running, nor a thread
//! shown asleep with a stack that is not at its call.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Fixture, flipper_bin};
use rstack_tui::{Process, TraceOptions, Tracer};

/// clock_nanosleep, and restart_syscall: a sleep an earlier trace's stop interrupted resumes
/// as that call.
const SLEEPS: [i64; 2] = [230, 219];

fn is_sleep(call: Option<i64>) -> bool {
    call.is_some_and(|n| SLEEPS.contains(&n))
}

/// One flip thread of one trace: state, state before, syscall, leaving, top frame.
#[derive(Debug)]
struct Sample {
    tid: u32,
    state: Option<char>,
    before: Option<char>,
    syscall: Option<i64>,
    /// The call the thread was leaving (`Some(None)`: just back from an unnamed one).
    leaving: Option<Option<i64>>,
    top_ip: u64,
    top: String,
}

fn samples(p: &Process) -> Vec<Sample> {
    p.threads()
        .iter()
        .filter(|t| t.name().is_some_and(|n| n.starts_with("flip-")))
        .filter(|t| t.error().is_none() && !t.frames().is_empty())
        .map(|t| {
            let f = t.facts();
            let top = &t.frames()[0];
            Sample {
                tid: t.id(),
                state: f.state,
                before: f.state_before,
                syscall: f.syscall.as_ref().map(|s| s.number),
                leaving: f
                    .leaving
                    .as_ref()
                    .map(|l| l.call.as_ref().map(|s| s.number)),
                top_ip: top.ip(),
                top: top
                    .symbol()
                    .map(|s| s.name().to_string())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[test]
fn state_is_read_with_the_capture() {
    let fx = Fixture::spawn_busy(flipper_bin(), &[]);
    let mut rolling = Tracer::new(TraceOptions::new());
    let mut snapshot = Tracer::new(TraceOptions::new().snapshot(true).clone());
    let mut all = Vec::new();
    let started = Instant::now();
    let mut traces = 0;
    // At least 200 traces, and on until one thread was caught otherwise than /proc showed it
    // just before (the case this is about) and threads were seen both spinning and asleep,
    // within bounds.
    let seen = |all: &[Sample]| {
        all.iter().any(|s| s.before.is_some())
            && all.iter().any(|s| s.top == "spin")
            && all.iter().any(|s| s.state == Some('S'))
    };
    while traces < 200 || !seen(&all) {
        assert!(
            traces < 4000 && started.elapsed() < Duration::from_secs(120),
            "in {traces} traces, not every case was caught: a thread in another state than \
             read just before, one spinning, one asleep"
        );
        let tracer = if traces % 4 == 3 {
            &mut snapshot
        } else {
            &mut rolling
        };
        let p = tracer.trace(fx.pid()).expect("trace");
        all.extend(samples(&p));
        traces += 1;
    }
    fx.assert_running();

    // The addresses a sleep's system call returns to: where a thread blocked in it or leaving
    // it has its innermost frame.
    let at_call: HashSet<u64> = all
        .iter()
        .filter(|s| is_sleep(s.syscall) || s.leaving.is_some_and(is_sleep))
        .map(|s| s.top_ip)
        .collect();
    assert!(!at_call.is_empty(), "no thread seen in clock_nanosleep");
    for s in &all {
        assert!(
            s.top != "spin" || (s.state == Some('R') && s.syscall.is_none() && s.leaving.is_none()),
            "spinning but not shown running: {s:?}"
        );
        if at_call.contains(&s.top_ip) {
            let asleep = matches!(s.state, Some('S' | 'D')) && is_sleep(s.syscall);
            // Leaving it: still in the call's exit, or back at the instruction after it.
            let leaving =
                s.state == Some('R') && s.leaving.is_some_and(|l| l.is_none() || is_sleep(l));
            assert!(asleep || leaving, "at its sleep's call, shown as {s:?}");
            assert!(s.top.contains("nanosleep"), "{s:?}");
        }
        if matches!(s.state, Some('S' | 'D')) {
            assert!(is_sleep(s.syscall), "{s:?}");
            assert!(
                at_call.contains(&s.top_ip),
                "asleep away from its call: {s:?}"
            );
        }
        if let Some(before) = s.before {
            assert_ne!(Some(before), s.state, "{s:?}");
        }
    }
    let spinning = all.iter().filter(|s| s.top == "spin").count();
    let asleep = all.iter().filter(|s| s.state == Some('S')).count();
    let changed = all.iter().filter(|s| s.before.is_some()).count();
    let leaving = all.iter().filter(|s| s.leaving.is_some()).count();
    eprintln!(
        "{traces} traces, {} samples: {spinning} spinning, {asleep} asleep, {leaving} leaving their sleep, {changed} caught in another state than read just before",
        all.len()
    );
    let tids: HashSet<u32> = all.iter().map(|s| s.tid).collect();
    assert_eq!(tids.len(), 4, "every flip thread sampled");
}
