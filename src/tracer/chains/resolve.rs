//! From one blocked thread's system call to the object it waits on and the parties that can
//! end the wait: a mutex's owner, a pipe's other end, a socket's peer, a file lock's holder, a
//! child. The system's tables (fds of every process, sockets, locks) are read once per chain
//! build, and only when a wait needs them.

use crate::tracer::model::{LockHint, Syscall};

use super::fdlinks::FdLinks;
use super::link::LinkKind;
use super::nonfd::NonFd;

/// What a wait leads to: the object and who can end the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    pub kind: LinkKind,
    /// The object in words (made inert): "pipe:[81234]", "/var/lib/app/lock (flock, write)".
    pub object: String,
    /// (pid, tid when known) of each party that can end the wait, the waiter's own process
    /// left out where it cannot (the pipe's other end held by the waiter itself is listed).
    pub holders: Vec<(u32, Option<u32>)>,
    /// Why holders are missing or incomplete.
    pub note: Option<String>,
}

/// The system's tables, read lazily during one chain build and bounded.
#[derive(Default)]
pub(super) struct System {
    fds: FdLinks,
    nonfd: NonFd,
}

impl System {
    /// The tables of one build; the fd index may take `budget`, and so may the search for
    /// OFD lock holders.
    pub(super) fn new(budget: std::time::Duration) -> System {
        System {
            fds: FdLinks::new(budget),
            nonfd: NonFd::new(budget),
        }
    }

    /// What thread `tid` of `pid`, blocked in `sc`, waits for; `lock` is what the trace found
    /// of the futex it waits on, when it is the traced process. None for waits that name
    /// nobody (a sleep, a poll on nothing we follow).
    pub(super) fn resolve(
        &mut self,
        pid: u32,
        tid: u32,
        sc: &Syscall,
        lock: Option<&LockHint>,
    ) -> Option<Resolved> {
        let _ = tid;
        if let Some(r) = self.fds.resolve(pid, sc) {
            return Some(r);
        }
        if let Some(r) = self.nonfd.resolve(pid, sc, lock) {
            return Some(r);
        }
        let lock = lock?;
        let owner = lock.owner?;
        Some(Resolved {
            kind: LinkKind::Mutex,
            object: format!("mutex {:#x}", lock.address),
            holders: vec![(pid, Some(owner))],
            note: None,
        })
    }
}
