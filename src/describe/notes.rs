//! One-line notes said both by `dump` (on stderr or after the listing) and on the inspector's
//! status line: a thread id standing for its process, a refused line cache, attaches that had
//! no watchdog.

use crate::text::inert;
use crate::tracer::{CacheRefused, NoGuard, TargetId, Unguarded};

/// "thread 1234 belongs to process 1200 (server): showing the process, thread 1234 selected":
/// said by `dump` and on the inspector's status line when the id given was a thread's.
pub fn thread_selected_text(t: &TargetId) -> Option<String> {
    let tid = t.thread?;
    Some(format!(
        "thread {tid} belongs to process {} ({}): showing the process, thread {tid} selected",
        t.pid,
        inert(&t.name)
    ))
}

/// "line cache not used: /home/u/.cache/rstack-tui is a symbolic link": said once, by `dump`
/// and on the inspector's status line, when the line cache directory was refused.
pub fn line_cache_refused(r: &CacheRefused) -> String {
    format!("line cache not used: {}", inert(&r.to_string()))
}

/// "watchdog: 64 targets already guarded; 1 attach of this trace had no guard against a
/// killed tracer": why a PTRACE_ATTACH stop of this trace could have outlived us.
pub fn unguarded_text(u: Unguarded) -> String {
    let why = match u.why {
        NoGuard::Full { guarded } => format!("{guarded} targets already guarded"),
        NoGuard::Unreachable { errno } => format!(
            "could not be started ({})",
            std::io::Error::from_raw_os_error(errno)
        ),
    };
    let attaches = match u.attaches {
        1 => "1 attach".to_string(),
        n => format!("{n} attaches"),
    };
    format!("watchdog: {why}; {attaches} of this trace had no guard against a killed tracer")
}

/// The inspector's status line when it may not trace the process: short enough that the
/// way out shows on an 80-column terminal (`dump` says the same at length).
pub fn no_permission_text() -> &'static str {
    "no permission to trace: run as root (sudo -E) or grant CAP_SYS_PTRACE; threads from /proc only"
}

/// The name to show for thread `t`: its OS name, or its Python `threading` name where the OS
/// name is the generic one every thread of an interpreter shares (none, `python…`, or the
/// process's own name, `process_name`).
pub fn shown_thread_name<'a>(t: &'a crate::tracer::Thread, process_name: Option<&str>) -> &'a str {
    let os = t.name();
    let generic = match os {
        None => true,
        Some(n) => n.starts_with("python") || Some(n) == process_name,
    };
    match t.facts().python.as_ref().and_then(|p| p.name.as_deref()) {
        Some(py) if generic => py,
        _ => os.unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::shown_thread_name;
    use crate::tracer::schema::SnapshotDoc;

    #[test]
    fn a_generic_os_name_gives_way_to_the_python_name() {
        let thread = |tid: u32, name: &str, py: Option<&str>| {
            serde_json::json!({"tid": tid, "name": name, "state": "S", "frames": [],
                "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
                "python": py.map(|n| serde_json::json!({"holds_gil": false, "name": n, "note": null}))})
        };
        let doc = serde_json::json!({"version": 2, "pid": 7, "command": "srv", "taken_at": "t",
            "taken_at_unix_ms": 0, "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
            "threads": [thread(7, "srv", Some("MainThread")), thread(8, "python3", Some("waiter-A")),
                thread(9, "io-loop", Some("Thread-2")), thread(10, "srv", None)]});
        let doc: SnapshotDoc = serde_json::from_value(doc).unwrap();
        let p = doc.to_process();
        let shown: Vec<&str> = p
            .threads()
            .iter()
            .map(|t| shown_thread_name(t, Some("srv")))
            .collect();
        // The process's name and `python…` are generic; a name a thread set for itself stays.
        assert_eq!(shown, ["MainThread", "waiter-A", "io-loop", "srv"]);
    }
}
