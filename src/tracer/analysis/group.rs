//! Threads on identical stacks collapsed into groups (64 idle pool workers become one entry),
//! and how the groups of two snapshots compare. Stacks are compared by
//! [`crate::tracer::analysis::diff::stack_key`], so offsets within a function do not split a group.

use std::collections::HashMap;

use serde::Serialize;

use crate::tracer::analysis::diff::stack_key;
use crate::tracer::model::Process;

/// Threads that share one stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The shared [`stack_key`], innermost first.
    pub key: Vec<String>,
    /// (tid, name) in the process's thread order.
    pub threads: Vec<(u32, Option<String>)>,
}

/// Threads with identical stack_key collapsed; largest group first, ties by the first thread's
/// position.
pub fn group(p: &Process) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    for t in p.threads() {
        let key = stack_key(t);
        let member = (t.id(), t.name().map(String::from));
        match index.get(&key) {
            Some(&i) => groups[i].threads.push(member),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    key,
                    threads: vec![member],
                });
            }
        }
    }
    // Stable: equal sizes keep the order of their first threads.
    groups.sort_by_key(|g| std::cmp::Reverse(g.threads.len()));
    groups
}

/// Goroutines in one state on one stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoroutineGroup {
    /// What Go's traceback shows in brackets ([`crate::tracer::model::Goroutine::state`]).
    pub state: String,
    /// The shared stack, as [`stack_key`] makes it.
    pub key: Vec<String>,
    /// Goroutine ids, in the runtime's order.
    pub ids: Vec<u64>,
}

/// Goroutines with the same state and stack collapsed, like [`group`]'s threads.
pub fn group_goroutines(p: &Process) -> Vec<GoroutineGroup> {
    let mut groups: Vec<GoroutineGroup> = Vec::new();
    let mut index: HashMap<(String, Vec<String>), usize> = HashMap::new();
    for g in p.goroutines() {
        let key = g
            .frames()
            .iter()
            .map(crate::tracer::analysis::diff::frame_key)
            .collect();
        let both = (g.state().to_string(), key);
        match index.get(&both) {
            Some(&i) => groups[i].ids.push(g.id()),
            None => {
                index.insert(both.clone(), groups.len());
                groups.push(GoroutineGroup {
                    state: both.0,
                    key: both.1,
                    ids: vec![g.id()],
                });
            }
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.ids.len()));
    groups
}

/// How many threads were on one stack in each of two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupChange {
    pub key: Vec<String>,
    pub old_count: usize,
    pub new_count: usize,
}

/// Groups of both snapshots matched by key: counts that grew, shrank, appeared (old 0) or
/// vanished (new 0); unchanged counts included too. Sorted by new_count desc then old_count
/// desc (then the new snapshot's group order, then the old one's).
pub fn group_diff(old: &Process, new: &Process) -> Vec<GroupChange> {
    let mut changes: Vec<GroupChange> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    for g in group(new) {
        index.insert(g.key.clone(), changes.len());
        changes.push(GroupChange {
            key: g.key,
            old_count: 0,
            new_count: g.threads.len(),
        });
    }
    for g in group(old) {
        match index.get(&g.key) {
            Some(&i) => changes[i].old_count = g.threads.len(),
            None => changes.push(GroupChange {
                key: g.key,
                old_count: g.threads.len(),
                new_count: 0,
            }),
        }
    }
    changes.sort_by(|a, b| {
        b.new_count
            .cmp(&a.new_count)
            .then(b.old_count.cmp(&a.old_count))
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::analysis::diff::fixture::{T, snapshot};

    const WORKER: &[&str] = &[
        "syscall",
        "Condvar::wait",
        "pool::take_job",
        "pool::worker_loop",
    ];
    const MAIN: &[&str] = &["epoll_wait", "server::main_loop", "main"];
    const BUSY: &[&str] = &["sha_block", "digest", "serve", "pool::worker_loop"];

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn pool(busy: usize, idle: usize, extra: &[(u32, &'static str)]) -> Vec<T<'static>> {
        let mut threads: Vec<T> = vec![(100, "main", 0, MAIN)];
        let names: &'static [String] = Vec::leak(
            (0..busy + idle)
                .map(|i| format!("worker-{i}"))
                .collect::<Vec<_>>(),
        );
        for (i, name) in names.iter().enumerate() {
            let stack = if i < busy { BUSY } else { WORKER };
            threads.push((1000 + i as u32, name.as_str(), 0, stack));
        }
        for (tid, sym) in extra {
            threads.push((*tid, "helper", 0, Vec::leak(vec![*sym, "main"])));
        }
        threads
    }

    #[test]
    fn sixty_four_workers_collapse() {
        let mut threads = pool(0, 64, &[]);
        // The busy worker sits between idle ones, and at another offset than its peers.
        threads.insert(3, (999, "odd-one", 0, BUSY));
        threads[5].3 = &[
            "syscall+0x99",
            "Condvar::wait",
            "pool::take_job",
            "pool::worker_loop",
        ];
        let p = snapshot(0, &threads);
        let groups = group(&p);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].key, keys(WORKER));
        assert_eq!(groups[0].threads.len(), 64);
        assert_eq!(groups[0].threads[0], (1000, Some("worker-0".into())));
        assert_eq!(groups[0].threads[3], (1003, Some("worker-3".into())));
        assert_eq!(groups[0].threads[63], (1063, Some("worker-63".into())));
        // Ties in size: the main thread comes first in the process.
        assert_eq!(groups[1].threads, [(100, Some("main".into()))]);
        assert_eq!(groups[2].threads, [(999, Some("odd-one".into()))]);
    }

    #[test]
    fn group_diff_counts() {
        let old = snapshot(0, &pool(2, 6, &[(7, "gc")]));
        let new = snapshot(1000, &pool(5, 3, &[(8, "compact")]));
        let changes = group_diff(&old, &new);
        let count = |k: &[&str]| {
            let c = changes.iter().find(|c| c.key == keys(k)).unwrap();
            (c.old_count, c.new_count)
        };
        assert_eq!(count(BUSY), (2, 5));
        assert_eq!(count(WORKER), (6, 3));
        assert_eq!(count(MAIN), (1, 1));
        assert_eq!(count(&["compact", "main"]), (0, 1));
        assert_eq!(count(&["gc", "main"]), (1, 0));
        let order: Vec<(usize, usize)> =
            changes.iter().map(|c| (c.old_count, c.new_count)).collect();
        assert_eq!(order, [(2, 5), (6, 3), (1, 1), (0, 1), (1, 0)]);
    }
}
