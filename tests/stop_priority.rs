//! The tracer runs at SCHED_FIFO while it holds threads stopped, and only then: after a trace
//! (rolling, snapshot, an error with threads held, a panic with threads held) the tracing
//! thread's policy is what it was, a forked watchdog is not real-time, and where SCHED_FIFO
//! is refused the trace goes on at normal priority and says so in its timings.

mod common;

use std::sync::Mutex;

use common::{Fixture, assert_parked_fixture, threads_bin};
use rstack_tui::{AttachMethod, Error, StopPriority, TraceOptions};

/// The calling thread's policy, without the reset-on-fork flag.
fn policy() -> i32 {
    // SAFETY: 0 names the calling thread; no memory is passed.
    let p = unsafe { libc::sched_getscheduler(0) };
    assert!(
        p >= 0,
        "sched_getscheduler: {}",
        std::io::Error::last_os_error()
    );
    p & !libc::SCHED_RESET_ON_FORK
}

/// A process's policy, field 41 of /proc/PID/stat.
fn policy_of(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // Fields from 3 (state) on; the policy is field 41.
    after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap()
}

/// What a thread that may raise itself should see: SCHED_FIFO where permitted (root), the
/// refusal otherwise.
fn expected() -> StopPriority {
    // SAFETY: no arguments.
    if unsafe { libc::geteuid() } == 0 {
        StopPriority::Raised
    } else {
        StopPriority::NotPermitted
    }
}

/// Runs `f` on a thread of its own, so that a failure cannot leave a harness thread changed.
fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

#[test]
fn rolling_trace_restores_the_policy() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let pid = fx.pid();
    let (before, after, p) = on_own_thread(move || {
        let before = policy();
        // Every thread stopped, not only running ones, so that there are holds.
        let p = TraceOptions::new().stop_blocked(true).trace(pid).unwrap();
        (before, policy(), p)
    });
    assert_eq!(before, libc::SCHED_OTHER);
    assert_eq!(after, libc::SCHED_OTHER);
    assert_eq!(p.stopped_threads(), 4);
    assert_eq!(p.timings().stop_priority, expected());
    assert_parked_fixture(&p, 3);
    fx.assert_running();
}

#[test]
fn snapshot_trace_restores_the_policy() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let pid = fx.pid();
    let (after, p) = on_own_thread(move || {
        let p = TraceOptions::new().snapshot(true).trace(pid).unwrap();
        (policy(), p)
    });
    assert_eq!(after, libc::SCHED_OTHER);
    assert_eq!(p.timings().stop_priority, expected());
    assert_parked_fixture(&p, 3);
    fx.assert_running();
}

#[test]
fn an_error_with_threads_held_restores_the_policy() {
    let fx = Fixture::spawn(threads_bin(), &["park", "4"]);
    let pid = fx.pid();
    let last = fx.thread_states().iter().map(|(t, _)| *t).max().unwrap();
    let (after, err) = on_own_thread(move || {
        // Another tracer holds the last thread: the snapshot fails once it reaches it, with
        // the threads before it held (and the tracer raised).
        let (seized_tx, seized_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            let tid = nix::unistd::Pid::from_raw(last as i32);
            nix::sys::ptrace::seize(tid, nix::sys::ptrace::Options::empty()).unwrap();
            seized_tx.send(()).unwrap();
            // Our exit detaches it.
            let _ = done_rx.recv();
        });
        seized_rx.recv().unwrap();
        let err = TraceOptions::new().snapshot(true).trace(pid).unwrap_err();
        let after = policy();
        done_tx.send(()).unwrap();
        other.join().unwrap();
        (after, err)
    });
    assert!(matches!(err, Error::AlreadyTraced { .. }), "{err:?}");
    assert_eq!(after, libc::SCHED_OTHER);
    common::wait_until("the other tracer to detach", || {
        common::tracer_pid(last) == 0
    });
    fx.assert_running();
}

/// The policies seen by panic hooks, by thread.
static AT_PANIC: Mutex<Vec<(std::thread::ThreadId, i32)>> = Mutex::new(Vec::new());

#[test]
fn a_panic_with_threads_held_runs_raised_and_restores_the_policy() {
    let fx = Fixture::spawn(threads_bin(), &["park", "4"]);
    let pid = fx.pid();
    let default_hook = std::panic::take_hook();
    // The hook runs on the panicking thread before it unwinds: inside the hold.
    std::panic::set_hook(Box::new(|_| {
        let me = std::thread::current().id();
        AT_PANIC.lock().unwrap().push((me, policy()));
    }));
    let (me, panicked, after) = on_own_thread(move || {
        let result = std::panic::catch_unwind(|| {
            TraceOptions::new()
                .snapshot(true)
                .panic_after_stops_for_tests(3)
                .trace(pid)
        });
        (std::thread::current().id(), result.is_err(), policy())
    });
    std::panic::set_hook(default_hook);
    assert!(panicked, "the hook should have panicked");
    let during = AT_PANIC
        .lock()
        .unwrap()
        .iter()
        .find(|(t, _)| *t == me)
        .map(|(_, p)| *p);
    let raised = if expected() == StopPriority::Raised {
        libc::SCHED_FIFO
    } else {
        libc::SCHED_OTHER
    };
    assert_eq!(during, Some(raised));
    assert_eq!(after, libc::SCHED_OTHER);
    fx.assert_running();
}

#[test]
fn the_watchdog_forked_while_raised_is_not_real_time() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    let pid = fx.pid();
    let p = on_own_thread(move || {
        TraceOptions::new()
            .snapshot(true)
            .attach_method(AttachMethod::Attach)
            .trace(pid)
            .unwrap()
    });
    assert_eq!(p.timings().stop_priority, expected());
    assert!(p.unguarded().is_none(), "{:?}", p.unguarded());
    // Our children: the fixtures of the tests and the watchdog, forked during the hold.
    let mut children = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        children.extend(text.split_whitespace().map(|c| c.parse::<u32>().unwrap()));
    }
    let watchdogs: Vec<u32> = children
        .into_iter()
        .filter(|&c| {
            // A fork of this test program; the fixtures are other programs.
            std::fs::read_link(format!("/proc/{c}/exe"))
                .is_ok_and(|e| e == std::env::current_exe().unwrap())
        })
        .collect();
    assert!(!watchdogs.is_empty(), "no watchdog among our children");
    for w in watchdogs {
        assert_eq!(policy_of(w), libc::SCHED_OTHER, "watchdog {w}");
    }
    fx.assert_running();
}

/// CAP_SYS_NICE, which lets a thread raise itself to SCHED_FIFO.
const CAP_SYS_NICE: u32 = 23;

/// Drops CAP_SYS_NICE from the calling thread's effective set (capabilities are per thread).
fn drop_cap_sys_nice() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes the header's version and two Data records, both ours.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_SYS_NICE);
    // SAFETY: capset reads the header and the two records.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn refused_raise_goes_on_at_normal_priority_and_says_so() {
    let rtprio = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_RTPRIO)
        .unwrap()
        .0;
    if rtprio != 0 {
        eprintln!("RLIMIT_RTPRIO is {rtprio}: SCHED_FIFO cannot be refused here; skipped");
        return;
    }
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let pid = fx.pid();
    let (after, p) = on_own_thread(move || {
        drop_cap_sys_nice();
        let p = TraceOptions::new().snapshot(true).trace(pid).unwrap();
        (policy(), p)
    });
    assert_eq!(p.timings().stop_priority, StopPriority::NotPermitted);
    assert_eq!(after, libc::SCHED_OTHER);
    assert_parked_fixture(&p, 3);
    fx.assert_running();
}
