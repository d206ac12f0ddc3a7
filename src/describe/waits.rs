//! What a thread waits on and for which lock, the deadlock cycles it is part of, and a Go
//! goroutine's state as Go's traceback words it: one wording for `dump` and the panes.

use std::fmt::Write;

use crate::text::inert;
use crate::tracer::{Goroutine, Process, Thread};

use super::quoted;

/// "101 \"lock-a\" → 102 \"lock-b\" → 101": a wait-for cycle, closed.
pub fn cycle_text(p: &Process, cycle: &[u32]) -> String {
    let mut parts: Vec<String> = cycle.iter().map(|tid| thread_label(p, *tid)).collect();
    if let Some(first) = cycle.first() {
        parts.push(first.to_string());
    }
    parts.join(" → ")
}

/// "102 \"lock-b\"": a tid with its name, if the thread is known.
fn thread_label(p: &Process, tid: u32) -> String {
    match p
        .threads()
        .iter()
        .find(|t| t.id() == tid)
        .and_then(|t| t.name())
    {
        Some(name) => format!("{tid} {}", quoted(name)),
        None => tid.to_string(),
    }
}

/// What the thread waits for, when it waits on a lock: owner or why none is known.
pub fn lock_text(p: &Process, t: &Thread) -> Option<String> {
    let lock = t.facts().lock.as_ref()?;
    Some(match (lock.owner, &lock.note) {
        (Some(owner), _) => format!(
            "waiting for mutex {:#x} held by {}",
            lock.address,
            thread_label(p, owner)
        ),
        (None, Some(note)) => format!("waiting on {:#x}: {}", lock.address, inert(note)),
        (None, None) => format!("waiting on {:#x}", lock.address),
    })
}

/// "owner 29087 \"worker-3\": S in futex_wait(0x7f…) at take_job pool.rs:42": what the thread
/// holding the mutex `t` waits for is doing (its state, wait and interesting frame), when the
/// owner is known.
pub fn owner_text(p: &Process, t: &Thread) -> Option<String> {
    let owner = t.facts().lock.as_ref()?.owner?;
    let Some(o) = p.threads().iter().find(|x| x.id() == owner) else {
        return Some(format!("owner {owner}: not a thread of this snapshot"));
    };
    let f = o.facts();
    let mut s = format!("owner {}:", thread_label(p, owner));
    if let Some(c) = f.state {
        let _ = write!(s, " {}", inert(c.encode_utf8(&mut [0; 4])));
    }
    if let Some(w) = &f.wait {
        let _ = write!(s, " in {}", inert(w));
    } else if let Some(name) = f.syscall.as_ref().and_then(|sc| sc.name()) {
        let _ = write!(s, " in {name}");
    }
    if let Some(fr) = super::interesting_frame(o) {
        match fr.symbol() {
            Some(sym) => {
                let _ = write!(s, " at {}", inert(sym.name()));
            }
            None => {
                let _ = write!(s, " at {:#x}", fr.ip());
            }
        }
        if let Some(l) = fr.location() {
            let _ = write!(s, " {}:{}", inert(super::basename(&l.file)), l.line);
        }
    }
    Some(s)
}

/// "chan receive, 3 minutes, thread 1234": what Go shows in brackets (the minutes only from
/// the first, as Go does), and its thread.
pub fn goroutine_state(g: &Goroutine) -> String {
    let mut s = inert(g.state()).into_owned();
    if let Some(minutes) = g
        .waiting_for()
        .map(|w| w.as_secs() / 60)
        .filter(|&m| m >= 1)
    {
        let _ = write!(s, ", {minutes} minutes");
    }
    if let Some(tid) = g.thread() {
        let _ = write!(s, ", thread {tid}");
    }
    s
}

