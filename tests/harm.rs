//! Tracing never harms the target. The checker fixture (tests/fixtures/checker.c) does real work
//! and counts harm (EINTR, early wakeups, lost, duplicated or reordered data, lost signals)
//! while it is traced again and again in every mode, and while `rstack-tui dump` is SIGKILLed
//! at random moments. RSTACK_HARM_TRACES, RSTACK_HARM_KILLS and RSTACK_HARM_SEED scale and
//! replay the runs (scripts/stress.sh runs the full counts).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    CHECKER_THREADS, Fixture, Report, Rng, checker_bin, env_count, traced_tasks, wait_until,
};
use rstack_tui::{AttachMethod, Process, ThreadError, TraceOptions, Tracer};

#[derive(Debug, Clone, Copy)]
struct Mode {
    name: &'static str,
    snapshot: bool,
    method: AttachMethod,
    /// Stop blocked threads too. By default rolling mode captures a thread blocked in a
    /// system call without a ptrace stop, so the stop and detach paths would see only the
    /// running threads.
    stop_blocked: bool,
}

const MODES: [Mode; 6] = [
    Mode {
        name: "rolling",
        snapshot: false,
        method: AttachMethod::Seize,
        stop_blocked: false,
    },
    Mode {
        name: "rolling+stop-blocked",
        snapshot: false,
        method: AttachMethod::Seize,
        stop_blocked: true,
    },
    Mode {
        name: "snapshot",
        snapshot: true,
        method: AttachMethod::Seize,
        stop_blocked: false,
    },
    Mode {
        name: "attach",
        snapshot: false,
        method: AttachMethod::Attach,
        stop_blocked: false,
    },
    Mode {
        name: "attach+stop-blocked",
        snapshot: false,
        method: AttachMethod::Attach,
        stop_blocked: true,
    },
    Mode {
        name: "attach+snapshot",
        snapshot: true,
        method: AttachMethod::Attach,
        stop_blocked: false,
    },
];

impl Mode {
    fn cli_args(&self) -> Vec<&'static str> {
        let mut args = Vec::new();
        if self.snapshot {
            args.push("--snapshot");
        }
        if self.method == AttachMethod::Attach {
            args.push("--ptrace-attach");
        }
        if self.stop_blocked {
            args.push("--stop-blocked");
        }
        args
    }
}

/// Sends SIGRTMIN (queued, never merged) to the checker at a steady pace until stopped; the
/// checker must count each exactly once, however the tracer held or died holding the thread.
struct Signaller {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Signaller {
    fn start(pid: u32) -> Signaller {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: kill takes plain integers.
                    let rc = unsafe { libc::kill(pid as i32, libc::SIGRTMIN()) };
                    assert_eq!(rc, 0, "kill SIGRTMIN: {}", std::io::Error::last_os_error());
                    sent.fetch_add(1, Ordering::Relaxed);
                    // Pacing, not waiting for anything: about 500 signals a second.
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Signaller {
            stop,
            sent,
            handle: Some(handle),
        }
    }

    /// Stops sending and returns how many signals were sent.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap();
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Signaller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits (bounded) until the checker has counted `sent` signals; returns its last report.
fn report_after_signals(fx: &mut Fixture, sent: u64) -> Report {
    let mut last = fx.report();
    wait_until("every signal sent to be delivered", || {
        last = fx.report();
        assert!(
            last.signals <= sent,
            "{} signals delivered, {sent} sent",
            last.signals
        );
        last.signals == sent
    });
    last
}

fn assert_clean(r: &Report, context: &str) {
    assert_eq!(
        (r.errors, r.first.as_str()),
        (0, "-"),
        "{context}: the checker saw harm"
    );
}

/// Each checker thread's body, which its stack must contain.
fn body_of(name: &str) -> &'static str {
    match name {
        "checkerfixture" => "main",
        "writer-0" | "writer-1" => "writer",
        "pipecheck" => "pipecheck",
        "filler" => "filler",
        "drainer" => "drainer",
        "nanosleep" => "nanosleeper",
        "clocksleep" => "clocksleeper",
        "condwait" => "condwaiter",
        "timerfd" => "timerreader",
        "poller" => "poller",
        "sigcount" => "sigcounter",
        "epoller" => "epoller",
        other => panic!("unexpected thread {other:?}"),
    }
}

/// Every checker thread, by name, traced with its body function on the stack.
fn assert_whole_checker(p: &Process, context: &str) {
    let mut names: Vec<&str> = p.threads().iter().filter_map(|t| t.name()).collect();
    names.sort_unstable();
    let mut expected = CHECKER_THREADS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "{context}");
    for t in p.threads() {
        let name = t.name().unwrap();
        assert_eq!(t.error(), None, "{context}: {name}");
        let body = body_of(name);
        assert!(
            t.frames()
                .iter()
                .any(|f| f.symbol().is_some_and(|s| s.name() == body)),
            "{context}: {name} has no frame in {body}: {:#?}",
            t.frames()
        );
    }
}

