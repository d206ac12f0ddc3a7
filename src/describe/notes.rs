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
