//! Wait chains: what each blocked thread waits for, followed across processes through locks,
//! pipes, sockets, file locks and children to whoever can end the wait, and the cycles those
//! waits close (deadlocks through a socket and a lock are deadlocks too). Runs after the
//! trace, while the target runs again; reads only `/proc`, netlink and futex words.

mod children;
mod epoll;
mod fdlinks;
mod fds;
mod filelocks;
mod futexes;
mod graph;
mod inet;
mod inet_diag;
mod inodes;
mod link;
mod netns;
mod nonfd;
mod parties;
mod peercred;
mod pollset;
mod resolve;
mod rwlock;
mod sharedfutex;
mod sockdiag;
mod unix_diag;

pub use link::{LinkKind, Party, WaitChain, WaitCycle, WaitLink};

pub(crate) use graph::build;

/// How long reading other processes' fds may take by default, to find a pipe's or socket's
/// other end: enough for the processes near the waiter (a parent, child or sibling; with
/// SO_PEERCRED's hint, a UNIX socket's peer anywhere), not for all of 2000 (300 ms here).
pub const QUICK_SCAN: std::time::Duration = std::time::Duration::from_millis(15);
/// How long it may take when every process is to be read ([`crate::tracer::TraceOptions::chain_scan`]).
pub const FULL_SCAN: std::time::Duration = std::time::Duration::from_millis(500);
