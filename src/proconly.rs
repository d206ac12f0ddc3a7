//! What `/proc` tells anyone about a process we may not trace (another user's, without
//! root or CAP_SYS_PTRACE): each thread's name, state, CPU time and wait channel, as a
//! snapshot without stacks, so the inspector still lists the threads. The kernel shows a
//! wait channel to the process's owner only; for others it stays empty.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::text;
use crate::tracer::{ProcStat, Process};

/// Most threads listed: a bound on what a hostile process can make us read.
const MAX_THREADS: usize = 65_536;
/// Most bytes of a command line read.
const MAX_CMDLINE: u64 = 4096;

/// The note on every thread's stack: why there is none.
pub const NOT_TRACED: &str = "stack not read: no permission to trace";

/// A snapshot of `pid` from `/proc` alone, or None when the process is gone.
pub fn snapshot(pid: u32) -> Option<Process> {
    let ticks = procfs::ticks_per_second().max(1);
    let ms = |t: u64| t.saturating_mul(1000) / ticks;
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .take(MAX_THREADS)
        .collect();
    tids.sort_unstable();
    let threads: Vec<serde_json::Value> = tids
        .into_iter()
        .filter_map(|tid| {
            let stat = ProcStat::read(&format!("/proc/{pid}/task/{tid}/stat"))?;
            Some(serde_json::json!({
                "tid": tid,
                "name": stat.comm,
                "state": stat.state.to_string(),
                "wchan": wchan(pid, tid),
                "syscall": null,
                "user_time_ms": ms(stat.utime),
                "system_time_ms": ms(stat.stime),
                "stopped_us": 0,
                "truncated": false,
                "error": null,
                "end_note": NOT_TRACED,
                "frames": [],
            }))
        })
        .collect();
    if threads.is_empty() {
        return None;
    }
    let taken = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let doc: crate::tracer::schema::SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": crate::tracer::schema::VERSION,
        "pid": pid,
        "command": command_line(pid),
        "taken_at": "",
        "taken_at_unix_ms": taken,
        "mode": "rolling",
        "elapsed_us": 0,
        "longest_stop_us": 0,
        "threads": threads,
    }))
    .ok()?;
    Some(doc.to_process())
}

/// The wait channel, when the kernel shows it to us ("0" otherwise).
fn wchan(pid: u32, tid: u32) -> Option<String> {
    let mut buf = Vec::new();
    std::fs::File::open(format!("/proc/{pid}/task/{tid}/wchan"))
        .ok()?
        .take(256)
        .read_to_end(&mut buf)
        .ok()?;
    let w = text::from_bytes(&buf);
    let w = w.trim();
    (!w.is_empty() && w != "0").then(|| w.to_string())
}

/// The command line, arguments joined by spaces (inert), bounded.
fn command_line(pid: u32) -> String {
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(format!("/proc/{pid}/cmdline")) {
        let _ = f.take(MAX_CMDLINE).read_to_end(&mut buf);
    }
    let parts: Vec<String> = buf
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(text::from_bytes)
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_threads_are_listed_without_stacks() {
        let p = snapshot(std::process::id()).expect("our own process");
        assert_eq!(p.id(), std::process::id());
        let main = p
            .threads()
            .iter()
            .find(|t| t.id() == std::process::id())
            .unwrap();
        assert!(main.frames().is_empty());
        assert!(main.facts().state.is_some());
        assert_eq!(main.end_note().as_deref(), Some(NOT_TRACED));
        assert!(!p.command().is_empty());
    }
}
