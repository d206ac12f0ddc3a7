//! The tracer on real processes: the Rust fixture's threads, names and exact call chains in
//! both modes, the attach variants, threads and processes that come and go, and stopped
//! processes. Every test checks the fixture is left running (or stopped, if it was).

mod common;

use std::time::Duration;

use common::{
    Fixture, assert_parked_fixture, expected_worker_chain, frames_with_prefix, threads_bin,
    wait_until,
};
use nix::sys::ptrace;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rstack_tui::{
    AttachMethod, Error, Mode, ModuleProblem, ThreadError, TraceOptions, Tracer, UnwindMethod,
};

#[test]
fn rolling_mode_gives_exact_names_and_frames() {
    let fx = Fixture::spawn(threads_bin(), &["park", "6"]);
    let p = rstack_tui::trace(fx.pid()).unwrap();
    assert_eq!(p.mode(), Mode::Rolling);
    assert!(p.command().contains("rsfixture park 6"), "{}", p.command());
    assert_parked_fixture(&p, 6);
    for t in p.threads() {
        // Read before the thread was stopped: every thread sleeps in futex.
        assert_eq!(t.facts().state, Some('S'), "thread {}", t.id());
        assert_eq!(
            t.facts().syscall.as_ref().and_then(|s| s.name()),
            Some("futex"),
            "thread {}",
            t.id()
        );
        assert!(t.stopped_for() > Duration::ZERO);
    }
    // Symbols carry consistent addresses: ip = address + offset, inside the symbol's size.
    for f in p.threads()[1].frames() {
        if let Some(s) = f.symbol() {
            assert_eq!(s.address() + s.offset(), f.ip());
            assert!(s.size() == 0 || s.offset() <= s.size(), "{s:?}");
        }
        assert!(f.module().is_some(), "frame {:#x} has no module", f.ip());
    }
    fx.assert_running();
}

#[test]
fn threads_on_the_same_stack_share_one_copy_of_its_frames() {
    // Worker i parks at depth 1 + i % 3: workers 0, 3, 6 and 9 on one stack, and so on.
    let fx = Fixture::spawn(threads_bin(), &["park", "12"]);
    let p = rstack_tui::trace(fx.pid()).unwrap();
    let worker = |i: usize| {
        let name = format!("worker-{i}");
        let t = p.threads().iter().find(|t| t.name() == Some(name.as_str()));
        t.unwrap_or_else(|| panic!("{name}")).frames()
    };
    for i in 0..12 {
        let (same, other) = (worker(i % 3), worker((i + 1) % 3));
        assert_eq!(worker(i), same);
        assert!(
            std::ptr::eq(worker(i), same),
            "worker-{i} has a copy of its frames"
        );
        assert_ne!(worker(i), other);
        assert_eq!(
            frames_with_prefix(
                p.threads()
                    .iter()
                    .find(|t| t.frames().as_ptr() == worker(i).as_ptr())
                    .unwrap(),
                "threads_fixture::"
            ),
            expected_worker_chain(i)
        );
    }
    fx.assert_running();
}

#[test]
fn snapshot_mode_with_200_threads() {
    let fx = Fixture::spawn(threads_bin(), &["park", "200"]);
    let p = TraceOptions::new().snapshot(true).trace(fx.pid()).unwrap();
    assert_eq!(p.mode(), Mode::Snapshot);
    assert_parked_fixture(&p, 200);
    // All threads were held together: the stop window covers every thread's stop.
    let max_thread_stop = p.threads().iter().map(|t| t.stopped_for()).max().unwrap();
    assert!(p.longest_stop() >= max_thread_stop);
    fx.assert_running();
}

#[test]
fn rolling_mode_with_200_threads() {
    let fx = Fixture::spawn(threads_bin(), &["park", "200"]);
    let p = rstack_tui::trace(fx.pid()).unwrap();
    assert_parked_fixture(&p, 200);
    fx.assert_running();
}

#[test]
fn ptrace_attach_method_gives_the_same_stacks() {
    let fx = Fixture::spawn(threads_bin(), &["park", "5"]);
    for snapshot in [false, true] {
        let p = TraceOptions::new()
            .attach_method(AttachMethod::Attach)
            .snapshot(snapshot)
            .trace(fx.pid())
            .unwrap();
        assert_parked_fixture(&p, 5);
        fx.assert_running();
    }
}

