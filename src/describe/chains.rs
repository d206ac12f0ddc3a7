//! The wording of wait chains, for `dump` and the panes: a blocked thread's chain one link a
//! line, a short "→ holder" for a column, and a cycle across processes with every edge named.
//! Parties of the process shown are named by tid, others by pid (and tid when known).

use std::collections::HashSet;
use std::fmt::Write;

use crate::text::inert;
use crate::tracer::{
    LinkKind, Party, Process, Thread, ThreadFacts, WaitChain, WaitCycle, WaitLink,
};

use super::quoted;

/// Most holders named on one link's line; more are counted.
const HOLDERS_NAMED: usize = 4;

/// The indent of a chain's lines under its thread's header (after the "  -- wait chain:" line).
const INDENT: &str = "     ";

/// The widest link line, in characters, before its holders go on a line of their own: with
/// its indent, 80 columns.
const LINK_WIDTH: usize = 80 - INDENT.len();

/// `tid 104 "b"` for a thread of process `home`, `pid 812 tid 815 "db-writer"` for one of
/// another process, `pid 790 "backup"` for a process whose thread is not known.
pub fn party_label(home: u32, p: &Party) -> String {
    let mut s = String::new();
    match p.tid {
        Some(tid) if p.pid == home => {
            let _ = write!(s, "tid {tid}");
        }
        Some(tid) => {
            let _ = write!(s, "pid {} tid {tid}", p.pid);
        }
        None => {
            let _ = write!(s, "pid {}", p.pid);
        }
    }
    if !p.name.is_empty() {
        let _ = write!(s, " {}", quoted(&p.name));
    }
    s
}

/// "S sleeping, in pause()", "R running", "gone": what a party was doing when the chain was read.
pub fn party_state(p: &Party) -> String {
    let mut s = match p.state {
        Some(c) => {
            let name = ThreadFacts {
                state: Some(c),
                ..ThreadFacts::default()
            }
            .state_name();
            format!("{} {name}", inert(c.encode_utf8(&mut [0; 4])))
        }
        None => String::new(),
    };
    if let Some(w) = &p.wait {
        if !s.is_empty() {
            s.push_str(", in ");
        }
        s.push_str(&inert(w));
    }
    if s.is_empty() {
        s.push_str("state unknown");
    }
    s
}

/// "mutex 0x4040a0", `pipe:[81234]`, "file lock /var/lib/app/lock (flock)": the object, with
/// its kind in front unless the object's words already start with it.
pub fn link_object(l: &WaitLink) -> String {
    let object = inert(&l.object);
    let kind = l.kind.as_str();
    if object.starts_with(kind) {
        object.into_owned()
    } else {
        format!("{kind} {object}")
    }
}

/// How the holders of a link end its wait: "held by", "peer", ...
fn holders_verb(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Mutex | LinkKind::RwLock | LinkKind::FileLock => "held by",
        LinkKind::SharedFutex => "may be woken by",
        LinkKind::Pipe => "other end in",
        LinkKind::UnixSocket | LinkKind::Tcp | LinkKind::Udp => "peer",
        LinkKind::UnixListener => "clients",
        LinkKind::Child => "child",
        LinkKind::Epoll => "peers",
    }
}

/// `held by tid 104 "b"`, `peer pid 812 tid 815 "db-writer"`, "nobody found".
fn holders_text(home: u32, l: &WaitLink) -> String {
    if l.holders.is_empty() {
        return "nobody found".into();
    }
    let mut s = format!("{} ", holders_verb(l.kind));
    for (i, h) in l.holders.iter().take(HOLDERS_NAMED).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&party_label(home, h));
    }
    if l.holders.len() > HOLDERS_NAMED {
        let _ = write!(s, " and {} more", l.holders.len() - HOLDERS_NAMED);
    }
    s
}

/// `tid 103 "a" → mutex 0x4040a0 → held by tid 104 "b"`: one link on one line.
pub fn link_text(home: u32, l: &WaitLink) -> String {
    format!(
        "{} → {} → {}",
        party_label(home, &l.waiter),
        link_object(l),
        holders_text(home, l)
    )
}

