//! Builds each blocked thread's wait chain, holder after holder, and the cycles the chains
//! close. A holder process (a socket's peer, a lock held by a process) is followed through the
//! thread that keeps it waiting: none when one of its threads runs (it is not stuck).

use std::collections::{HashMap, HashSet};

use crate::tracer::model::Thread;

use super::link::{Party, WaitChain, WaitCycle, WaitLink};
use super::parties::{Parties, Seen};
use super::resolve::{Resolved, System};

/// Most links followed from one thread: a chain longer than this is cut with a note.
const MAX_LINKS: usize = 12;

/// Gives every blocked thread of `threads` (of process `pid`) whose wait names somebody its
/// chain, and returns the cycles found (those of mutexes inside the process alone are left
/// out: [`crate::tracer::Process::deadlocks`] has them).
/// `budget` bounds the time spent reading other processes' fds to find a pipe's or socket's
/// other end.
pub(crate) fn build(
    pid: u32,
    threads: &mut [Thread],
    budget: std::time::Duration,
) -> Vec<WaitCycle> {
    let mut g = Graph {
        parties: Parties::new(pid, threads),
        system: System::new(budget),
        resolved: HashMap::new(),
    };
    let mut cycles: Vec<WaitCycle> = Vec::new();
    let mut seen_cycles: HashSet<Vec<u32>> = HashSet::new();
    for t in threads.iter_mut() {
        let Some(chain) = g.chain(pid, t.id()) else {
            continue;
        };
        if let Some(at) = chain.cycle {
            let links = chain.links[at..].to_vec();
            let inside = links
                .iter()
                .all(|l| l.kind == super::LinkKind::Mutex && l.waiter.pid == pid);
            if let Some(cycle) = normalized(links)
                && !inside
                && seen_cycles.insert(cycle.links.iter().filter_map(|l| l.waiter.tid).collect())
            {
                cycles.push(cycle);
            }
        }
        owned_elsewhere(pid, &chain, &mut t.facts);
        t.facts.chain = Some(chain);
    }
    cycles.sort_by_key(|c| c.links.first().and_then(|l| l.waiter.tid));
    cycles
}

/// A thread of `pid` waiting for a mutex whose owner is in another process (a process-shared
/// mutex): its lock hint, which looked among `pid`'s threads only, says where the owner is.
fn owned_elsewhere(pid: u32, chain: &WaitChain, facts: &mut crate::tracer::ThreadFacts) {
    let (Some(first), Some(lock)) = (chain.links.first(), facts.lock.as_mut()) else {
        return;
    };
    if first.kind != super::LinkKind::Mutex || lock.owner.is_some() {
        return;
    }
    if let Some(h) = first.holders.first().filter(|h| h.pid != pid) {
        let tid = h.tid.map(|t| format!(" tid {t}")).unwrap_or_default();
        lock.note = Some(format!(
            "a process-shared mutex held in another process: pid {}{tid} (see the wait chain)",
            h.pid
        ));
    }
}

/// The cycle's links starting at the smallest waiter tid.
fn normalized(mut links: Vec<WaitLink>) -> Option<WaitCycle> {
    let start = links
        .iter()
        .enumerate()
        .min_by_key(|(_, l)| l.waiter.tid)?
        .0;
    links.rotate_left(start);
    Some(WaitCycle { links })
}

struct Graph {
    parties: Parties,
    system: System,
    /// Each thread's wait, resolved once per build (a thousand readers of one socket, one
    /// lookup each).
    resolved: HashMap<u32, Option<Resolved>>,
}