#[test]
fn names_and_symbols_can_be_turned_off() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let p = TraceOptions::new()
        .thread_names(false)
        .symbols(false)
        .trace(fx.pid())
        .unwrap();
    assert_eq!(p.threads().len(), 4);
    for t in p.threads() {
        assert_eq!(t.name(), None);
        assert!(t.frames().len() > 3);
        assert!(t.frames().iter().all(|f| f.symbol().is_none()));
        assert!(t.frames().iter().all(|f| f.module().is_some()));
    }
    fx.assert_running();
}

/// Every thread of a process, seized and stopped by the test thread itself; detached on drop
/// (before the fixture is killed, so a failing test cannot leave a traced zombie behind).
struct Seized(Vec<Pid>);

impl Seized {
    fn all(pid: u32) -> Seized {
        let tids: Vec<Pid> = common::thread_states(pid)
            .into_iter()
            .map(|(t, _)| Pid::from_raw(t as i32))
            .collect();
        let mut seized = Seized(Vec::new());
        for &tid in &tids {
            ptrace::seize(tid, ptrace::Options::empty()).unwrap();
            seized.0.push(tid);
            ptrace::interrupt(tid).unwrap();
        }
        for &tid in &tids {
            let status = waitpid(tid, Some(WaitPidFlag::__WALL)).unwrap();
            assert!(matches!(status, WaitStatus::PtraceEvent(..)), "{status:?}");
        }
        seized
    }
}

impl Seized {
    fn one(tid: u32) -> Seized {
        let tid = Pid::from_raw(tid as i32);
        ptrace::seize(tid, ptrace::Options::empty()).unwrap();
        let seized = Seized(vec![tid]);
        ptrace::interrupt(tid).unwrap();
        waitpid(tid, Some(WaitPidFlag::__WALL)).unwrap();
        seized
    }
}

impl Drop for Seized {
    fn drop(&mut self) {
        for &tid in &self.0 {
            let _ = ptrace::detach(tid, None);
        }
    }
}

fn my_tid() -> u32 {
    nix::unistd::gettid().as_raw() as u32
}

#[test]
fn caller_attached_uses_the_callers_attachment() {
    let fx = Fixture::spawn(threads_bin(), &["park", "4"]);
    let seized = Seized::all(fx.pid());
    let result = TraceOptions::new().caller_attached(true).trace(fx.pid());
    // Still ours and still stopped: the tracer neither detached nor resumed them.
    assert_eq!(common::tracer_pid(fx.pid()), my_tid());
    assert!(fx.thread_states().iter().all(|(_, s)| *s == 't'));
    drop(seized);
    assert_parked_fixture(&result.unwrap(), 4);
    fx.assert_running();
}

/// The `rstack` crate's spelling of the same option.
#[test]
fn ptrace_attach_false_is_caller_attached() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let seized = Seized::all(fx.pid());
    let result = TraceOptions::new().ptrace_attach(false).trace(fx.pid());
    assert_eq!(common::tracer_pid(fx.pid()), my_tid());
    drop(seized);
    assert_parked_fixture(&result.unwrap(), 2);
    fx.assert_running();
}

#[test]
fn already_traced_process_is_refused_with_the_tracer_named() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let seized = Seized::all(fx.pid());
    let err = rstack_tui::trace(fx.pid()).unwrap_err();
    drop(seized);
    match err {
        Error::AlreadyTraced {
            pid, tracer_pid, ..
        } => {
            assert_eq!(pid as u32, fx.pid());
            assert_eq!(tracer_pid as u32, my_tid());
        }
        other => panic!("expected AlreadyTraced, got {other:?}"),
    }
    fx.assert_running();
}