fn tid_named(pid: u32, name: &str) -> u32 {
    common::thread_states(pid)
        .into_iter()
        .map(|(tid, _)| tid)
        .find(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .is_ok_and(|c| c.trim_end() == name)
        })
        .unwrap_or_else(|| panic!("no thread {name:?} in {pid}"))
}

#[test]
fn checker_reports_the_harm_it_sees() {
    let mut fx = Fixture::spawn_busy(checker_bin(), &[]);
    let mut names: Vec<String> = common::thread_states(fx.pid())
        .into_iter()
        .map(|(tid, _)| {
            let comm = format!("/proc/{}/task/{tid}/comm", fx.pid());
            std::fs::read_to_string(comm)
                .unwrap()
                .trim_end()
                .to_string()
        })
        .collect();
    names.sort_unstable();
    let mut expected = CHECKER_THREADS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);

    let first = fx.report();
    assert_clean(&first, "untraced");
    wait_until("the checker to check more data", || {
        let r = fx.report();
        r.ops > first.ops && r.bytes > first.bytes
    });

    // Queued signals are each counted once.
    for _ in 0..5 {
        // SAFETY: kill takes plain integers.
        assert_eq!(unsafe { libc::kill(fx.pid() as i32, libc::SIGRTMIN()) }, 0);
    }
    assert_eq!(report_after_signals(&mut fx, 5).errors, 0);

    // SIGUSR1 runs a handler without SA_RESTART: a sleep it interrupts fails with EINTR, which
    // is the harm a tracer must never cause. (A signal that lands between two sleeps interrupts
    // nothing, hence the retries; each waits until the handler has run.)
    let tid = tid_named(fx.pid(), "nanosleep");
    let mut report = fx.report();
    for sent in 1..=50 {
        // SAFETY: tgkill takes plain integers.
        unsafe { libc::syscall(libc::SYS_tgkill, fx.pid(), tid, libc::SIGUSR1) };
        wait_until("the SIGUSR1 handler to run", || {
            report = fx.report();
            report.usr1 == sent
        });
        if report.errors > 0 {
            break;
        }
    }
    // Each error is one of our signals interrupting a sleep (the count of the last one may
    // land after the report that shows its handler ran, so a retry can add a second).
    assert!(
        report.errors >= 1 && report.errors <= report.usr1,
        "{report:?}"
    );
    assert!(
        report
            .first
            .starts_with("nanosleep: Interrupted system call ("),
        "{report:?}"
    );
    fx.assert_running();
}

#[test]
fn traced_again_and_again_in_every_mode_without_harm() {
    let traces = env_count("RSTACK_HARM_TRACES", 25);
    let mut fx = Fixture::spawn_busy(checker_bin(), &[]);
    let signaller = Signaller::start(fx.pid());
    let started = Instant::now();
    let before = fx.report();
    assert_clean(&before, "before tracing");
    let mut epintr = before.epintr;
    for mode in MODES {
        let mut options = TraceOptions::new();
        options
            .snapshot(mode.snapshot)
            .attach_method(mode.method)
            .stop_blocked(mode.stop_blocked);
        // One long-lived tracer per mode, as the inspector keeps one.
        let mut tracer = Tracer::new(options);
        for i in 0..traces {
            let p = tracer.trace(fx.pid()).unwrap();
            assert_whole_checker(&p, &format!("{} trace {i}", mode.name));
            fx.assert_running();
        }
        let r = fx.report();
        assert_clean(&r, &format!("after {traces} {} traces", mode.name));
        // epoll_wait returns EINTR after any stop of its thread: with blocked threads
        // captured without a stop (rolling mode's default) it never does.
        let eintr = r.epintr - epintr;
        if mode.snapshot || mode.stop_blocked {
            assert!(
                eintr > 0,
                "{}: the epoller was stopped, yet no EINTR",
                mode.name
            );
        } else {
            assert_eq!(eintr, 0, "{}: epoll_wait returned EINTR", mode.name);
        }
        epintr = r.epintr;
    }
    let sent = signaller.finish();
    let after = report_after_signals(&mut fx, sent);
    assert_clean(&after, "after every mode");
    assert!(after.ops > before.ops && after.bytes > before.bytes);
    eprintln!(
        "harm traces: {} snapshots taken ({traces} per mode) in {:.1} s; checker: {} ops, {} bytes checked, {} signals, {} errors",
        traces * MODES.len(),
        started.elapsed().as_secs_f64(),
        after.ops,
        after.bytes,
        after.signals,
        after.errors
    );
    fx.assert_running();
}

