//! The top suspects of a watched process, ranked: deadlock cycles, then stuck threads holding a
//! lock others wait for, then spinners, then threads stuck long; one line each. And how the
//! groups of identical stacks grew or shrank over the watch.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::describe::{cycle_text, interesting_frame, quoted};
use crate::text::inert;
use crate::tracer::group::group_diff;
use crate::tracer::{Process, Thread};

use super::verdict::{Tracker, Verdict, short_duration};

/// A stuck thread nobody waits for is a suspect once stuck this long (shorter, it may be a
/// slow call).
pub const LONG_STUCK: Duration = Duration::from_secs(10);

/// One suspect, most telling first in [`suspects`].
#[derive(Debug, Clone, PartialEq)]
pub enum Suspect {
    /// Threads waiting for each other's mutexes, each for the next (the tracer's cycle).
    Deadlock { cycle: Vec<u32> },
    /// Stuck, holding a mutex `waiters` wait for.
    StuckHolder {
        tid: u32,
        waiters: usize,
        stuck_for: Duration,
    },
    /// Spinning at `cpu` of a core.
    Spinner { tid: u32, cpu: f64 },
    /// Stuck at least [`LONG_STUCK`], waiting for no suspect's lock.
    LongStuck { tid: u32, stuck_for: Duration },
}

/// The suspects of `p`, the newest snapshot `tracker` was fed: deadlocks in the tracer's order;
/// stuck holders by waiters then stuck time; spinners by CPU; long-stuck threads by stuck
/// time. A thread is listed once, and one waiting for a listed thread's lock not at all (its
/// holder explains it).
pub fn suspects(p: &Process, tracker: &Tracker) -> Vec<Suspect> {
    let mut out: Vec<Suspect> = Vec::new();
    let mut listed: HashSet<u32> = HashSet::new();
    for cycle in p.deadlocks() {
        listed.extend(cycle.iter().copied());
        out.push(Suspect::Deadlock {
            cycle: cycle.clone(),
        });
    }
    let verdicts = tracker.verdicts();
    let mut holders = Vec::new();
    let mut spinners = Vec::new();
    let mut stuck = Vec::new();
    for (tid, v) in &verdicts {
        if listed.contains(tid) {
            continue;
        }
        match *v {
            Verdict::Stuck { stuck_for, .. } if !tracker.waiters(*tid).is_empty() => {
                holders.push((*tid, tracker.waiters(*tid).len(), stuck_for))
            }
            Verdict::Spinning { cpu } => spinners.push((*tid, cpu)),
            Verdict::Stuck { stuck_for, .. } if stuck_for >= LONG_STUCK => {
                stuck.push((*tid, stuck_for))
            }
            _ => {}
        }
    }
    holders.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    spinners.sort_by(|a, b| b.1.total_cmp(&a.1));
    stuck.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (tid, waiters, stuck_for) in holders {
        listed.insert(tid);
        out.push(Suspect::StuckHolder {
            tid,
            waiters,
            stuck_for,
        });
    }
    for (tid, cpu) in spinners {
        listed.insert(tid);
        out.push(Suspect::Spinner { tid, cpu });
    }
    let owners: HashMap<u32, u32> = p
        .threads()
        .iter()
        .filter_map(|t| Some((t.id(), t.facts().lock.as_ref()?.owner?)))
        .collect();
    for (tid, stuck_for) in stuck {
        if owners.get(&tid).is_some_and(|o| listed.contains(o)) {
            continue;
        }
        out.push(Suspect::LongStuck { tid, stuck_for });
    }
    out
}

impl Suspect {
    /// The threads it names.
    pub fn tids(&self) -> Vec<u32> {
        match self {
            Suspect::Deadlock { cycle } => cycle.clone(),
            Suspect::StuckHolder { tid, .. }
            | Suspect::Spinner { tid, .. }
            | Suspect::LongStuck { tid, .. } => vec![*tid],
        }
    }
}

