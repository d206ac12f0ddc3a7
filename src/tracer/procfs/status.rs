//! `/proc/PID/status`, parsed one way for the tracer and the process list: `Name: value`
//! lines, read bounded; a field the kernel did not write (or wrote oddly) is `None`, never a
//! guess.

use std::io::{self, Read};

/// Most bytes of a status file we read (a real one is under 2 KiB).
const MAX_STATUS_BYTES: u64 = 64 * 1024;

/// The fields of a status file we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The thread group (process) id.
    pub tgid: Option<i32>,
    /// The state letter (`S`, `T`, `Z`, ...).
    pub state: Option<char>,
    pub threads: Option<u64>,
    /// Who traces the process; 0 when no one does.
    pub tracer_pid: Option<i32>,
    /// Real, effective, saved and filesystem uids.
    pub uids: Option<[u32; 4]>,
    /// Effective capabilities.
    pub cap_eff: Option<u64>,
    /// The pid as the process's own (innermost) pid namespace sees it: the last number of
    /// `NSpid:` (one per nested namespace, outermost first).
    pub ns_pid: Option<i32>,
}

impl Status {
    /// Reads `/proc/ID/status` (a process or any of its threads).
    pub fn read(id: i32) -> io::Result<Status> {
        let mut buf = Vec::new();
        std::fs::File::open(format!("/proc/{id}/status"))?
            .take(MAX_STATUS_BYTES)
            .read_to_end(&mut buf)?;
        Ok(Status::parse(&buf))
    }

    pub fn parse(bytes: &[u8]) -> Status {
        let mut status = Status::default();
        for line in bytes.split(|&b| b == b'\n') {
            let Some((name, value)) = std::str::from_utf8(line)
                .ok()
                .and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let value = value.trim();
            let first = value.split_ascii_whitespace().next().unwrap_or("");
            match name {
                "Tgid" => status.tgid = first.parse().ok(),
                "State" => status.state = first.chars().next(),
                "Threads" => status.threads = first.parse().ok(),
                "TracerPid" => status.tracer_pid = first.parse().ok(),
                "Uid" => status.uids = uids(value),
                "CapEff" => status.cap_eff = u64::from_str_radix(first, 16).ok(),
                "NSpid" => {
                    status.ns_pid = value
                        .split_ascii_whitespace()
                        .next_back()
                        .and_then(|n| n.parse().ok())
                }
                _ => {}
            }
        }
        status
    }
}

fn uids(value: &str) -> Option<[u32; 4]> {
    let mut out = [0u32; 4];
    let mut parts = value.split_ascii_whitespace();
    for slot in &mut out {
        *slot = parts.next()?.parse().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn the_fields_we_use_and_nothing_guessed() {
        let text = b"Name:\tsl(e)ep: x\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
                     Pid:\t4243\nTracerPid:\t0\nUid:\t1000\t1001\t1002\t1003\n\
                     Threads:\t3\nCapEff:\t000001ffffffffff\n";
        let s = Status::parse(text);
        assert_eq!(s.tgid, Some(4242));
        assert_eq!(s.state, Some('S'));
        assert_eq!(s.threads, Some(3));
        assert_eq!(s.tracer_pid, Some(0));
        assert_eq!(s.uids, Some([1000, 1001, 1002, 1003]));
        assert_eq!(s.cap_eff, Some(0x1ff_ffff_ffff));
        assert_eq!(s.ns_pid, None);
        assert_eq!(Status::parse(b"NSpid:\t6526\t12\t1\n").ns_pid, Some(1));
        assert_eq!(Status::parse(b"NSpid:\t6526\n").ns_pid, Some(6526));
        let odd = Status::parse(b"Tgid: x\nUid:\t1 2\nState:\nCapEff:\tzz\n\xff\xfe:\n");
        assert_eq!(odd, Status::default());
    }

    #[test]
    fn our_own_status() {
        let s = Status::read(std::process::id() as i32).unwrap();
        assert_eq!(s.tgid, Some(std::process::id() as i32));
        assert!(s.threads.is_some_and(|n| n >= 1));
        assert!(s.uids.is_some());
    }
}