impl Graph {
    /// The chain from thread `tid` of `pid`, if its wait names somebody.
    fn chain(&mut self, pid: u32, tid: u32) -> Option<WaitChain> {
        let mut chain = WaitChain::default();
        let mut on_chain: HashMap<u32, usize> = HashMap::new();
        let mut current = self.parties.thread(pid, tid)?;
        loop {
            let waiter_tid = current.party.tid?;
            if chain.links.len() >= MAX_LINKS {
                chain.end = Some(format!("cut at {MAX_LINKS} links"));
                break;
            }
            let Some(r) = self.resolve(&current) else {
                break;
            };
            on_chain.insert(waiter_tid, chain.links.len());
            let holders: Vec<Party> = r
                .holders
                .iter()
                .map(|&(p, t)| match t {
                    Some(t) => self
                        .parties
                        .thread(p, t)
                        .map(|s| s.party)
                        .unwrap_or_else(|| gone(p, Some(t))),
                    None => self.parties.process(p),
                })
                .collect();
            chain.links.push(WaitLink {
                waiter: current.party.clone(),
                kind: r.kind,
                object: r.object.clone(),
                holders: holders.clone(),
                note: r.note.clone(),
            });
            let (next, end) = self.next_waiter(current.party.pid, &holders, &on_chain);
            if let Some(end) = end {
                chain.end = Some(end);
            }
            let Some(next) = next else {
                break;
            };
            if let Some(&at) = next.party.tid.and_then(|t| on_chain.get(&t)) {
                chain.cycle = Some(at);
                break;
            }
            current = next;
        }
        (!chain.links.is_empty()).then_some(chain)
    }

    fn resolve(&mut self, s: &Seen) -> Option<Resolved> {
        let tid = s.party.tid?;
        if !matches!(s.party.state, Some('S' | 'D')) {
            return None;
        }
        let sc = s.syscall.clone()?;
        if let Some(r) = self.resolved.get(&tid) {
            return r.clone();
        }
        let r = self.system.resolve(s.party.pid, tid, &sc, s.lock.as_ref());
        self.resolved.insert(tid, r.clone());
        r
    }

    /// Which holder's thread the chain goes on with, and why it stops when it does not.
    /// A holder thread is followed when it waits on something; a holder process through the
    /// thread that keeps it waiting, preferring one already on the chain (it closes a cycle),
    /// and not at all when one of its threads runs, nor when it is the waiter's own process (a
    /// pipe it holds both ends of: which of its threads would write is not known, and the
    /// waiter itself must not close a cycle alone).
    fn next_waiter(
        &mut self,
        waiter_pid: u32,
        holders: &[Party],
        on_chain: &HashMap<u32, usize>,
    ) -> (Option<Seen>, Option<String>) {
        let own = |h: &&Party| h.tid.is_none() && h.pid == waiter_pid;
        if !holders.is_empty() && holders.iter().all(|h| own(&h)) {
            return (
                None,
                Some("the other end is held by its own process".into()),
            );
        }
        let holders: Vec<&Party> = holders.iter().filter(|h| !own(h)).collect();
        for h in &holders {
            if h.state == Some('R') {
                // The holder runs: the wait may end by itself; not stuck here.
                return (None, None);
            }
        }
        let mut candidates: Vec<Seen> = Vec::new();
        for h in &holders {
            match h.tid {
                Some(t) => {
                    if let Some(s) = self.parties.thread(h.pid, t) {
                        candidates.push(s);
                    }
                }
                None => {
                    for t in self.parties.tids(h.pid) {
                        if let Some(s) = self.parties.thread(h.pid, t) {
                            candidates.push(s);
                        }
                    }
                }
            }
        }
        if let Some(s) = candidates
            .iter()
            .find(|s| s.party.tid.is_some_and(|t| on_chain.contains_key(&t)))
        {
            return (Some(s.clone()), None);
        }
        let waiting: Vec<Seen> = candidates
            .into_iter()
            .filter(|s| self.resolve(s).is_some())
            .collect();
        match waiting.len() {
            0 => (None, None),
            1 => (waiting.into_iter().next(), None),
            n => {
                let first = waiting.into_iter().next();
                let note = first
                    .as_ref()
                    .and_then(|s| s.party.tid)
                    .map(|t| format!("{n} threads of the holders wait on something: followed {t}"));
                (first, note)
            }
        }
    }
}

/// A party that exited while the chain was read.
fn gone(pid: u32, tid: Option<u32>) -> Party {
    Party {
        pid,
        tid,
        name: String::new(),
        state: None,
        wait: Some("gone".into()),
    }
}
