//! The data of a wait chain: who waits ([`Party`]), on what and for whom ([`WaitLink`]), the
//! chain of links from one blocked thread ([`WaitChain`]) and the cycles they close
//! ([`WaitCycle`]). Plain data: every text in it was made inert when it was read.

/// A process, or one of its threads, at one end of a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub pid: u32,
    /// The thread, when one is known (a lock's owner, the thread blocked at the other end).
    pub tid: Option<u32>,
    /// The thread's name (its `comm`), else the process's.
    pub name: String,
    /// The state letter of that thread (or of the process's main thread): R, S, D, ...
    pub state: Option<char>,
    /// What that thread waits in, decoded as [`crate::tracer::ThreadFacts::wait`] is.
    pub wait: Option<String>,
}

/// How a waiter waits for the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// A glibc or musl mutex; its owner recorded in it.
    Mutex,
    /// A glibc `pthread_rwlock_t` held for writing; its writer recorded in it.
    RwLock,
    /// A futex word in shared memory that records no owner (a semaphore, a shared condition
    /// variable): its holders are the processes that map it and could wake it.
    SharedFutex,
    /// A pipe or FIFO: the processes holding its other end open.
    Pipe,
    /// A connected UNIX socket: the process holding its peer.
    UnixSocket,
    /// A listening UNIX socket: the clients queued on it.
    UnixListener,
    /// A TCP connection on this host: the process holding the peer socket.
    Tcp,
    /// A UDP socket: the process holding the socket it is connected to.
    Udp,
    /// A file lock (POSIX, OFD or `flock`): its holder.
    FileLock,
    /// `wait4`/`waitid`: the children waited for.
    Child,
    /// An epoll set: the peers of the fds in it.
    Epoll,
}

impl LinkKind {
    /// The name used in JSON and the panes: "mutex", "pipe", "unix socket", ...
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Mutex => "mutex",
            LinkKind::RwLock => "rwlock",
            LinkKind::SharedFutex => "shared futex",
            LinkKind::Pipe => "pipe",
            LinkKind::UnixSocket => "unix socket",
            LinkKind::UnixListener => "unix listener",
            LinkKind::Tcp => "tcp",
            LinkKind::Udp => "udp",
            LinkKind::FileLock => "file lock",
            LinkKind::Child => "child",
            LinkKind::Epoll => "epoll",
        }
    }

    /// The kind named by [`Self::as_str`].
    pub fn from_name(name: &str) -> Option<LinkKind> {
        [
            LinkKind::Mutex,
            LinkKind::RwLock,
            LinkKind::SharedFutex,
            LinkKind::Pipe,
            LinkKind::UnixSocket,
            LinkKind::UnixListener,
            LinkKind::Tcp,
            LinkKind::Udp,
            LinkKind::FileLock,
            LinkKind::Child,
            LinkKind::Epoll,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One wait: the waiting thread, what it waits on, and who can end the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitLink {
    /// The waiting thread (its `wait` says in which call).
    pub waiter: Party,
    pub kind: LinkKind,
    /// The object waited on, in words: `pipe:[81234]`, "/var/lib/app/lock (POSIX write
    /// lock)", "127.0.0.1:41234 → 127.0.0.1:5000", "mutex 0x7f12a4c0".
    pub object: String,
    /// The other end: who holds the lock, the peer socket, the pipe's other end, the child.
    /// Empty when nobody could be found (see `note`).
    pub holders: Vec<Party>,
    /// Why the other end is not known or not fully: no permission (and how to get it), a
    /// peer on another host (its address), a bound reached.
    pub note: Option<String>,
}

/// What one blocked thread waits for, followed from holder to holder: link `i + 1`'s waiter
/// is one of link `i`'s holders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitChain {
    pub links: Vec<WaitLink>,
    /// The chain came back to a thread already on it: the index of the link whose waiter that
    /// thread is (a deadlock, the links from there on its edges).
    pub cycle: Option<usize>,
    /// Why the chain ends where it does when it is not at a running or idle holder: "depth
    /// bound reached", "pid 790 has 12 blocked threads: not followed".
    pub end: Option<String>,
}

/// A cycle of waits, possibly across processes: each link's holder is the next link's waiter,
/// the last link's the first's. Starts at the link whose waiter has the smallest tid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitCycle {
    pub links: Vec<WaitLink>,
}
