//! The process list of the inspector's first screen, read straight from `/proc`: one row per
//! process with its user, state, threads, CPU% since the previous refresh, RSS and command line.
//! All text that comes from other processes (comm, command line) is made inert where it is read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use crate::text;

/// `PF_KTHREAD` in the flags field of `/proc/PID/stat`.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Longest command line we keep, in characters.
const MAX_COMMAND: usize = 4096;

/// Most bytes of `/proc/PID/cmdline` we read: enough for `MAX_COMMAND` characters of any width,
/// without copying megabytes of arguments every refresh.
const MAX_CMDLINE_BYTES: u64 = 64 * 1024;

/// Most bytes of `/proc/PID/stat` we read (a real one is a few hundred bytes).
const MAX_STAT_BYTES: u64 = 4096;

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

/// The fields of `/proc/PID/stat` that the process list uses.
#[derive(Debug, Clone, PartialEq)]
pub struct StatFields {
    pub pid: u32,
    /// comm, inert.
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub flags: u32,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u32,
    pub rss_pages: u64,
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
        read_limited(&format!("/proc/{pid}/stat"), MAX_STAT_BYTES, &mut self.buf).ok()?;
        let (stat, start) = parse_stat_bytes(&self.buf)?;

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
            kernel_thread: stat.flags & PF_KTHREAD != 0 || pid == 2 || stat.ppid == 2,
            name: stat.comm,
            command,
        };
        Some((row, start, ticks))
    }

    /// The real uid from the `Uid:` line of `/proc/PID/status`, or the owner of `/proc/PID`
    /// (the effective uid) when status cannot be parsed.
    fn real_uid(&mut self, pid: u32) -> Option<u32> {
        read_limited(&format!("/proc/{pid}/status"), 64 * 1024, &mut self.buf).ok()?;
        let from_status = self
            .buf
            .split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"Uid:"))
            .and_then(|rest| {
                std::str::from_utf8(rest)
                    .ok()?
                    .split_ascii_whitespace()
                    .next()?
                    .parse()
                    .ok()
            });
        match from_status {
            Some(uid) => Some(uid),
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

/// Parses the fields we need from the text of /proc/PID/stat, splitting at the LAST ')' so
/// that a comm containing ')' or spaces or newlines cannot shift fields. None if malformed.
pub fn parse_stat(text: &str) -> Option<StatFields> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text::inert(&text[open + 1..close]).into_owned();
    parse_parts(&text[..open], comm, &text[close + 1..]).map(|(s, _)| s)
}

/// [`parse_stat`] on the raw bytes of a stat file: the comm goes through
/// [`text::from_bytes`], the rest through lossy UTF-8. Also returns the start time.
fn parse_stat_bytes(bytes: &[u8]) -> Option<(StatFields, u64)> {
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let head = std::str::from_utf8(&bytes[..open]).ok()?;
    let comm = text::from_bytes(&bytes[open + 1..close]);
    let rest = String::from_utf8_lossy(&bytes[close + 1..]);
    parse_parts(head, comm, &rest)
}