/// How long a dump held threads, from its JSON: the longest stop in snapshot mode, the sum of
/// the stops in rolling mode (whichever is larger), in microseconds.
fn capture_us(json: &str) -> u64 {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    let sum: u64 = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["stopped_us"].as_u64())
        .sum();
    sum.max(doc["longest_stop_us"].as_u64().unwrap())
}

/// Polls (tightly: a capture lasts milliseconds) until `dump` holds a thread of `pid` or has
/// exited.
fn wait_for_attach(pid: u32, dump: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while traced_tasks(pid).is_empty() && dump.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the dump never attached");
        std::thread::yield_now();
    }
}

#[test]
fn sigkill_of_the_tracer_at_random_moments_harms_nothing() {
    let kills = env_count("RSTACK_HARM_KILLS", 20);
    let mut rng = Rng::from_env("RSTACK_HARM_SEED");
    let mut fx = Fixture::spawn_busy(checker_bin(), &[]);
    let pid = fx.pid();
    let pid_arg = pid.to_string();
    let signaller = Signaller::start(pid);
    let started = Instant::now();
    let (mut survived, mut while_attached) = (0usize, 0usize);
    for mode in MODES {
        // DWARF lines only lengthen the dump after every thread runs again.
        let mut args = vec!["dump", pid_arg.as_str(), "--no-lines"];
        args.extend(mode.cli_args());
        // A whole dump, to spread half the kills over its length, and its capture (the time
        // threads are held), to aim the other half at it.
        let mut json_args = args.clone();
        json_args.push("--json");
        let timed = Instant::now();
        let (code, out, err) = common::run_cli(&json_args);
        assert_eq!(code, 0, "{}: {err}", mode.name);
        let span = timed.elapsed().as_micros() as u64;
        let capture = capture_us(&out);
        for i in 0..kills {
            let mut dump = common::spawn_cli(&args);
            let aimed = i % 2 == 1;
            let delay = if aimed {
                wait_for_attach(pid, &mut dump);
                Duration::from_micros(rng.below(2 * capture + 1))
            } else {
                Duration::from_micros(rng.below(span * 5 / 4 + 1))
            };
            // The random moment itself: not a wait for a condition.
            std::thread::sleep(delay);
            let attached = !traced_tasks(pid).is_empty();
            let running = dump.try_wait().unwrap().is_none();
            let watchdogs = common::children_of(dump.id());
            dump.kill().unwrap();
            dump.wait().unwrap();
            survived += usize::from(running);
            while_attached += usize::from(running && attached);
            let context = format!(
                "{} kill {i} {} us after {} (dump running: {running}, attached: {attached})",
                mode.name,
                delay.as_micros(),
                if aimed {
                    "its first attach"
                } else {
                    "its start"
                }
            );
            wait_until("the kernel to detach the dead tracer", || {
                traced_tasks(pid).is_empty()
            });
            wait_until("the dead tracer's watchdog to finish", || {
                !watchdogs.iter().any(|&w| common::is_running(w))
            });
            // The checker answers only if all of it runs: a stop left behind hangs it.
            let report = fx
                .try_report(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{context}: checker stopped: {:?}", fx.thread_states()));
            assert_clean(&report, &context);
            fx.assert_running();
        }
    }
    let sent = signaller.finish();
    let after = report_after_signals(&mut fx, sent);
    assert_clean(&after, "after every kill");
    eprintln!(
        "harm kills: {} kills ({kills} per mode), {survived} while the dump ran, {while_attached} while it was attached, in {:.1} s; checker: {} ops, {} bytes checked, {} signals, {} errors",
        kills * MODES.len(),
        started.elapsed().as_secs_f64(),
        after.ops,
        after.bytes,
        after.signals,
        after.errors
    );
    fx.assert_running();
}

#[test]
fn a_stopped_target_stays_stopped_when_the_tracer_dies() {
    let kills = env_count("RSTACK_HARM_KILLS", 20) / 2;
    let mut rng = Rng::from_env("RSTACK_HARM_SEED");
    let mut fx = Fixture::spawn_busy(checker_bin(), &[]);
    let pid = fx.pid();
    let pid_arg = pid.to_string();
    // SAFETY: kill takes plain integers.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
    let all_stopped = || fx.thread_states().iter().all(|(_, s)| *s == 'T');
    wait_until("the checker to stop", all_stopped);
    for i in 0..kills {
        // PTRACE_ATTACH queues a SIGSTOP; the watchdog must not answer it with a SIGCONT here.
        let mut args = vec!["dump", pid_arg.as_str(), "--no-lines", "--ptrace-attach"];
        if i % 2 == 1 {
            args.push("--snapshot");
        }
        let mut dump = common::spawn_cli(&args);
        wait_for_attach(pid, &mut dump);
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        let watchdogs = common::children_of(dump.id());
        dump.kill().unwrap();
        dump.wait().unwrap();
        wait_until("the kernel to detach the dead tracer", || {
            traced_tasks(pid).is_empty()
        });
        wait_until("the dead tracer's watchdog to finish", || {
            !watchdogs.iter().any(|&w| common::is_running(w))
        });
        // A detached thread passes through R on its way back into the group stop; a
        // continued one would go back to sleep (S) and never reach T.
        wait_until("every thread back in group stop", all_stopped);
    }
    eprintln!(
        "harm stopped: {kills} kills of an ATTACH dump of a stopped target, which stayed stopped"
    );
    // SAFETY: kill takes plain integers.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGCONT) }, 0);
    assert_clean(&fx.report(), "after SIGCONT");
    fx.assert_running();
}

/// Polls `dump` until it exits, collecting its children (its watchdog) while it runs.
fn wait_dump_and_watchdogs(dump: &mut std::process::Child) -> (i32, Vec<u32>) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        for c in common::children_of(dump.id()) {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        if let Some(status) = dump.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the dump never finished");
        std::thread::sleep(Duration::from_millis(1));
    };
    (status.code().unwrap_or(-1), seen)
}