/// The lines of a chain (without their indent): each link, its note in parentheses under it;
/// then where the chain ends: "↺ back to tid N: deadlock" on a cycle, else each last holder
/// with what it does, and the chain's end note.
pub fn chain_lines(home: u32, chain: &WaitChain) -> Vec<String> {
    let mut lines = Vec::with_capacity(chain.links.len() + 2);
    for l in &chain.links {
        let line = link_text(home, l);
        if line.chars().count() <= LINK_WIDTH {
            lines.push(line);
        } else {
            // Too wide: the holders under the waiter and the object.
            lines.push(format!(
                "{} → {}",
                party_label(home, &l.waiter),
                link_object(l)
            ));
            lines.push(format!("  → {}", holders_text(home, l)));
        }
        if let Some(note) = &l.note {
            lines.push(format!("  ({})", inert(note)));
        }
    }
    match chain.cycle.and_then(|at| chain.links.get(at)) {
        Some(first) => {
            let back = match first.waiter.tid {
                Some(tid) if first.waiter.pid == home => format!("tid {tid}"),
                Some(tid) => format!("pid {} tid {tid}", first.waiter.pid),
                None => format!("pid {}", first.waiter.pid),
            };
            lines.push(format!("↺ back to {back}: deadlock"));
        }
        None => {
            if let Some(last) = chain.links.last() {
                for h in last.holders.iter().take(HOLDERS_NAMED) {
                    lines.push(format!("{}: {}", party_label(home, h), party_state(h)));
                }
            }
        }
    }
    if let Some(end) = &chain.end {
        lines.push(format!("({})", inert(end)));
    }
    lines
}

/// Writes a thread's chain under its header: "  -- wait chain:" and the lines indented.
pub fn write_chain(out: &mut String, home: u32, chain: &WaitChain) {
    out.push_str("  -- wait chain:\n");
    for line in chain_lines(home, chain) {
        out.push_str(INDENT);
        out.push_str(&line);
        out.push('\n');
    }
}

/// `→ tid 104 "b"`, `→ pid 812 "db-writer"`: the first holder of the chain's first link, for
/// a column of `max` characters: a holder in another process is named by its pid, and its
/// name only when the whole fits (the chain has the rest).
pub fn chain_short(home: u32, chain: &WaitChain, max: usize) -> Option<String> {
    let h = chain.links.first()?.holders.first()?;
    let mut s = if h.pid == home {
        match h.tid {
            Some(tid) => format!("→ tid {tid}"),
            None => format!("→ pid {}", h.pid),
        }
    } else {
        format!("→ pid {}", h.pid)
    };
    let name = quoted(&h.name);
    if !h.name.is_empty() && s.chars().count() + 1 + name.chars().count() <= max {
        let _ = write!(s, " {name}");
    }
    Some(s)
}

/// `tid 101 "a" waits on unix socket socket:[81234] → pid 812 tid 815 "b" waits on file lock
/// /var/lib/app/lock → tid 101 "a"`: a cycle, closed, every edge named (for a `deadlock:` line).
pub fn wait_cycle_text(home: u32, cycle: &WaitCycle) -> String {
    let mut parts: Vec<String> = cycle
        .links
        .iter()
        .map(|l| {
            format!(
                "{} waits on {}",
                party_label(home, &l.waiter),
                link_object(l)
            )
        })
        .collect();
    if let Some(first) = cycle.links.first() {
        parts.push(party_label(home, &first.waiter));
    }
    parts.join(" → ")
}

/// `tid 101 "a" → pid 812 tid 815 "b" → tid 101`: a cycle's waiters only, closed (for a
/// header's DEADLOCK banner, where the objects do not fit).
pub fn wait_cycle_brief(home: u32, cycle: &WaitCycle) -> String {
    let mut parts: Vec<String> = cycle
        .links
        .iter()
        .map(|l| party_label(home, &l.waiter))
        .collect();
    if let Some(first) = cycle.links.first() {
        parts.push(match first.waiter.tid {
            Some(tid) if first.waiter.pid == home => format!("tid {tid}"),
            _ => party_label(home, &first.waiter),
        });
    }
    parts.join(" → ")
}

