//! The processes and threads met along a chain, read from `/proc` once each per chain build:
//! a thread's name, state and what it waits in, and a process's threads, to pick the one that
//! keeps a holder process from ending a wait.

use std::collections::HashMap;

use crate::tracer::model::{LockHint, Syscall, Thread};
use crate::tracer::procfs::procinfo::{self, TaskDirs};

use super::link::Party;

/// Most threads of one other process looked at to pick who keeps it waiting (each costs its
/// `stat`, `syscall` and maybe `wchan`, some 40 µs: 512 of them about 20 ms).
const MAX_THREADS_LOOKED_AT: usize = 512;

/// One thread as seen for a chain: who, in which state, in which call.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub party: Party,
    pub syscall: Option<Syscall>,
    /// The lock the trace found it waiting for (threads of the traced process only).
    pub lock: Option<LockHint>,
}

/// Threads already read, by tid, and each process's thread list.
pub(super) struct Parties {
    threads: HashMap<u32, Option<Seen>>,
    tasks: HashMap<u32, Vec<u32>>,
}

impl Parties {
    /// Starts from the traced process's snapshot: its threads are as the trace saw them.
    pub(super) fn new(pid: u32, traced: &[Thread]) -> Parties {
        let mut threads = HashMap::new();
        for t in traced {
            let f = t.facts();
            threads.insert(
                t.id(),
                Some(Seen {
                    party: Party {
                        pid,
                        tid: Some(t.id()),
                        name: t.name().unwrap_or_default().to_string(),
                        state: f.state,
                        wait: f.wait.clone(),
                    },
                    syscall: f.syscall.clone(),
                    lock: f.lock.clone(),
                }),
            );
        }
        let tasks = HashMap::from([(pid, traced.iter().map(Thread::id).collect())]);
        Parties { threads, tasks }
    }

    /// Thread `tid` of `pid`, read once; None when it is gone or unreadable.
    pub(super) fn thread(&mut self, pid: u32, tid: u32) -> Option<Seen> {
        self.threads
            .entry(tid)
            .or_insert_with(|| read_thread(pid, tid))
            .clone()
    }

    /// Process `pid` as a party: its main thread's name and state, R when any of its threads
    /// runs (then nothing in it is stuck); for a process of one thread, what that thread
    /// waits in.
    pub(super) fn process(&mut self, pid: u32) -> Party {
        let tids = self.tids(pid);
        let main = self.thread(pid, pid).map(|s| s.party);
        if tids == [pid]
            && let Some(only) = &main
        {
            return Party {
                tid: None,
                ..only.clone()
            };
        }
        let running = tids.iter().take(MAX_THREADS_LOOKED_AT).any(|&t| {
            self.thread(pid, t)
                .is_some_and(|s| s.party.state == Some('R'))
        });
        Party {
            pid,
            tid: None,
            name: main
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_else(|| format!("pid {pid}")),
            state: if running {
                Some('R')
            } else {
                main.as_ref().and_then(|m| m.state)
            },
            wait: None,
        }
    }

    /// The threads of `pid`, main thread first (bounded).
    pub(super) fn tids(&mut self, pid: u32) -> Vec<u32> {
        self.tasks
            .entry(pid)
            .or_insert_with(|| {
                procinfo::thread_ids(pid as i32)
                    .unwrap_or_default()
                    .into_iter()
                    .take(MAX_THREADS_LOOKED_AT)
                    .map(|t| t as u32)
                    .collect()
            })
            .clone()
    }
}

fn read_thread(pid: u32, tid: u32) -> Option<Seen> {
    let dirs = TaskDirs::open(pid as i32, Default::default())?;
    let facts = procinfo::thread_facts(&dirs.task(tid as i32), true)?;
    Some(Seen {
        party: Party {
            pid,
            tid: Some(tid),
            name: facts.name.unwrap_or_default(),
            state: facts.facts.state,
            wait: facts.facts.wait.clone(),
        },
        syscall: facts.facts.syscall,
        lock: None,
    })
}