/// A thread asleep in state D (a vfork parent) never reaches a ptrace stop: the tracer gives up
/// after the stop timeout and finishes (no hang), with the thread still attached. With
/// PTRACE_ATTACH our SIGSTOP is still queued on it then: it must be cancelled, or the thread
/// would stop its whole process the moment it wakes (here, instead of exiting). Blocked threads
/// are stopped on request only (by default they are captured without a stop), so ask.
#[test]
fn a_thread_that_never_stopped_is_not_stopped_later() {
    for (in_process, method) in [
        (false, AttachMethod::Attach),
        (false, AttachMethod::Seize),
        (true, AttachMethod::Attach),
        (true, AttachMethod::Seize),
    ] {
        let context = format!("in process: {in_process}, {method:?}");
        let mut fx = Fixture::spawn_busy(common::threads_bin(), &["vfork"]);
        let pid = fx.pid();
        let started = Instant::now();
        if in_process {
            // On a thread of its own, which exits (and gives up its ptrace hold) afterwards.
            std::thread::spawn(move || {
                let p = TraceOptions::new()
                    .attach_method(method)
                    .stop_blocked(true)
                    .stop_timeout(Duration::from_millis(200))
                    .lines(false)
                    .trace(pid)
                    .unwrap();
                let vforker = p
                    .threads()
                    .iter()
                    .find(|t| t.name() == Some("vforker"))
                    .unwrap();
                assert!(
                    vforker.error()
                        == Some(&ThreadError::StopTimeout {
                            timeout: Duration::from_millis(200)
                        }),
                    "{:?}",
                    vforker.error()
                );
            })
            .join()
            .unwrap();
        } else {
            let mut args = vec![
                "dump",
                "--stop-timeout-ms",
                "200",
                "--no-lines",
                "--stop-blocked",
            ];
            if method == AttachMethod::Attach {
                args.push("--ptrace-attach");
            }
            let pid_arg = pid.to_string();
            args.push(&pid_arg);
            let mut dump = common::spawn_cli(&args);
            let (code, watchdogs) = wait_dump_and_watchdogs(&mut dump);
            assert_eq!(code, 1, "{context}: exit code of a partial dump");
            assert_eq!(
                watchdogs.len(),
                usize::from(method == AttachMethod::Attach),
                "{context}: watchdogs {watchdogs:?}"
            );
            wait_until("the dump's watchdog to finish", || {
                !watchdogs.iter().any(|&w| common::is_running(w))
            });
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{context}: the tracer took {:?}",
            started.elapsed()
        );
        wait_until("the tracer's hold to end", || traced_tasks(pid).is_empty());
        // Wake the vforker: its child dies, vfork returns, and the fixture calls _exit(3).
        let children = common::children_of(pid);
        assert_eq!(children.len(), 1, "{context}: vfork children {children:?}");
        // SAFETY: kill takes plain integers.
        assert_eq!(unsafe { libc::kill(children[0] as i32, libc::SIGKILL) }, 0);
        assert_eq!(
            fx.exit_code_within(Duration::from_secs(10)),
            Some(3),
            "{context}: the fixture did not exit: {:?}",
            fx.thread_states()
        );
    }
}
