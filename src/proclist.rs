//! The process list of the inspector's first screen, read straight from `/proc`: one row per
//! process with its user, state, threads, CPU% since the previous refresh, RSS and command line.
//! All text that comes from other processes (comm, command line) is made inert where it is read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use crate::text;
use crate::tracer::{ProcStat as Stat, ProcStatus};

/// Longest command line we keep, in characters.
const MAX_COMMAND: usize = 4096;

/// Most bytes of `/proc/PID/cmdline` we read: enough for `MAX_COMMAND` characters of any width,
/// without copying megabytes of arguments every refresh.
const MAX_CMDLINE_BYTES: u64 = 64 * 1024;

/// One row of the process list.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// User name of the real uid (the numeric uid as text when it has no name); inert.
    pub user: String,
    /// The state letter from `/proc/PID/stat`.
    pub state: char,
    pub threads: u32,
    /// CPU% (user + system) since the previous `refresh()`, 100 = one full core; 0.0 on the
    /// first refresh.
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// comm, inert.
    pub name: String,
    /// The command line, arguments joined by spaces, inert and at most 4096 characters;
    /// `[comm]` when it is empty (kernel threads, zombies).
    pub command: String,
    /// `PF_KTHREAD` is set (or the process is kthreadd or one of its children).
    pub kernel_thread: bool,
}

/// Reads the process list; keeps the previous CPU times so CPU% is over the interval between
/// refreshes.
pub struct ProcessLister {
    /// Time of the previous refresh; `None` before the first.
    last: Option<Instant>,
    /// pid -> (start time, utime + stime) at the previous refresh. The start time tells a
    /// reused pid from the process seen before.
    prev: HashMap<u32, (u64, u64)>,
    /// uid -> user name, from `/etc/passwd`, read once.
    users: HashMap<u32, String>,
    page_size: u64,
    ticks_per_second: u64,
    /// Reused read buffer, so a refresh does not allocate one per file.
    buf: Vec<u8>,
}

impl Default for ProcessLister {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessLister {
    pub fn new() -> ProcessLister {
        let users = std::fs::read("/etc/passwd")
            .map(|b| parse_passwd(&b))
            .unwrap_or_default();
        ProcessLister {
            last: None,
            prev: HashMap::new(),
            users,
            page_size: procfs::page_size().max(1),
            ticks_per_second: procfs::ticks_per_second().max(1),
            buf: Vec::with_capacity(4096),
        }
    }

