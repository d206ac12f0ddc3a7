//! Snapshots for the profile's tests (verdicts, suspects, the watch's summary): threads told
//! in a line each and turned into a `Process` as a saved snapshot reads, with the stacks the
//! tests share.

use crate::tracer::Process;
use crate::tracer::schema::SnapshotDoc;

/// A thread: tid, name, state letter, CPU ms so far, blocking call (number, None: none),
/// lock owner (a futex waiter's), frames innermost first (libc's by their names).
pub(crate) struct T<'a> {
    pub tid: u32,
    pub name: &'a str,
    pub state: char,
    pub cpu_ms: u64,
    pub syscall: Option<i64>,
    pub owner: Option<u32>,
    /// The blocking call decoded, as the tracer words it.
    pub wait: Option<&'a str>,
    pub frames: &'a [&'a str],
}

/// A snapshot of pid 4242 taken `ms` after the epoch, as a saved JSON document reads.
pub(crate) fn snapshot(ms: u64, threads: &[T], deadlocks: &[&[u32]]) -> Process {
    let threads: Vec<serde_json::Value> = threads
        .iter()
        .map(|t| {
            let frames: Vec<serde_json::Value> = t
                .frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let ip = 0x1000 + i as u64 * 0x40 + u64::from(t.tid) * 0x1_0000;
                    let libc = f.starts_with("__")
                        || f.starts_with("pthread_")
                        || ["pause", "read", "clock_nanosleep", "futex_wait", "epoll_wait"]
                            .contains(f);
                    let module = if libc { "/usr/lib/libc.so.6" } else { "/srv/app" };
                    serde_json::json!({"ip": ip, "symbol": f, "raw_symbol": f,
                        "offset": 4, "module": module, "module_offset": ip,
                        "is_signal": false})
                })
                .collect();
            let lock = t.syscall.filter(|n| *n == 202).map(|_| {
                serde_json::json!({"address": 0x5000, "owner": t.owner, "note": null})
            });
            serde_json::json!({"tid": t.tid, "name": t.name, "state": t.state.to_string(),
                "wchan": null,
                "syscall": t.syscall.map(|n| serde_json::json!({"number": n, "args": [0,0,0,0,0,0]})),
                "user_time_ms": t.cpu_ms, "system_time_ms": 0, "stopped_us": 0,
                "truncated": false, "error": null, "end_note": null, "frames": frames,
                "lock": lock, "wait": t.wait})
        })
        .collect();
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 2, "pid": 4242, "command": "/srv/app", "taken_at": "",
        "taken_at_unix_ms": ms, "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
        "threads": threads, "deadlocks": deadlocks
    }))
    .unwrap();
    doc.to_process()
}

/// The first snapshot's time, ms since the epoch (2026-11-29 12:00 UTC).
pub(crate) const T0: u64 = 1_795_953_600_000;
/// A busy loop's stack.
pub(crate) const SPIN: &[&str] = &["spin_here", "spinner", "start_thread"];
/// A thread blocked on a mutex.
pub(crate) const LOCKED: &[&str] = &[
    "__lll_lock_wait",
    "pthread_mutex_lock",
    "waiter",
    "start_thread",
];
/// A thread blocked reading.
pub(crate) const READ: &[&str] = &["read", "reader", "start_thread"];
/// An idle worker of a thread pool.
pub(crate) const POOL: &[&str] = &[
    "futex_wait",
    "pthread_cond_wait",
    "pool_worker",
    "start_thread",
];

/// A thread with no lock owner and no decoded wait: sleeping in `sc` when there is one,
/// running otherwise.
pub(crate) fn t<'a>(
    tid: u32,
    name: &'a str,
    cpu_ms: u64,
    sc: Option<i64>,
    frames: &'a [&'a str],
) -> T<'a> {
    T {
        tid,
        name,
        state: if sc.is_some() { 'S' } else { 'R' },
        cpu_ms,
        syscall: sc,
        owner: None,
        wait: None,
        frames,
    }
}
