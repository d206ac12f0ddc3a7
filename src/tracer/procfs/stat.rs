//! `/proc/PID/stat` (and a task's), parsed one way for the tracer and the process list: the
//! command lies between the first `(` and the LAST `)`, so a name holding `)`, spaces or
//! newlines cannot shift the fields after it; the command comes out inert.

use crate::tracer::text;

/// `PF_KTHREAD` in the flags field.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Most bytes of a stat file we read (a real one is under 400).
pub const MAX_STAT_BYTES: u64 = 4096;

/// The fields of a stat file we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// The command name, inert.
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub flags: u32,
    /// CPU time in clock ticks.
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u32,
    pub rss_pages: u64,
    /// When the task started (clock ticks since boot): a reused id has another.
    pub start: u64,
}

impl Stat {
    /// Reads and parses `/proc/PID/stat` or `/proc/PID/task/TID/stat`, at most
    /// [`MAX_STAT_BYTES`]; `None` when gone or malformed.
    pub fn read(path: &str) -> Option<Stat> {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(path)
            .ok()?
            .take(MAX_STAT_BYTES)
            .read_to_end(&mut buf)
            .ok()?;
        Stat::parse(&buf)
    }

    /// Parses the bytes of a stat file: the command through [`text::from_bytes`], the rest
    /// as numbers. `None` if anything we use is missing or malformed.
    pub fn parse(bytes: &[u8]) -> Option<Stat> {
        let open = bytes.iter().position(|&b| b == b'(')?;
        let close = bytes.iter().rposition(|&b| b == b')')?;
        if close < open {
            return None;
        }
        let pid = std::str::from_utf8(&bytes[..open])
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let comm = text::from_bytes(&bytes[open + 1..close]);
        let rest = String::from_utf8_lossy(&bytes[close + 1..]);
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
        Some(Stat {
            pid,
            comm,
            state,
            ppid: fields[1].parse().ok()?,
            flags: fields[6].parse().ok()?,
            utime: fields[11].parse().ok()?,
            stime: fields[12].parse().ok()?,
            num_threads: fields[17].parse().ok()?,
            rss_pages: rss.max(0) as u64,
            start: fields[19].parse().ok()?,
        })
    }

    /// A kernel thread: `PF_KTHREAD` set, or kthreadd (pid 2) or one of its children.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0 || self.pid == 2 || self.ppid == 2
    }

    /// Exited, or a zombie waiting to be reaped.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Option<Stat> {
        Stat::parse(text.as_bytes())
    }

    /// A real stat line (from `cat /proc/self/stat`) with `comm` put in.
    fn line(comm: &str) -> String {
        format!(
            "18448 ({comm}) R 18442 18442 17784 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 390387 \
             3133440 394 18446744073709551615 93950239371264 93950239391145 140730681954448 0 0 \
             0 0 0 0 0 0 0 17 1 0 0 0 0 0 93950239407152 93950239408768 93951292792832 \
             140730681961176 140730681961196 140730681961196 140730681962475 0\n"
        )
    }

    fn expected(comm: &str) -> Stat {
        Stat {
            pid: 18448,
            comm: comm.into(),
            state: 'R',
            ppid: 18442,
            flags: 4194304,
            utime: 7,
            stime: 3,
            num_threads: 1,
            rss_pages: 394,
            start: 390387,
        }
    }

    #[test]
    fn real_line_has_52_fields() {
        assert_eq!(line("cat").split_ascii_whitespace().count(), 52);
        assert_eq!(parse_str(&line("cat")), Some(expected("cat")));
    }

    #[test]
    fn comm_with_parenthesis_does_not_shift_fields() {
        assert_eq!(parse_str(&line("a) b")), Some(expected("a) b")));
        assert_eq!(
            parse_str(&line("x) R 1 2 3 (")),
            Some(expected("x) R 1 2 3 ("))
        );
        assert_eq!(parse_str(&line(")))")), Some(expected(")))")));
    }

    #[test]
    fn comm_with_spaces_and_newline() {
        assert_eq!(parse_str(&line("a b  c")), Some(expected("a b  c")));
        assert_eq!(
            parse_str(&line("two\nlines")),
            Some(expected("two\\x0alines"))
        );
    }

    #[test]
    fn comm_escape_sequences_are_inert() {
        let s = parse_str(&line("\x1b[31mred\x7f")).unwrap();
        assert_eq!(s.comm, "\\x1b[31mred\\x7f");
        assert!(!s.comm.contains('\x1b'));
        assert_eq!(s.utime, 7);
    }

    #[test]
    fn empty_comm() {
        assert_eq!(parse_str(&line("")), Some(expected("")));
    }

    #[test]
    fn kernel_thread_flags() {
        let l = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 1 0 0 \
                 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 \
                 0 0\n";
        let s = parse_str(l).unwrap();
        assert_eq!(s.pid, 2);
        assert_eq!(s.ppid, 0);
        assert_ne!(s.flags & PF_KTHREAD, 0);
        assert!(s.is_kernel_thread());
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn truncated_lines_are_none() {
        let full = line("cat");
        assert!(parse_str("").is_none());
        assert!(parse_str("18448").is_none());
        assert!(parse_str("18448 (cat").is_none());
        assert!(parse_str("18448 (cat)").is_none());
        assert!(parse_str("18448 (cat) R 18442 18442").is_none());
        // Cut just before rss (field 24).
        let cut: Vec<&str> = full.split_ascii_whitespace().take(23).collect();
        assert!(parse_str(&cut.join(" ")).is_none());
        // Cut just after it: still enough.
        let cut: Vec<&str> = full.split_ascii_whitespace().take(24).collect();
        assert_eq!(parse_str(&cut.join(" ")), Some(expected("cat")));
        // Every prefix parses or not, never panics.
        for i in 0..full.len() {
            let _ = parse_str(&full[..i]);
        }
    }

    #[test]
    fn non_numeric_fields_are_none() {
        let full = line("cat");
        assert!(parse_str(&full.replacen("18448", "x18448", 1)).is_none());
        assert!(parse_str(&full.replace(" 18442 18442 ", " ppid 18442 ")).is_none());
        assert!(parse_str(&full.replace(" 4194304 ", " -4194304 ")).is_none());
        assert!(parse_str(&full.replace(" 101 0 0 0 7 3 ", " 101 0 0 0 7a 3 ")).is_none());
        assert!(parse_str(&full.replace(" 3133440 394 ", " 3133440 many ")).is_none());
        assert!(parse_str(&full.replace(") R ", ") RS ")).is_none());
        assert!(parse_str("-5 (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1").is_none());
    }

    #[test]
    fn missing_parentheses_are_none() {
        assert!(parse_str("18448 cat R 18442 18442 17784 0 -1 4194304").is_none());
        assert!(parse_str(")18448 (cat R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1").is_none());
    }

    #[test]
    fn bytes_parser_escapes_invalid_utf8_in_comm() {
        let mut raw = b"18448 (bad\xff)".to_vec();
        raw.extend_from_slice(line("").split_once(')').unwrap().1.as_bytes());
        let (s, start) = Stat::parse(&raw).map(|s| (s.clone(), s.start)).unwrap();
        assert_eq!(s.comm, "bad\\xff");
        assert_eq!(start, 390387);
        assert_eq!(s.rss_pages, 394);
    }
}