/// One line: `deadlock: 101 "a" → 102 "b" → 101`, `4245 "holder" stuck 12m at hold, holding a
/// lock 2 threads wait for`, `4244 "spin" spinning at spin_here, 98% of a core`, `4250
/// "reader" stuck 12m at read_config`.
pub fn suspect_text(p: &Process, s: &Suspect) -> String {
    match s {
        Suspect::Deadlock { cycle } => format!("deadlock: {}", cycle_text(p, cycle)),
        Suspect::StuckHolder {
            tid,
            waiters,
            stuck_for,
        } => format!(
            "{} stuck {}{}, holding a lock {waiters} thread{} wait{} for",
            label(p, *tid),
            short_duration(*stuck_for),
            at(p, *tid),
            if *waiters == 1 { "" } else { "s" },
            if *waiters == 1 { "s" } else { "" },
        ),
        Suspect::Spinner { tid, cpu } => format!(
            "{} spinning{}, {:.0}% of a core",
            label(p, *tid),
            at(p, *tid),
            cpu * 100.0
        ),
        Suspect::LongStuck { tid, stuck_for } => format!(
            "{} stuck {}{}",
            label(p, *tid),
            short_duration(*stuck_for),
            at(p, *tid)
        ),
    }
}

/// The header's short form: `DEADLOCK 101 "a" → 102 "b" → 101`, `STUCK 4245 "holder" 12m, 2
/// waiting`, `SPINNING 4244 "spin"`, `STUCK 4250 "reader" 12m`.
pub fn suspect_brief(p: &Process, s: &Suspect) -> String {
    match s {
        Suspect::Deadlock { cycle } => format!("DEADLOCK {}", cycle_text(p, cycle)),
        Suspect::StuckHolder {
            tid,
            waiters,
            stuck_for,
        } => format!(
            "STUCK {} {}, {waiters} waiting",
            label(p, *tid),
            short_duration(*stuck_for)
        ),
        Suspect::Spinner { tid, .. } => format!("SPINNING {}", label(p, *tid)),
        Suspect::LongStuck { tid, stuck_for } => {
            format!("STUCK {} {}", label(p, *tid), short_duration(*stuck_for))
        }
    }
}

fn thread(p: &Process, tid: u32) -> Option<&Thread> {
    p.threads().iter().find(|t| t.id() == tid)
}

/// `4245 "holder"`, or the id alone.
fn label(p: &Process, tid: u32) -> String {
    match thread(p, tid).and_then(|t| t.name()) {
        Some(name) => format!("{tid} {}", quoted(name)),
        None => tid.to_string(),
    }
}

/// ", at spin_here": the thread's interesting frame, if it has one with a name.
fn at(p: &Process, tid: u32) -> String {
    thread(p, tid)
        .and_then(interesting_frame)
        .and_then(|f| f.symbol())
        .map(|s| format!(" at {}", inert(s.name())))
        .unwrap_or_default()
}

/// A group of identical stacks whose size changed over a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Growth {
    /// The group's stack ([`crate::tracer::diff::stack_key`]).
    pub key: Vec<String>,
    pub from: usize,
    pub to: usize,
}

impl Growth {
    /// "grew from 3 to 40 threads", "shrank from 40 to 3 threads".
    pub fn text(&self) -> String {
        let verb = if self.to > self.from {
            "grew"
        } else {
            "shrank"
        };
        format!("{verb} from {} to {} threads", self.from, self.to)
    }
}

