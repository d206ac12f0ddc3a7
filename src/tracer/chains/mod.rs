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
mod inodes;
mod link;
mod nonfd;
mod parties;
mod pollset;
mod resolve;
mod rwlock;
mod unix_diag;

pub use link::{LinkKind, Party, WaitChain, WaitCycle, WaitLink};

pub(crate) use graph::build;