#[test]
fn stopped_process_stays_stopped_and_can_be_inspected() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let pid = Pid::from_raw(fx.pid() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    wait_until("the fixture to stop", || {
        fx.thread_states().iter().all(|(_, s)| *s == 'T')
    });
    for (method, snapshot) in [
        (AttachMethod::Seize, false),
        (AttachMethod::Seize, true),
        (AttachMethod::Attach, false),
    ] {
        let p = TraceOptions::new()
            .attach_method(method)
            .snapshot(snapshot)
            .trace(fx.pid())
            .unwrap();
        assert_parked_fixture(&p, 3);
        assert!(p.threads().iter().all(|t| t.facts().state == Some('T')));
        // A detached thread passes through R on its way back into the group stop; one that
        // really ran on would go back to sleep in its futex (S) and never reach T.
        wait_until("every thread back in group stop", || {
            fx.thread_states().iter().all(|(_, s)| *s == 'T')
        });
        assert_eq!(common::tracer_pid(fx.pid()), 0);
    }
    kill(pid, Signal::SIGCONT).unwrap();
    wait_until("the fixture to run again", || {
        fx.thread_states().iter().all(|(_, s)| *s == 'S')
    });
    fx.assert_running();
}

#[test]
fn churning_threads_traced_200_times() {
    let fx = Fixture::spawn_busy(threads_bin(), &["churn"]);
    let mut tracer = Tracer::new(TraceOptions::new());
    for round in 0..200 {
        if round == 100 {
            tracer.options_mut().snapshot(true);
        }
        let p = tracer
            .trace(fx.pid())
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let workers: Vec<_> = p
            .threads()
            .iter()
            .filter(|t| t.name().is_some_and(|n| n.starts_with("worker-")))
            .collect();
        assert_eq!(workers.len(), 2, "round {round}");
        for t in workers {
            let i: usize = t.name().unwrap()["worker-".len()..].parse().unwrap();
            assert_eq!(
                frames_with_prefix(t, "threads_fixture::"),
                expected_worker_chain(i),
                "round {round}"
            );
        }
        for t in p.threads() {
            assert_eq!(
                t.error(),
                None,
                "round {round}, thread {} {:?}",
                t.id(),
                t.name()
            );
        }
        fx.assert_running();
    }
}

#[test]
fn process_exiting_mid_trace_gives_threads_or_a_clean_error() {
    for snapshot in [false, true] {
        let fx = Fixture::spawn_busy(threads_bin(), &["exit", "5"]);
        let mut tracer = Tracer::new(TraceOptions::new());
        tracer.options_mut().snapshot(snapshot);
        let mut traced = 0;
        loop {
            match tracer.trace(fx.pid()) {
                Ok(p) => {
                    traced += 1;
                    assert!(!p.threads().is_empty());
                }
                Err(
                    Error::ProcessExited { .. }
                    | Error::NoSuchProcess { .. }
                    | Error::Zombie { .. },
                ) => break,
                Err(other) => panic!("unexpected error after {traced} traces: {other:?}"),
            }
        }
    }
}

#[test]
fn bad_pids_give_their_errors() {
    assert!(matches!(
        rstack_tui::trace(0),
        Err(Error::NoSuchProcess { pid: 0 })
    ));
    assert!(matches!(
        rstack_tui::trace(0x3fff_ffff),
        Err(Error::NoSuchProcess { .. })
    ));
    assert!(matches!(
        rstack_tui::trace(u32::MAX),
        Err(Error::NoSuchProcess { .. })
    ));
    assert!(matches!(
        rstack_tui::trace(std::process::id()),
        Err(Error::TracingSelf { .. })
    ));
    assert!(matches!(
        rstack_tui::trace(2),
        Err(Error::KernelThread { pid: 2, .. })
    ));
    // One of our own threads names our process too.
    let tid = nix::unistd::gettid().as_raw() as u32;
    assert!(matches!(
        rstack_tui::trace(tid),
        Err(Error::TracingSelf { .. })
    ));
}

#[test]
fn zombie_is_refused() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    wait_until("the child to become a zombie", || {
        common::thread_states(pid)
            .first()
            .is_some_and(|(_, s)| *s == 'Z')
    });
    let err = rstack_tui::trace(pid).unwrap_err();
    child.wait().unwrap();
    assert!(matches!(err, Error::Zombie { .. }), "{err:?}");
}

