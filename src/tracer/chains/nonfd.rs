//! The waits that do not go through an fd's peer: a file lock's holder, the children a
//! `wait4`/`waitid` waits for, a mutex held across processes (or in a process met along a
//! chain), a rwlock's writer. The tables they need (`/proc/locks`, memory maps) are read once
//! per chain build.

use crate::tracer::analysis::waits::futex_wait_address;
use crate::tracer::model::{LockHint, Syscall};

use super::children;
use super::filelocks::{self, LockEntry};
use super::futexes::{Futexes, Owner};
use super::link::LinkKind;
use super::resolve::Resolved;
use super::sharedfutex::Sharers;

/// The futex op bit of a process-private futex (linux/futex.h).
const FUTEX_PRIVATE_FLAG: u64 = 128;

#[derive(Default)]
pub(super) struct NonFd {
    /// `/proc/locks`, once read (None inside: unreadable).
    locks: Option<Option<Vec<LockEntry>>>,
    futexes: Futexes,
    /// How long the search for an OFD lock's holders may take, in all.
    budget: std::time::Duration,
}

impl NonFd {
    /// Tables read lazily; the OFD lock holder search within `budget`.
    pub(super) fn new(budget: std::time::Duration) -> NonFd {
        NonFd {
            budget,
            ..NonFd::default()
        }
    }

    /// What thread `tid` of `pid` blocked in `sc` waits for, when it is one of these waits;
    /// `lock` is the trace's hint for a traced thread's futex wait (None for the threads of
    /// other processes).
    pub(super) fn resolve(
        &mut self,
        pid: u32,
        sc: &Syscall,
        lock: Option<&LockHint>,
    ) -> Option<Resolved> {
        if let Some(req) = filelocks::request(pid, sc) {
            return Some(self.file_lock(pid, &req));
        }
        if let Some(w) = children::waited(sc) {
            let c = children::children(pid, w);
            return Some(Resolved {
                kind: LinkKind::Child,
                object: c.object,
                holders: c.live.into_iter().map(|p| (p, None)).collect(),
                note: c.note,
            });
        }
        let address = futex_wait_address(sc)?;
        if lock.is_some_and(|l| l.owner.is_some()) {
            // The in-process owner the trace found: the resolver's own case.
            return None;
        }
        let private = sc.args[1] & FUTEX_PRIVATE_FLAG != 0;
        match self.futexes.owner(pid, address, lock.is_none(), private) {
            Owner::Inside(owner) => Some(Resolved {
                kind: LinkKind::Mutex,
                object: format!("mutex {address:#x}"),
                holders: vec![(pid, Some(owner))],
                note: None,
            }),
            Owner::Writer {
                rwlock,
                pid: holder,
                tid,
            } => Some(Resolved {
                kind: LinkKind::RwLock,
                object: if holder == pid {
                    format!("rwlock {rwlock:#x}, held for writing")
                } else {
                    format!("rwlock {rwlock:#x} (process-shared), held for writing")
                },
                holders: vec![(holder, Some(tid))],
                note: None,
            }),
            Owner::Shared { object, sharers } => Some(shared_futex(address, &object, &sharers)),
            Owner::Outside { pid: holder, tid } => Some(Resolved {
                kind: LinkKind::Mutex,
                object: format!("mutex {address:#x} (process-shared)"),
                holders: vec![(holder, Some(tid))],
                note: None,
            }),
            Owner::None(Some(note)) => Some(Resolved {
                kind: LinkKind::Mutex,
                object: format!("mutex {address:#x} (process-shared)"),
                holders: Vec::new(),
                note: Some(note),
            }),
            Owner::None(None) => None,
        }
    }

    fn file_lock(&mut self, pid: u32, req: &filelocks::Request) -> Resolved {
        let unknown = |object: String, note: String| Resolved {
            kind: LinkKind::FileLock,
            object,
            holders: Vec::new(),
            note: Some(note),
        };
        let what = if req.flock { "flock" } else { "lock" };
        let (path, dev, inode) = match filelocks::fd_file(pid, req.fd) {
            Ok(f) => f,
            Err(why) => return unknown(format!("fd {} ({what})", req.fd), why),
        };
        let Some(locks) = self.locks.get_or_insert_with(filelocks::read_locks) else {
            return unknown(
                format!("{path} ({what})"),
                "/proc/locks not readable".into(),
            );
        };
        let held = filelocks::conflicting(locks, req, pid, dev, inode);
        let Some(first) = held.first() else {
            return unknown(
                format!("{path} ({what})"),
                format!(
                    "no lock held on {:02x}:{:02x}:{inode} in /proc/locks (released, or held \
                     in another pid namespace)",
                    dev.0, dev.1
                ),
            );
        };
        let object = format!("{path} ({})", filelocks::describe(first));
        let mut holders: Vec<(u32, Option<u32>)> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for l in &held {
            match l.pid {
                Some(p) => {
                    if !holders.contains(&(p, None)) {
                        holders.push((p, None));
                    }
                }
                None if l.class == filelocks::Class::Ofd => {
                    let started = std::time::Instant::now();
                    let (pids, cut) = filelocks::ofd_holders(l, pid, self.budget);
                    // Each search spends from the one budget.
                    self.budget = self.budget.saturating_sub(started.elapsed());
                    if cut {
                        notes.push(format!(
                            "OFD lock holders: the processes' fds read in part{}",
                            if self.budget.is_zero() {
                                " (time bound reached: dump --chains reads them all)"
                            } else {
                                ""
                            }
                        ));
                    }
                    if pids.is_empty() {
                        notes.push(format!(
                            "{}: the process holding it not found (no permission to its fds?)",
                            filelocks::describe(l)
                        ));
                    }
                    for p in pids {
                        if !holders.contains(&(p, None)) {
                            holders.push((p, None));
                        }
                    }
                }
                None => notes.push(format!(
                    "{}: held by a process of another pid namespace",
                    filelocks::describe(l)
                )),
            }
        }
        Resolved {
            kind: LinkKind::FileLock,
            object,
            holders,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }
}

/// A futex word in shared memory that records no owner: the processes that map it with a
/// thread free to wake it are its holders; the other processes' threads waiting on it too,
/// and how far the search went, are in the note.
fn shared_futex(address: u64, object: &str, sharers: &Sharers) -> Resolved {
    let mut notes = Vec::new();
    if !sharers.waiters.is_empty() {
        let waiting: Vec<String> = sharers
            .waiters
            .iter()
            .map(|(p, t)| format!("pid {p} tid {t}"))
            .collect();
        notes.push(format!("also waiting on it: {}", waiting.join(", ")));
    }
    if sharers.wakers.is_empty() {
        notes.push(format!(
            "no other process that could wake it found among the {} next to the waiter \
             (parent, children, siblings)",
            sharers.looked_at
        ));
    } else {
        notes.push("it records no owner: these processes map it and can wake it".into());
    }
    Resolved {
        kind: LinkKind::SharedFutex,
        object: format!("futex {address:#x} in shared memory ({object})"),
        holders: sharers.wakers.iter().map(|&p| (p, None)).collect(),
        note: Some(notes.join("; ")),
    }
}