    /// All processes now (processes that vanish while reading are skipped silently). Sorted by
    /// pid.
    pub fn refresh(&mut self) -> Vec<ProcessInfo> {
        let now = Instant::now();
        let elapsed = self.last.map(|t| now.duration_since(t).as_secs_f64());
        let first = self.last.is_none();

        let mut pids: Vec<u32> = match std::fs::read_dir("/proc") {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        pids.sort_unstable();

        let mut rows = Vec::with_capacity(pids.len());
        let mut prev = HashMap::with_capacity(pids.len());
        for pid in pids {
            let Some((row, start, ticks)) = self.read_process(pid) else {
                continue;
            };
            let delta = match self.prev.get(&pid) {
                Some(&(s, t)) if s == start => Some(ticks.saturating_sub(t)),
                // Not seen at the previous refresh (or the pid was reused): the process
                // started since then, so all its CPU time falls in the interval.
                _ if !first => Some(ticks),
                _ => None,
            };
            let cpu_percent = match (delta, elapsed) {
                (Some(d), Some(secs)) if secs > 0.0 => {
                    d as f64 / self.ticks_per_second as f64 / secs * 100.0
                }
                _ => 0.0,
            };
            prev.insert(pid, (start, ticks));
            rows.push(ProcessInfo { cpu_percent, ..row });
        }
        self.prev = prev;
        self.last = Some(now);
        rows
    }

    /// One row (with CPU% still 0.0), the start time and utime + stime; `None` when the
    /// process is gone or its files cannot be read.
    fn read_process(&mut self, pid: u32) -> Option<(ProcessInfo, u64, u64)> {
        let stat = Stat::read(&format!("/proc/{pid}/stat"))?;
        let start = stat.start;

        let command = match read_limited(
            &format!("/proc/{pid}/cmdline"),
            MAX_CMDLINE_BYTES,
            &mut self.buf,
        ) {
            Ok(()) => join_cmdline(&self.buf),
            Err(_) => String::new(),
        };
        let command = if command.is_empty() {
            format!("[{}]", stat.comm)
        } else {
            command
        };

        // Read last: when the process is gone by now, it is skipped rather than shown with a
        // half-read row.
        let uid = self.real_uid(pid)?;
        let user = match self.users.get(&uid) {
            Some(name) => name.clone(),
            None => uid.to_string(),
        };

        let ticks = stat.utime.saturating_add(stat.stime);
        let row = ProcessInfo {
            pid,
            user,
            state: stat.state,
            threads: stat.num_threads,
            cpu_percent: 0.0,
            rss_bytes: stat.rss_pages.saturating_mul(self.page_size),
            kernel_thread: stat.is_kernel_thread(),
            name: stat.comm,
            command,
        };
        Some((row, start, ticks))
    }

    /// The real uid from the `Uid:` line of `/proc/PID/status`, or the owner of `/proc/PID`
    /// (the effective uid) when status cannot be parsed.
    fn real_uid(&self, pid: u32) -> Option<u32> {
        match ProcStatus::read(pid as i32).ok()?.uids {
            Some([real, ..]) => Some(real),
            None => std::fs::metadata(format!("/proc/{pid}"))
                .ok()
                .map(|m| m.uid()),
        }
    }
}

/// Reads at most `limit` bytes of `path` into `buf` (cleared first).
fn read_limited(path: &str, limit: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.take(limit).read_to_end(buf)?;
    Ok(())
}

/// The NUL-separated arguments of a cmdline, each made inert, joined by spaces and cut to
/// `MAX_COMMAND` characters. Empty arguments (such as the padding left by programs that
/// rewrite their argv) are dropped.
fn join_cmdline(raw: &[u8]) -> String {
    let mut out = String::new();
    for arg in raw.split(|&b| b == 0).filter(|a| !a.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&text::from_bytes(arg));
        if out.len() > MAX_COMMAND * 4 {
            break;
        }
    }
    text::inert_bounded(&out, MAX_COMMAND)
}

/// uid -> user name from the text of `/etc/passwd`; the first entry for a uid wins.
fn parse_passwd(bytes: &[u8]) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in bytes.split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() || name.starts_with(b"#") {
            continue;
        }
        let Some(uid) = std::str::from_utf8(uid).ok().and_then(|u| u.parse().ok()) else {
            continue;
        };
        users
            .entry(uid)
            .or_insert_with(|| text::inert_bounded(&text::from_bytes(name), 64));
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_join() {
        assert_eq!(join_cmdline(b"sleep\x0030\x00"), "sleep 30");
        assert_eq!(join_cmdline(b""), "");
        assert_eq!(join_cmdline(b"title\0\0\0\0"), "title");
        assert_eq!(join_cmdline(b"\x1b[2J\0\xff"), "\\x1b[2J \\xff");
        let long = vec![b'a'; 100_000];
        assert_eq!(join_cmdline(&long).chars().count(), MAX_COMMAND);
    }

    #[test]
    fn passwd_parse() {
        let users = parse_passwd(
            b"root:x:0:0:root:/root:/bin/bash\n# comment:x:5\nbad line\nev\x1bil:x:1000:1000::/:/bin/sh\n\
              dup:x:0:0::/:/bin/sh\nnum:x:notanumber:0::/:\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&1000).map(String::as_str), Some("ev\\x1bil"));
        assert_eq!(users.len(), 2);
    }
}