#[test]
fn errors_have_sources_and_hints() {
    let e = Error::PermissionDenied {
        pid: 1,
        scope: "kernel.yama.ptrace_scope=1".into(),
        source: std::io::Error::from_raw_os_error(1),
    };
    let msg = e.to_string();
    assert!(
        msg.contains("root")
            && msg.contains("CAP_SYS_PTRACE")
            && msg.contains("kernel.yama.ptrace_scope"),
        "{msg}"
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn long_lived_tracer_keeps_its_symbol_cache() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let mut tracer = Tracer::new(TraceOptions::new());
    let first = tracer.trace(fx.pid()).unwrap();
    let cached = tracer.cached_modules();
    assert!(cached >= 2, "fixture and libc at least: {cached}");
    let second = tracer.trace(fx.pid()).unwrap();
    assert_eq!(tracer.cached_modules(), cached);
    assert_parked_fixture(&first, 2);
    assert_parked_fixture(&second, 2);
    fx.assert_running();
}

#[test]
fn error_with_threads_held_resumes_them() {
    // One worker is held by the test, so a snapshot stops the others, then meets the refusal.
    let fx = Fixture::spawn(threads_bin(), &["park", "4"]);
    let last = *common::thread_states(fx.pid())
        .iter()
        .map(|(t, _)| t)
        .max()
        .unwrap();
    let seized = Seized::one(last);
    let err = TraceOptions::new()
        .snapshot(true)
        .trace(fx.pid())
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyTraced { .. }), "{err:?}");
    for (tid, state) in fx.thread_states() {
        assert!(
            tid == last || !matches!(state, 't' | 'T'),
            "thread {tid} left in {state}"
        );
    }
    drop(seized);
    fx.assert_running();
}

#[test]
fn panic_with_threads_held_resumes_them() {
    let fx = Fixture::spawn(threads_bin(), &["park", "6"]);
    let result = std::panic::catch_unwind(|| {
        TraceOptions::new()
            .snapshot(true)
            .panic_after_stops_for_tests(4)
            .trace(fx.pid())
    });
    assert!(result.is_err(), "the hook should have panicked");
    fx.assert_running();
    // The tracer is usable again afterwards.
    assert_parked_fixture(&rstack_tui::trace(fx.pid()).unwrap(), 6);
}

#[test]
fn frame_limit_bounds_the_walk() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let p = TraceOptions::new().max_frames(3).trace(fx.pid()).unwrap();
    for t in p.threads() {
        // The limit counts physical frames; inlined functions come on top.
        let physical = t.frames().iter().filter(|f| !f.is_inlined()).count();
        assert_eq!(physical, 3, "thread {}", t.id());
        assert!(t.is_truncated());
    }
    fx.assert_running();
}