/// The threads whose chains a chain view lists: longest chain first (then by tid), a chain
/// left out when each of its waiters is a waiter of one listed before it (the tail of a longer
/// chain, the same deadlock seen from another of its threads).
pub fn listed_chains(p: &Process) -> Vec<(&Thread, &WaitChain)> {
    let mut all: Vec<(&Thread, &WaitChain)> = p
        .threads()
        .iter()
        .filter_map(|t| Some((t, t.facts().chain.as_ref()?)))
        .collect();
    all.sort_by_key(|(t, c)| (std::cmp::Reverse(c.links.len()), t.id()));
    let mut listed: Vec<(&Thread, &WaitChain)> = Vec::new();
    let mut waiters: Vec<HashSet<(u32, Option<u32>)>> = Vec::new();
    for (t, c) in all {
        let mine: HashSet<(u32, Option<u32>)> = c
            .links
            .iter()
            .map(|l| (l.waiter.pid, l.waiter.tid))
            .collect();
        if waiters.iter().any(|w| mine.is_subset(w)) {
            continue;
        }
        waiters.push(mine);
        listed.push((t, c));
    }
    listed
}

/// `blocked by tid 105 "c" (S sleeping, in pause()): 2 links, from tid 103 "a"`, or
/// `deadlock: 2 links, from tid 101 "lock-a"`: a chain's heading in a chain view, its root
/// blocker first.
pub fn chain_heading(home: u32, chain: &WaitChain) -> String {
    let n = chain.links.len();
    let from = chain
        .links
        .first()
        .map(|l| party_label(home, &l.waiter))
        .unwrap_or_default();
    let links = format!("{n} link{}, from {from}", if n == 1 { "" } else { "s" });
    if chain.cycle.is_some() {
        return format!("deadlock: {links}");
    }
    let holders = chain.links.last().map_or(&[][..], |l| &l.holders[..]);
    match holders {
        [] => format!("blocked by nobody found: {links}"),
        [h, rest @ ..] => {
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" and {} more", rest.len())
            };
            format!(
                "blocked by {} ({}){more}: {links}",
                party_label(home, h),
                party_state(h)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(pid: u32, tid: Option<u32>, name: &str, state: char, wait: Option<&str>) -> Party {
        Party {
            pid,
            tid,
            name: name.into(),
            state: Some(state),
            wait: wait.map(Into::into),
        }
    }

    fn link(waiter: Party, kind: LinkKind, object: &str, holders: Vec<Party>) -> WaitLink {
        WaitLink {
            waiter,
            kind,
            object: object.into(),
            holders,
            note: None,
        }
    }

    const HOME: u32 = 100;

    #[test]
    fn an_in_process_mutex_chain_of_two_links() {
        let a = party(HOME, Some(103), "a", 'S', Some("futex_wait(0x4040a0)"));
        let b = party(HOME, Some(104), "b", 'S', Some("futex_wait(0x4040e0)"));
        let c = party(
            HOME,
            Some(105),
            "c",
            'S',
            Some("clock_nanosleep(CLOCK_REALTIME)"),
        );
        let chain = WaitChain {
            links: vec![
                link(a, LinkKind::Mutex, "mutex 0x4040a0", vec![b.clone()]),
                link(b, LinkKind::Mutex, "mutex 0x4040e0", vec![c]),
            ],
            cycle: None,
            end: None,
        };
        let mut out = String::new();
        write_chain(&mut out, HOME, &chain);
        assert_eq!(
            out,
            "  -- wait chain:\n\
             \x20    tid 103 \"a\" → mutex 0x4040a0 → held by tid 104 \"b\"\n\
             \x20    tid 104 \"b\" → mutex 0x4040e0 → held by tid 105 \"c\"\n\
             \x20    tid 105 \"c\": S sleeping, in clock_nanosleep(CLOCK_REALTIME)\n"
        );
        assert_eq!(
            chain_short(HOME, &chain, usize::MAX).as_deref(),
            Some("→ tid 104 \"b\"")
        );
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    }

    #[test]
    fn a_cross_process_cycle_with_a_note() {
        let worker = party(
            HOME,
            Some(101),
            "worker",
            'S',
            Some("read(fd 7 → socket:[81234])"),
        );
        let writer = party(
            812,
            Some(815),
            "db-writer",
            'S',
            Some("flock(fd 3 → /var/lib/app/lock)"),
        );
        let mut first = link(
            worker.clone(),
            LinkKind::UnixSocket,
            "socket:[81234]",
            vec![writer.clone()],
        );
        first.note = Some("peer\u{1b}[2J found by inode".into());
        let second = link(
            writer,
            LinkKind::FileLock,
            "/var/lib/app/lock (flock)",
            vec![worker],
        );
        let chain = WaitChain {
            links: vec![first.clone(), second.clone()],
            cycle: Some(0),
            end: None,
        };
        assert_eq!(
            chain_lines(HOME, &chain),
            [
                "tid 101 \"worker\" → unix socket socket:[81234]",
                "  → peer pid 812 tid 815 \"db-writer\"",
                "  (peer\\x1b[2J found by inode)",
                "pid 812 tid 815 \"db-writer\" → file lock /var/lib/app/lock (flock)",
                "  → held by tid 101 \"worker\"",
                "↺ back to tid 101: deadlock",
            ]
        );
        // Each link too wide for 80 columns went on two lines.
        let mut out = String::new();
        write_chain(&mut out, HOME, &chain);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        assert_eq!(
            chain_short(HOME, &chain, usize::MAX).as_deref(),
            Some("→ pid 812 \"db-writer\"")
        );
        // In a narrow column the name goes first.
        assert_eq!(chain_short(HOME, &chain, 16).as_deref(), Some("→ pid 812"));
        let cycle = WaitCycle {
            links: vec![first, second],
        };
        assert_eq!(
            wait_cycle_text(HOME, &cycle),
            "tid 101 \"worker\" waits on unix socket socket:[81234] → pid 812 tid 815 \
             \"db-writer\" waits on file lock /var/lib/app/lock (flock) → tid 101 \"worker\""
        );
    }

    #[test]
    fn holders_not_found_many_holders_and_the_end_note() {
        let w = party(HOME, Some(101), "w", 'S', None);
        let mut nobody = link(w.clone(), LinkKind::Pipe, "pipe:[7]", Vec::new());
        nobody.note = Some("no permission to read pid 1's fds (run as root)".into());
        let chain = WaitChain {
            links: vec![nobody],
            cycle: None,
            end: Some("cut at 12 links".into()),
        };
        assert_eq!(
            chain_lines(HOME, &chain),
            [
                "tid 101 \"w\" → pipe:[7] → nobody found",
                "  (no permission to read pid 1's fds (run as root))",
                "(cut at 12 links)",
            ]
        );
        assert_eq!(chain_short(HOME, &chain, usize::MAX), None);
        assert_eq!(
            chain_heading(HOME, &chain),
            "blocked by nobody found: 1 link, from tid 101 \"w\""
        );
        let readers: Vec<Party> = (0..6)
            .map(|i| Party {
                pid: 900 + i,
                tid: None,
                name: String::new(),
                state: (i == 0).then_some('R'),
                wait: (i == 1).then(|| "gone".to_string()),
            })
            .collect();
        let many = WaitChain {
            links: vec![link(w, LinkKind::Child, "pid 900", readers)],
            cycle: None,
            end: None,
        };
        assert_eq!(
            chain_lines(HOME, &many),
            [
                "tid 101 \"w\" → child pid 900",
                "  → child pid 900, pid 901, pid 902, pid 903 and 2 more",
                "pid 900: R running",
                "pid 901: gone",
                "pid 902: state unknown",
                "pid 903: state unknown",
            ]
        );
        assert_eq!(
            chain_heading(HOME, &many),
            "blocked by pid 900 (R running) and 5 more: 1 link, from tid 101 \"w\""
        );
    }
}