/// "S sleeping, futex_wait_queue, in futex" — the state and what the thread waits on; "S
/// sleeping (R just before the capture), in clock_nanosleep(CLOCK_MONOTONIC)" when the thread
/// was caught otherwise than /proc showed it; "R running, leaving clock_nanosleep (it
/// returned)" for a thread caught on its way out of a call, "R running, just back from a system
/// call" for one caught at the instruction after it.
pub fn waiting_on(t: &Thread) -> String {
    let facts = t.facts();
    let mut s = match facts.state {
        Some(c) => format!(
            "{} {}",
            inert(c.encode_utf8(&mut [0; 4])),
            facts.state_name()
        ),
        None => "state unknown".into(),
    };
    if let Some(before) = facts.state_before {
        let _ = write!(
            s,
            " ({} just before the capture)",
            inert(before.encode_utf8(&mut [0; 4]))
        );
    }
    if let Some(w) = &facts.wchan {
        let _ = write!(s, ", wchan {}", inert(w));
    }
    if let Some(w) = &facts.wait {
        let _ = write!(s, ", in {}", inert(w));
    } else if let Some(sc) = &facts.syscall {
        match sc.name() {
            Some(name) => {
                let _ = write!(s, ", in {name}");
            }
            None => {
                let _ = write!(s, ", in syscall {}", sc.number);
            }
        }
    }
    if let Some(leaving) = &facts.leaving {
        match &leaving.call {
            Some(sc) => match sc.name() {
                Some(name) => {
                    let _ = write!(s, ", leaving {name} (it returned)");
                }
                None => {
                    let _ = write!(s, ", leaving syscall {} (it returned)", sc.number);
                }
            },
            None => s.push_str(", just back from a system call"),
        }
    }
    s
}

/// "S at the capture, R just before; leaving clock_nanosleep (it returned)": what the capture
/// found that /proc, read just before the thread's stop, did not show. For the inspector.
pub fn capture_note(t: &Thread) -> Option<String> {
    let facts = t.facts();
    let mut parts = Vec::new();
    if let (Some(now), Some(before)) = (facts.state, facts.state_before) {
        let mut a = [0; 4];
        let mut b = [0; 4];
        parts.push(format!(
            "{} at the capture, {} just before",
            inert(now.encode_utf8(&mut a)),
            inert(before.encode_utf8(&mut b))
        ));
    }
    if let Some(leaving) = &facts.leaving {
        parts.push(match leaving.call.as_ref() {
            Some(sc) => match sc.name() {
                Some(name) => format!("leaving {name} (it returned)"),
                None => format!("leaving syscall {} (it returned)", sc.number),
            },
            None => "just back from a system call".into(),
        });
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod state_tests {
    use super::*;
    use crate::tracer::{Leaving, Syscall, ThreadFacts};

    fn thread(facts: ThreadFacts) -> Thread {
        Thread {
            id: 7,
            name: None,
            facts,
            frames: Vec::new().into(),
            end: None,
            error: None,
            stopped_for: std::time::Duration::ZERO,
        }
    }

    const SLEEP: Syscall = Syscall {
        number: 230,
        args: [1, 0, 0, 0, 0, 0],
    };

    #[test]
    fn the_state_at_the_capture_and_the_one_before() {
        let asleep = thread(ThreadFacts {
            state: Some('S'),
            state_before: Some('R'),
            syscall: Some(SLEEP),
            wait: Some("clock_nanosleep(CLOCK_MONOTONIC)".into()),
            ..ThreadFacts::default()
        });
        assert_eq!(
            waiting_on(&asleep),
            "S sleeping (R just before the capture), in clock_nanosleep(CLOCK_MONOTONIC)"
        );
        let leaving = thread(ThreadFacts {
            state: Some('R'),
            leaving: Some(Leaving { call: Some(SLEEP) }),
            ..ThreadFacts::default()
        });
        assert_eq!(
            waiting_on(&leaving),
            "R running, leaving clock_nanosleep (it returned)"
        );
        let back = thread(ThreadFacts {
            state: Some('R'),
            state_before: Some('S'),
            leaving: Some(Leaving { call: None }),
            ..ThreadFacts::default()
        });
        assert_eq!(
            waiting_on(&back),
            "R running (S just before the capture), just back from a system call"
        );
        assert_eq!(
            capture_note(&back).as_deref(),
            Some("R at the capture, S just before; just back from a system call")
        );
        assert_eq!(
            capture_note(&asleep).as_deref(),
            Some("S at the capture, R just before")
        );
        assert_eq!(
            capture_note(&leaving).as_deref(),
            Some("leaving clock_nanosleep (it returned)")
        );
        assert_eq!(capture_note(&thread(ThreadFacts::default())), None);
    }
}