/// The groups whose size changed from `first` to `last`, largest now first. Groups of one
/// thread that appear or vanish are left out: a busy thread moves from stack to stack.
pub fn growth(first: &Process, last: &Process) -> Vec<Growth> {
    group_diff(first, last)
        .into_iter()
        .filter(|c| c.old_count != c.new_count && c.old_count.max(c.new_count) >= 2)
        .map(|c| Growth {
            key: c.key,
            from: c.old_count,
            to: c.new_count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{LOCKED, POOL, READ, SPIN, T, T0, snapshot, t};
    use super::*;

    const HOLD: &[&str] = &["pause", "holder", "start_thread"];

    fn waiter(tid: u32, owner: u32) -> T<'static> {
        T {
            owner: Some(owner),
            ..t(tid, "waiter", 0, Some(202), LOCKED)
        }
    }

    /// A process watched for 12 s (snapshots every second): a deadlock of 10 and 11, holder
    /// 20 with three waiters, holder 30 with two, spinners 40 (90%) and 41 (99%), reader 50
    /// stuck all along, reader 51 waiting on holder 30's lock... and a pool of 2 growing to 5.
    fn watched() -> Vec<Process> {
        (0..13u64)
            .map(|i| {
                let mut threads = vec![
                    waiter(10, 11),
                    waiter(11, 10),
                    t(20, "holder-a", 0, Some(34), HOLD),
                    waiter(21, 20),
                    waiter(22, 20),
                    waiter(23, 20),
                    t(30, "holder-b", 0, Some(34), HOLD),
                    waiter(31, 30),
                    t(40, "spin-a", i * 900, None, SPIN),
                    t(41, "spin-b", i * 990, None, SPIN),
                    t(50, "reader", 0, Some(0), READ),
                    // Stuck for long too, but explained by holder 30.
                    waiter(51, 30),
                ];
                let pool = if i < 6 { 2 } else { 5 };
                for k in 0..pool {
                    threads.push(t(60 + k, "pool", 0, Some(202), POOL));
                }
                snapshot(T0 + i * 1000, &threads, &[&[10, 11]])
            })
            .collect()
    }

    #[test]
    fn suspects_in_rank_order_one_line_each() {
        let snaps = watched();
        let tracker = Tracker::of(&snaps);
        let last = snaps.last().unwrap();
        let lines: Vec<String> = suspects(last, &tracker)
            .iter()
            .map(|s| suspect_text(last, s))
            .collect();
        let briefs: Vec<String> = suspects(last, &tracker)
            .iter()
            .map(|s| suspect_brief(last, s))
            .collect();
        assert_eq!(
            briefs[1..4],
            [
                "STUCK 20 \"holder-a\" 12s, 3 waiting",
                "STUCK 30 \"holder-b\" 12s, 2 waiting",
                "SPINNING 41 \"spin-b\""
            ]
        );
        assert_eq!(briefs[5], "STUCK 50 \"reader\" 12s");
        assert_eq!(
            lines,
            [
                "deadlock: 10 \"waiter\" → 11 \"waiter\" → 10",
                "20 \"holder-a\" stuck 12s at holder, holding a lock 3 threads wait for",
                "30 \"holder-b\" stuck 12s at holder, holding a lock 2 threads wait for",
                "41 \"spin-b\" spinning at spin_here, 99% of a core",
                "40 \"spin-a\" spinning at spin_here, 90% of a core",
                "50 \"reader\" stuck 12s at reader",
            ]
        );
    }

    #[test]
    fn short_watches_name_fewer_suspects() {
        // Two snapshots: no verdict yet, so only the tracer's deadlock.
        let snaps = watched();
        let tracker = Tracker::of(&snaps[..2]);
        let found = suspects(&snaps[1], &tracker);
        assert_eq!(
            found,
            [Suspect::Deadlock {
                cycle: vec![10, 11]
            }]
        );
        // Four seconds: holders and spinners, no thread stuck long enough on its own.
        let tracker = Tracker::of(&snaps[..5]);
        let tids: Vec<Vec<u32>> = suspects(&snaps[4], &tracker)
            .iter()
            .map(Suspect::tids)
            .collect();
        assert_eq!(tids, [vec![10, 11], vec![20], vec![30], vec![41], vec![40]]);
    }

    #[test]
    fn group_growth_over_the_watch() {
        let snaps = watched();
        let grown = growth(&snaps[0], snaps.last().unwrap());
        assert_eq!(grown.len(), 1);
        assert_eq!(grown[0].key[2], "pool_worker");
        assert_eq!(grown[0].text(), "grew from 2 to 5 threads");
        let shrunk = growth(snaps.last().unwrap(), &snaps[0]);
        assert_eq!(shrunk[0].text(), "shrank from 5 to 2 threads");
        assert!(growth(&snaps[0], &snaps[5]).is_empty());
    }
}
