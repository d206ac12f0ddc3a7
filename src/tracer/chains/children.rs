//! `wait4`/`waitid`: the children a blocked thread waits for (one child, any child, a process
//! group), from `/proc/PID/task/*/children` (bounded), without the ones that already exited
//! (a zombie ends the wait: it is reaped, not waited for).

use std::fs;

use crate::tracer::model::Syscall;

use super::fds::read_bounded;

const SYS_WAIT4: i64 = 61;
const SYS_WAITID: i64 = 247;
const WNOHANG: u64 = 1;
const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const P_PGID: u64 = 2;

/// Most children listed (and most threads whose children are read).
const MAX_CHILDREN: usize = 4096;
const MAX_TASKS: usize = 4096;

/// Which children a wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waited {
    Pid(u32),
    Any,
    /// Those of a process group; 0: the waiter's own.
    Group(u32),
}

/// Which children the thread blocked in `sc` waits for, when it is a blocking wait.
pub(super) fn waited(sc: &Syscall) -> Option<Waited> {
    let a = sc.args;
    match sc.number {
        SYS_WAIT4 if a[2] & WNOHANG == 0 => {
            let pid = a[0] as i32;
            Some(match pid {
                -1 => Waited::Any,
                0 => Waited::Group(0),
                p if p > 0 => Waited::Pid(p as u32),
                p => Waited::Group(p.unsigned_abs()),
            })
        }
        SYS_WAITID if a[3] & WNOHANG == 0 => match a[0] {
            P_ALL => Some(Waited::Any),
            P_PID => u32::try_from(a[1]).ok().filter(|&p| p > 0).map(Waited::Pid),
            P_PGID => u32::try_from(a[1]).ok().map(Waited::Group),
            // P_PIDFD: the child behind a pidfd; not followed.
            _ => None,
        },
        _ => None,
    }
}

/// What the waited-for children are: those that can end the wait, and a note on those left
/// out.
pub(super) struct Children {
    pub object: String,
    pub live: Vec<u32>,
    pub note: Option<String>,
}

/// The children of `pid` that a wait for `w` waits for.
pub(super) fn children(pid: u32, w: Waited) -> Children {
    let object = match w {
        Waited::Pid(p) => format!("child {p}"),
        Waited::Any => "any child".to_string(),
        Waited::Group(0) => "a child in its process group".to_string(),
        Waited::Group(g) => format!("a child in process group {g}"),
    };
    let all = match w {
        Waited::Pid(p) => vec![p],
        _ => list_children(pid),
    };
    let group = match w {
        Waited::Group(0) => stat_of(pid).map(|s| s.pgrp),
        Waited::Group(g) => Some(g),
        _ => None,
    };
    let (mut live, mut zombies, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for c in all {
        match stat_of(c) {
            None => gone.push(c),
            Some(s) if s.ppid != pid => gone.push(c),
            Some(s) if group.is_some_and(|g| g != s.pgrp) => {}
            Some(s) if s.state == 'Z' || s.state == 'X' => zombies.push(c),
            Some(_) => live.push(c),
        }
    }
    let mut notes = Vec::new();
    if !zombies.is_empty() {
        notes.push(format!("exited, not yet reaped: {}", list(&zombies)));
    }
    if !gone.is_empty() {
        notes.push(format!(
            "not a child of pid {pid} (or gone): {}",
            list(&gone)
        ));
    }
    if live.is_empty() && zombies.is_empty() && gone.is_empty() {
        notes.push("no such child found".to_string());
    }
    Children {
        object,
        live,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// The processes next to `pid` in the process tree: its parent (not init), children and
/// siblings, where processes sharing memory with it most often are (a fork's shared mapping).
pub(super) fn family(pid: u32) -> Vec<u32> {
    let mut out = list_children(pid);
    if let Some(parent) = parent_of(pid) {
        out.push(parent);
        out.extend(list_children(parent));
    }
    out.retain(|&p| p != pid);
    out.sort_unstable();
    out.dedup();
    out
}

/// The parent of `pid`, unless it is init (the parent of every service).
pub(super) fn parent_of(pid: u32) -> Option<u32> {
    stat_of(pid).map(|s| s.ppid).filter(|&p| p > 1)
}

fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every child of every thread of `pid` (bounded).
pub(super) fn list_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten().take(MAX_TASKS) {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let path = format!("/proc/{pid}/task/{tid}/children");
        let Some(raw) = read_bounded(&path, 64 << 10) else {
            continue;
        };
        for c in parse_pids(&raw) {
            if out.len() >= MAX_CHILDREN {
                return out;
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.sort_unstable();
    out
}

fn parse_pids(raw: &[u8]) -> Vec<u32> {
    raw.split(|b| b.is_ascii_whitespace())
        .filter_map(|w| std::str::from_utf8(w).ok()?.parse().ok())
        .filter(|&p| p > 0)
        .collect()
}

pub(super) struct Stat {
    state: char,
    ppid: u32,
    pgrp: u32,
}

pub(super) fn stat_of(pid: u32) -> Option<Stat> {
    let raw = read_bounded(&format!("/proc/{pid}/stat"), 4096)?;
    parse_stat(&raw)
}

/// `/proc/PID/stat`: "pid (comm) S ppid pgrp ...", the comm possibly holding ") ".
fn parse_stat(raw: &[u8]) -> Option<Stat> {
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(raw.get(close + 1..)?).ok()?;
    let mut w = rest.split_ascii_whitespace();
    let state = w.next()?.chars().next()?;
    let ppid = w.next()?.parse().ok()?;
    let pgrp = w.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits() {
        let sc = |number, args: [u64; 6]| Syscall { number, args };
        assert_eq!(
            waited(&sc(SYS_WAIT4, [812, 0, 0, 0, 0, 0])),
            Some(Waited::Pid(812))
        );
        assert_eq!(
            waited(&sc(SYS_WAIT4, [-1i64 as u64, 0, 0, 0, 0, 0])),
            Some(Waited::Any)
        );
        assert_eq!(
            waited(&sc(SYS_WAIT4, [0, 0, 0, 0, 0, 0])),
            Some(Waited::Group(0))
        );
        assert_eq!(
            waited(&sc(SYS_WAIT4, [-700i64 as u64, 0, 0, 0, 0, 0])),
            Some(Waited::Group(700))
        );
        assert_eq!(waited(&sc(SYS_WAIT4, [812, 0, WNOHANG, 0, 0, 0])), None);
        assert_eq!(
            waited(&sc(SYS_WAITID, [P_PID, 9, 0, 4, 0, 0])),
            Some(Waited::Pid(9))
        );
        assert_eq!(
            waited(&sc(SYS_WAITID, [P_ALL, 0, 0, 4, 0, 0])),
            Some(Waited::Any)
        );
        assert_eq!(waited(&sc(SYS_WAITID, [3, 5, 0, 4, 0, 0])), None);
        assert_eq!(waited(&sc(SYS_WAITID, [P_PID, 1 << 40, 0, 4, 0, 0])), None);
        assert_eq!(waited(&sc(0, [0; 6])), None);
    }

    #[test]
    fn stat_and_children_text() {
        let s = parse_stat(b"812 (a) b) (c) S 790 812 790 0").unwrap();
        assert_eq!((s.state, s.ppid, s.pgrp), ('S', 790, 812));
        assert!(parse_stat(b"812 (x").is_none());
        assert!(parse_stat(b"812 (x) S abc 1").is_none());
        assert_eq!(parse_pids(b"12 13 x 0 14\n"), [12, 13, 14]);
    }
}