/// The fields from the pid (text before the comm), the comm (already inert) and the text
/// after the comm's closing parenthesis; also returns the start time (field 22).
fn parse_parts(head: &str, comm: String, rest: &str) -> Option<(StatFields, u64)> {
    let pid = head.trim().parse().ok()?;
    // Fields after the comm, numbered from 0 here (proc(5) numbers them from 3).
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(22).collect();
    if fields.len() < 22 {
        return None;
    }
    let mut state = fields[0].chars();
    let (Some(state), None) = (state.next(), state.next()) else {
        return None;
    };
    let rss: i64 = fields[21].parse().ok()?;
    let stat = StatFields {
        pid,
        comm,
        state,
        ppid: fields[1].parse().ok()?,
        flags: fields[6].parse().ok()?,
        utime: fields[11].parse().ok()?,
        stime: fields[12].parse().ok()?,
        num_threads: fields[17].parse().ok()?,
        rss_pages: rss.max(0) as u64,
    };
    let start = fields[19].parse().ok()?;
    Some((stat, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real stat line (from `cat /proc/self/stat`) with `comm` put in.
    fn line(comm: &str) -> String {
        format!(
            "18448 ({comm}) R 18442 18442 17784 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 390387 \
             3133440 394 18446744073709551615 93950239371264 93950239391145 140730681954448 0 0 \
             0 0 0 0 0 0 0 17 1 0 0 0 0 0 93950239407152 93950239408768 93951292792832 \
             140730681961176 140730681961196 140730681961196 140730681962475 0\n"
        )
    }

    fn expected(comm: &str) -> StatFields {
        StatFields {
            pid: 18448,
            comm: comm.into(),
            state: 'R',
            ppid: 18442,
            flags: 4194304,
            utime: 7,
            stime: 3,
            num_threads: 1,
            rss_pages: 394,
        }
    }

    #[test]
    fn real_line_has_52_fields() {
        assert_eq!(line("cat").split_ascii_whitespace().count(), 52);
        assert_eq!(parse_stat(&line("cat")), Some(expected("cat")));
    }

    #[test]
    fn comm_with_parenthesis_does_not_shift_fields() {
        assert_eq!(parse_stat(&line("a) b")), Some(expected("a) b")));
        assert_eq!(
            parse_stat(&line("x) R 1 2 3 (")),
            Some(expected("x) R 1 2 3 ("))
        );
        assert_eq!(parse_stat(&line(")))")), Some(expected(")))")));
    }

    #[test]
    fn comm_with_spaces_and_newline() {
        assert_eq!(parse_stat(&line("a b  c")), Some(expected("a b  c")));
        assert_eq!(
            parse_stat(&line("two\nlines")),
            Some(expected("two\\x0alines"))
        );
    }

    #[test]
    fn comm_escape_sequences_are_inert() {
        let s = parse_stat(&line("\x1b[31mred\x7f")).unwrap();
        assert_eq!(s.comm, "\\x1b[31mred\\x7f");
        assert!(!s.comm.contains('\x1b'));
        assert_eq!(s.utime, 7);
    }

    #[test]
    fn empty_comm() {
        assert_eq!(parse_stat(&line("")), Some(expected("")));
    }

    #[test]
    fn kernel_thread_flags() {
        let l = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 1 0 0 \
                 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 \
                 0 0\n";
        let s = parse_stat(l).unwrap();
        assert_eq!(s.pid, 2);
        assert_eq!(s.ppid, 0);
        assert_ne!(s.flags & PF_KTHREAD, 0);
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn truncated_lines_are_none() {
        let full = line("cat");
        assert!(parse_stat("").is_none());
        assert!(parse_stat("18448").is_none());
        assert!(parse_stat("18448 (cat").is_none());
        assert!(parse_stat("18448 (cat)").is_none());
        assert!(parse_stat("18448 (cat) R 18442 18442").is_none());
        // Cut just before rss (field 24).
        let cut: Vec<&str> = full.split_ascii_whitespace().take(23).collect();
        assert!(parse_stat(&cut.join(" ")).is_none());
        // Cut just after it: still enough.
        let cut: Vec<&str> = full.split_ascii_whitespace().take(24).collect();
        assert_eq!(parse_stat(&cut.join(" ")), Some(expected("cat")));
        // Every prefix parses or not, never panics.
        for i in 0..full.len() {
            let _ = parse_stat(&full[..i]);
        }
    }

    #[test]
    fn non_numeric_fields_are_none() {
        let full = line("cat");
        assert!(parse_stat(&full.replacen("18448", "x18448", 1)).is_none());
        assert!(parse_stat(&full.replace(" 18442 18442 ", " ppid 18442 ")).is_none());
        assert!(parse_stat(&full.replace(" 4194304 ", " -4194304 ")).is_none());
        assert!(parse_stat(&full.replace(" 101 0 0 0 7 3 ", " 101 0 0 0 7a 3 ")).is_none());
        assert!(parse_stat(&full.replace(" 3133440 394 ", " 3133440 many ")).is_none());
        assert!(parse_stat(&full.replace(") R ", ") RS ")).is_none());
        assert!(parse_stat("-5 (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1").is_none());
    }

    #[test]
    fn missing_parentheses_are_none() {
        assert!(parse_stat("18448 cat R 18442 18442 17784 0 -1 4194304").is_none());
        assert!(parse_stat(")18448 (cat R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1").is_none());
    }

    #[test]
    fn bytes_parser_escapes_invalid_utf8_in_comm() {
        let mut raw = b"18448 (bad\xff)".to_vec();
        raw.extend_from_slice(line("").split_once(')').unwrap().1.as_bytes());
        let (s, start) = parse_stat_bytes(&raw).unwrap();
        assert_eq!(s.comm, "bad\\xff");
        assert_eq!(start, 390387);
        assert_eq!(s.rss_pages, 394);
    }

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