#[test]
fn deleted_binary_still_resolves_through_map_files() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("deleted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("rsfixture");
    std::fs::copy(threads_bin(), &copy).unwrap();
    let fx = Fixture::spawn(&copy, &["park", "2"]);
    std::fs::remove_file(&copy).unwrap();
    // And a different file in its place, which must not be used for symbols.
    std::fs::write(&copy, b"not an ELF file").unwrap();
    let p = rstack_tui::trace(fx.pid()).unwrap();
    assert_parked_fixture(&p, 2);
    let module = p.threads()[1]
        .frames()
        .iter()
        .find_map(|f| f.module().filter(|m| m.path.contains("rsfixture")))
        .unwrap();
    assert!(
        module.path.ends_with("rsfixture (deleted)"),
        "{}",
        module.path
    );
    fx.assert_running();
    drop(fx);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn signals_arriving_while_attached_are_delivered_once() {
    let fx = Fixture::spawn(threads_bin(), &["signals"]);
    let pid = fx.pid();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traced = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let tracing = {
        let stop = stop.clone();
        let traced = traced.clone();
        std::thread::spawn(move || {
            let mut traces = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (method, snapshot) in [
                    (AttachMethod::Attach, false),
                    (AttachMethod::Attach, true),
                    (AttachMethod::Seize, false),
                ] {
                    // No DWARF lines: a fresh tracer would load them on every trace, and
                    // the traces must overlap the signals.
                    let p = TraceOptions::new()
                        .attach_method(method)
                        .snapshot(snapshot)
                        .lines(false)
                        .trace(pid)
                        .unwrap();
                    assert_eq!(p.threads().len(), 3);
                    traces += 1;
                    traced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            traces
        })
    };
    // Each SIGUSR1 must reach the handler exactly once, whether or not a tracer held the
    // thread that took it (and swallowed, then re-injected, it).
    const SIGNALS: usize = 200;
    // The first trace (a fresh tracer parses the modules) must not be outrun by all the
    // signals, or none would arrive while attached.
    wait_until("a first trace", || {
        traced.load(std::sync::atomic::Ordering::Relaxed) > 0
    });
    for i in 0..SIGNALS {
        kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).unwrap();
        assert_eq!(fx.next_line(), "usr1", "signal {i}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let traces = tracing.join().unwrap();
    assert!(traces > 0);
    kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).unwrap();
    assert_eq!(fx.next_line(), "usr1");
    assert_eq!(fx.pending_line(), None, "a signal was delivered twice");
    fx.assert_running();
}

#[test]
fn thread_that_cannot_stop_is_reported_and_the_rest_traced() {
    let fx = Fixture::spawn_busy(threads_bin(), &["vfork"]);
    // Blocked threads are captured without a ptrace stop, so by default even a thread in D
    // gets its stack: the vfork call, then the fixture's function.
    let (code, out, err) =
        common::run_cli(&["dump", &fx.pid().to_string(), "--stop-timeout-ms", "200"]);
    assert_eq!(code, 0, "{err}");
    let block = out
        .split("\n\n")
        .find(|b| b.contains("\"vforker\" (D disk sleep"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(block.contains("threads_fixture::vfork_and_wait"), "{block}");
    // A thread that must be stopped (ptrace unwinding, or --stop-blocked) and cannot be is
    // reported through the CLI (whose exit releases its hold on the thread): exit code 1,
    // and stderr says which thread.
    let (code, out, err) = common::run_cli(&[
        "dump",
        &fx.pid().to_string(),
        "--stop-timeout-ms",
        "200",
        "--stop-blocked",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("\"vforker\" (D disk sleep"), "{out}");
    assert!(
        err.contains("not traced: not stopped within 200 ms"),
        "{err}"
    );
    for snapshot in [false, true] {
        let p = TraceOptions::new()
            .snapshot(snapshot)
            .unwind_method(UnwindMethod::Ptrace)
            .stop_timeout(Duration::from_millis(200))
            .trace(fx.pid())
            .unwrap();
        assert!(!p.is_complete());
        let vforker = p
            .threads()
            .iter()
            .find(|t| t.name() == Some("vforker"))
            .unwrap();
        assert_eq!(vforker.facts().state, Some('D'));
        assert_eq!(
            vforker.facts().syscall.as_ref().and_then(|s| s.name()),
            Some("vfork")
        );
        // The first trace gives up after 200 ms; the second finds it still pending from the
        // first (ptrace ties it to this thread) and says so.
        let expected = if snapshot {
            ThreadError::StillStopping
        } else {
            ThreadError::StopTimeout {
                timeout: Duration::from_millis(200),
            }
        };
        assert_eq!(vforker.error(), Some(&expected));
        assert!(vforker.frames().is_empty());
        for t in p
            .threads()
            .iter()
            .filter(|t| t.name().is_some_and(|n| n.starts_with("worker-")))
        {
            let i: usize = t.name().unwrap()["worker-".len()..].parse().unwrap();
            assert_eq!(
                frames_with_prefix(t, "threads_fixture::"),
                expected_worker_chain(i)
            );
        }
        for (tid, state) in fx.thread_states() {
            assert!(
                state == 'S' || tid == vforker.id(),
                "thread {tid} in {state}"
            );
        }
    }
}

/// A live view traces the same process again and again: a thread blocked in a system call
/// whose scheduler run record has not changed since the last trace has not run, and keeps its
/// stack; one that ran is captured again (never a stale stack).
#[test]
fn a_thread_that_did_not_run_keeps_its_stack_and_one_that_moved_is_traced_again() {
    let mut fx = Fixture::spawn(common::mover_bin(), &[]);
    let mut tracer = Tracer::new(TraceOptions::new());
    let stage = |p: &rstack_tui::Process| -> Vec<String> {
        let mover = p
            .threads()
            .iter()
            .find(|t| t.name() == Some("mover"))
            .unwrap();
        frames_with_prefix(mover, "stage_")
    };
    let parked = |p: &rstack_tui::Process| -> Vec<(u32, Vec<u64>)> {
        p.threads()
            .iter()
            .filter(|t| t.name().is_some_and(|n| n.starts_with("parked-")))
            .map(|t| (t.id(), t.frames().iter().map(|f| f.ip()).collect()))
            .collect()
    };
    fx.wait_all_asleep();
    let first = tracer.trace(fx.pid()).unwrap();
    assert_eq!(first.threads().len(), 6);
    assert_eq!(first.timings().reused, 0);
    assert_eq!(stage(&first), ["stage_one"]);
    assert_eq!(parked(&first).len(), 4);
    assert!(parked(&first).iter().all(|(_, f)| f.len() >= 4));

    // Nothing ran: every thread is carried over, unchanged.
    let second = tracer.trace(fx.pid()).unwrap();
    assert_eq!(second.timings().reused, 6);
    assert_eq!(second.threads(), first.threads());

    // The mover (and the main thread, which read the line) ran: traced again, in its new
    // stage; the parked threads are still carried over.
    fx.send_line("go");
    assert_eq!(fx.next_line(), "moved");
    let third = tracer.trace(fx.pid()).unwrap();
    assert_eq!(stage(&third), ["stage_two"]);
    assert_eq!(third.timings().reused, 4);
    assert_eq!(parked(&third), parked(&first));

    // A parked thread renamed by another (it did not run) keeps its stack under its new name.
    fx.send_line("rename");
    assert_eq!(fx.next_line(), "renamed");
    let fourth = tracer.trace(fx.pid()).unwrap();
    // The parked threads at least (the mover too, if it was parked by the third trace).
    assert!(fourth.timings().reused >= 4, "{:?}", fourth.timings());
    let renamed: Vec<_> = fourth
        .threads()
        .iter()
        .filter(|t| t.name() == Some("renamed-0"))
        .collect();
    assert_eq!(renamed.len(), 1);
    let before = first.threads().iter().find(|t| t.id() == renamed[0].id());
    assert_eq!(before.and_then(|t| t.name()), Some("parked-0"));
    assert_eq!(renamed[0].frames(), before.unwrap().frames());
    // Carried over, not read again: the same frames as the third trace's, shared.
    let third_same = third
        .threads()
        .iter()
        .find(|t| t.id() == renamed[0].id())
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &renamed[0].shared_frames(),
        &third_same.shared_frames()
    ));
    fx.assert_running();
}

/// The notes on modules without symbols stay in a trace whose threads were all carried over
/// from the previous one (they come from the symbolization that trace skipped).
#[test]
fn notes_on_modules_survive_carried_over_stacks() {
    let stripped = std::env::temp_dir().join(format!("moverstripped{}", std::process::id()));
    std::fs::copy(common::mover_bin(), &stripped).unwrap();
    let status = std::process::Command::new("strip")
        .arg("--strip-all")
        .arg(&stripped)
        .status()
        .unwrap();
    assert!(status.success());
    let fx = Fixture::spawn(&stripped, &[]);
    fx.wait_all_asleep();
    let mut tracer = Tracer::new(TraceOptions::new());
    let first = tracer.trace(fx.pid()).unwrap();
    let second = tracer.trace(fx.pid()).unwrap();
    assert_eq!(second.timings().reused, 6);
    let path = stripped.display().to_string();
    for p in [&first, &second] {
        assert!(
            p.missing_debuginfo().iter().any(|n| n.module == path
                && matches!(n.problem, ModuleProblem::NoDebuginfo { build_id: Some(_) })),
            "{:?}",
            p.missing_debuginfo()
        );
    }
    assert_eq!(second.missing_debuginfo(), first.missing_debuginfo());
    fx.assert_running();
    drop(fx);
    let _ = std::fs::remove_file(&stripped);
}
