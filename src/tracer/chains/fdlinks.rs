//! Waits on fds followed to the other end: a pipe's or FIFO's, a UNIX socket's peer (or the
//! listener a connection is queued at), a TCP/UDP peer on this host, and every fd of an epoll
//! set, poll array or select set (all [`LinkKind::Epoll`]: the object names the call). The fd
//! index and socket tables are read lazily, once per chain build; sockets are looked up in
//! their own process's network namespace.

use std::collections::HashMap;

use crate::tracer::model::Syscall;

use super::children;
use super::epoll;
use super::fds::{self, Access, Target};
use super::inet::{self, InetSock, Proto, Tables};
use super::inet_diag::{self, InetDiag};
use super::inodes::{Index, Key};
use super::link::LinkKind;
use super::netns;
use super::peercred;
use super::pollset;
use super::resolve::Resolved;
use super::unix_diag::{self, DiagError};

/// Most holders listed on one link.
const MAX_HOLDERS: usize = 32;
/// Most fdinfo files read to tell a pipe's ends apart for one link.
const MAX_ENDS_CHECKED: usize = 256;
/// Most objects named in an epoll link's text.
const MAX_EPOLL_NAMED: usize = 4;

/// The fd tables of one chain build.
#[derive(Default)]
pub(super) struct FdLinks {
    index: Option<Index>,
    /// How long the fd index may take.
    budget: std::time::Duration,
    /// What is asked of each network namespace met, by its link (`net:[N]`).
    nets: HashMap<Vec<u8>, Net>,
    /// Each process's namespace link, and ours.
    netns_of: HashMap<u32, Vec<u8>>,
    own_netns: Option<Vec<u8>>,
}

/// The sockets of one network namespace, asked about through sock_diag from inside it.
#[derive(Default)]
struct Net {
    diag: unix_diag::Diag,
    inet: InetDiag,
    /// Every UNIX listener and its queue, read once when a peer is not held by anybody.
    listeners: Option<Vec<unix_diag::UnixSock>>,
    /// The namespace's interface addresses, read when first needed.
    local_ips: Option<Vec<std::net::IpAddr>>,
    /// A process of the namespace when it is not ours (joined to make its sockets).
    member: Option<u32>,
    /// The namespace could not be joined (no CAP_SYS_ADMIN): its TCP/UDP tables are read
    /// through `/proc/PID/net` instead, and its UNIX sockets are not looked up.
    unjoined: bool,
    /// Those tables, read when first needed (also when a socket's fd could not be copied).
    tables: Option<Tables>,
}

impl Net {
    /// The namespace of process `pid`, not ours: joined if it can be, else its tables.
    fn of_member(pid: u32) -> Net {
        if netns::inside(pid, || ()).is_some() {
            Net {
                diag: unix_diag::Diag::in_namespace_of(pid),
                inet: InetDiag::in_namespace_of(pid),
                member: Some(pid),
                ..Net::default()
            }
        } else {
            Net {
                member: Some(pid),
                unjoined: true,
                ..Net::default()
            }
        }
    }

    fn local_ips(&mut self) -> &[std::net::IpAddr] {
        let member = self.member;
        self.local_ips.get_or_insert_with(|| match member {
            None => inet_diag::local_addresses(),
            Some(pid) => netns::inside(pid, inet_diag::local_addresses).unwrap_or_default(),
        })
    }
}

impl FdLinks {
    /// What thread of `pid` blocked in `sc` waits for, if `sc` waits on an fd we follow.
    pub(super) fn resolve(&mut self, pid: u32, sc: &Syscall) -> Option<Resolved> {
        let fd = sc.args[0] as u32 as i32;
        match sc.number {
            // read, pread64, readv, recvfrom, recvmsg, recvmmsg; write, pwrite64, writev,
            // sendto, sendmsg, sendmmsg; connect.
            0 | 17 | 19 | 45 | 47 | 299 | 1 | 18 | 20 | 44 | 46 | 307 | 42 => {
                self.fd_link(pid, fd, false)
            }
            // accept, accept4
            43 | 288 => self.fd_link(pid, fd, true),
            // epoll_wait, epoll_pwait, epoll_pwait2
            232 | 281 | 441 => {
                let info = fds::fdinfo(pid, fd)?;
                let (set, total) = epoll::targets(&info);
                self.set_link(pid, "epoll", set, total)
            }
            // poll, ppoll; select, pselect6
            7 | 271 | 23 | 270 => {
                let (set, total) = pollset::fds(pid, sc)?;
                let call = if matches!(sc.number, 7 | 271) {
                    "poll"
                } else {
                    "select"
                };
                self.set_link(pid, call, set, total)
            }
            _ => None,
        }
    }

    /// Tables read lazily, the fd index within `budget`.
    pub(super) fn new(budget: std::time::Duration) -> FdLinks {
        FdLinks {
            budget,
            ..FdLinks::default()
        }
    }

    /// The fd index: with the full scan's budget (`dump --chains`) it lists every holder of
    /// an end; the quick one names the nearest.
    fn index(&mut self) -> &mut Index {
        let budget = self.budget;
        self.index.get_or_insert_with(|| {
            let index = Index::new(budget);
            if budget >= super::FULL_SCAN {
                index.thorough()
            } else {
                index
            }
        })
    }

    /// What is asked of `pid`'s network namespace.
    fn net(&mut self, pid: u32) -> &mut Net {
        let ns = self
            .netns_of
            .entry(pid)
            .or_insert_with(|| netns::of(pid))
            .clone();
        let own = self.own_netns.get_or_insert_with(netns::own).clone();
        self.nets.entry(ns.clone()).or_insert_with(|| {
            if ns.is_empty() || ns == own {
                Net::default()
            } else {
                Net::of_member(pid)
            }
        })
    }

    /// The other end of fd `fd` of `pid`.
    fn fd_link(&mut self, pid: u32, fd: i32, accept: bool) -> Option<Resolved> {
        match fds::target(pid, fd)? {
            Target::Pipe(n) => Some(self.pipe_link(pid, fd, &Target::Pipe(n))),
            t @ Target::Path(_) if fds::is_fifo(pid, fd) => Some(self.pipe_link(pid, fd, &t)),
            Target::Socket(n) => self.socket_link(pid, fd, n, accept),
            _ => None,
        }
    }

    /// A pipe or FIFO: the processes holding it open the other way (a reader waits for the
    /// writers, a writer for the readers), the waiter's own process too.
    fn pipe_link(&mut self, pid: u32, fd: i32, target: &Target) -> Resolved {
        let mine = fds::access(pid, fd).unwrap_or(Access::ReadWrite);
        let key = Key::of(target);
        let fifo = match target {
            Target::Path(p) => Some(p.clone()),
            _ => None,
        };
        let Some(key) = key else {
            return self.resolved(LinkKind::Pipe, target.describe(), Vec::new(), None);
        };
        // An end is checked once (its fdinfo read), whether while searching or after.
        let mut ends: HashMap<(u32, i32), bool> = HashMap::new();
        let mut is_other_end = |h: &super::inodes::Holder| {
            if (h.pid == pid && h.fd == fd) || ends.len() >= MAX_ENDS_CHECKED {
                return false;
            }
            *ends.entry((h.pid, h.fd)).or_insert_with(|| {
                if let Some(path) = &fifo
                    && fds::target(h.pid, h.fd).as_ref() != Some(&Target::Path(path.clone()))
                {
                    return false;
                }
                fds::access(h.pid, h.fd).is_some_and(|theirs| match mine {
                    Access::Read => theirs.writes(),
                    Access::Write => theirs.reads(),
                    Access::ReadWrite => true,
                })
            })
        };
        let index = self.index();
        let mut found = index.find(pid, key, &mut is_other_end).to_vec();
        if !found.is_empty() && found.iter().all(|h| h.pid == pid) {
            // The other end is the waiter's own: a pipe made before a fork is held by the
            // forked processes too, and they are the ones that would write (a
            // multiprocessing queue's reader waits for its workers, not for itself).
            read_forked_relatives(index, pid, key);
            found = index.holders(key).to_vec();
        }
        let mut pids: Vec<u32> = Vec::new();
        for h in found {
            if !pids.contains(&h.pid) && is_other_end(&h) {
                pids.push(h.pid);
            }
        }
        // Others first: the first holder is the one a short view names ("→ pid N").
        pids.sort_by_key(|&p| p == pid);
        let end = match mine {
            Access::Read => "write end",
            Access::Write => "read end",
            Access::ReadWrite => "other end",
        };
        let note = pids
            .is_empty()
            .then(|| self.not_found(&format!("its {end}")));
        self.resolved(LinkKind::Pipe, target.describe(), pids, note)
    }

    /// A socket: a UNIX one, else TCP/UDP, in its process's network namespace.
    fn socket_link(&mut self, pid: u32, fd: i32, ino: u64, accept: bool) -> Option<Resolved> {
        let net = self.net(pid);
        let failed = match u32::try_from(ino) {
            Ok(_) if net.unjoined => None,
            Ok(ino32) => match net.diag.lookup(ino32) {
                Ok(sock) => return self.unix_link(pid, fd, sock, accept),
                Err(DiagError::NotFound) => None,
                Err(e) => Some(e),
            },
            Err(_) => None,
        };
        if let Some(r) = self.inet_link(pid, fd, ino) {
            return Some(r);
        }
        failed.map(|e| Resolved {
            kind: LinkKind::UnixSocket,
            object: format!("socket:[{ino}]"),
            holders: Vec::new(),
            note: Some(match e {
                DiagError::Failed(errno) => format!("sock_diag failed: {}", errno.desc()),
                _ => "sock_diag gave a garbled answer".into(),
            }),
        })
    }

    fn unix_link(
        &mut self,
        pid: u32,
        fd: i32,
        sock: unix_diag::UnixSock,
        accept: bool,
    ) -> Option<Resolved> {
        if sock.state == unix_diag::LISTEN {
            // A listener waits for clients; the queued ones are who it would serve next
            // (accept returns at once when there are any, so these are rare: a race).
            if sock.icons.is_empty() {
                return None;
            }
            let pids = self.holders_of(pid, sock.icons.iter().map(|&i| u64::from(i)), None, None);
            let object = format!(
                "{} (listening, {} queued{})",
                sock.describe(),
                sock.icons.len(),
                if accept { "" } else { ", not accepted" }
            );
            let note = pids
                .is_empty()
                .then(|| self.not_found("the queued clients"));
            return Some(self.resolved(LinkKind::UnixListener, object, pids, note));
        }
        if let Some(peer) = sock.peer {
            // Where the peer was at connect time is looked in first: a server started long
            // before the waiter is far from it in pid order (2000 processes read, 300 ms).
            let hint = peercred::peer_pid(pid, fd);
            let pids = self.holders_of(pid, [u64::from(peer)], None, hint);
            let peer_name = self.net(pid).diag.lookup(peer).ok().and_then(|p| p.name);
            let object = format!(
                "{} → {}",
                sock.describe(),
                unix_diag::describe(peer, peer_name.as_deref())
            );
            let note = pids.is_empty().then(|| self.not_found("its peer"));
            return Some(self.resolved(LinkKind::UnixSocket, object, pids, note));
        }
        // Connected to a connection not accepted yet: the kernel shows no peer inode (the
        // server's end has no file yet); the listener's queue lists this client.
        if sock.state != unix_diag::ESTABLISHED {
            return None;
        }
        let l = self.listener_queueing(pid, sock.ino)?;
        let pids = self.holders_of(pid, [u64::from(l.ino)], None, None);
        let object = format!("{} → {} (listening)", sock.describe(), l.describe());
        let note = Some(format!(
            "the connection waits in {}'s queue: not accepted yet{}",
            l.describe(),
            self.index()
                .gaps()
                .map(|g| format!("; {g}"))
                .unwrap_or_default()
        ));
        Some(self.resolved(LinkKind::UnixListener, object, pids, note))
    }

    /// The listener whose queue holds the connection of client socket `ino` of `pid`.
    fn listener_queueing(&mut self, pid: u32, ino: u32) -> Option<unix_diag::UnixSock> {
        let net = self.net(pid);
        net.listeners
            .get_or_insert_with(|| unix_diag::listeners(&mut net.diag).unwrap_or_default())
            .iter()
            .find(|l| l.icons.contains(&ino))
            .cloned()
    }

    /// A TCP or UDP socket of `pid`'s namespace: the process holding the other end when it is
    /// on this host; None when `ino` is no such socket or is not connected. sock_diag finds
    /// the other end by its addresses; in a namespace that could not be joined its socket
    /// tables are read (through `pid`).
    fn inet_link(&mut self, pid: u32, fd: i32, ino: u64) -> Option<Resolved> {
        if !self.net(pid).unjoined
            && let Some(me) = inet_diag::socket_of(pid, fd, ino)
        {
            return self.inet_link_diag(pid, me);
        }
        let net = self.net(pid);
        let tables = net.tables.get_or_insert_with(|| Tables::read(pid));
        let me = tables.by_inode(ino)?.clone();
        if inet::is_listener(&me) || me.remote.port() == 0 {
            return None;
        }
        let peer = tables.peer(&me).cloned();
        let listener = tables.listener(me.remote).cloned();
        let local = tables.is_local(me.remote.ip());
        let cut = tables.cut.then_some("the socket table was cut short");
        Some(self.inet_resolved(pid, &me, peer, listener, local, cut))
    }

    /// [`FdLinks::inet_link`] through sock_diag.
    fn inet_link_diag(&mut self, pid: u32, me: InetSock) -> Option<Resolved> {
        if inet::is_listener(&me) || me.remote.port() == 0 {
            return None;
        }
        let mut failed = None;
        let net = self.net(pid);
        let peer = net.inet.peer(&me).unwrap_or_else(|e| {
            failed = Some(e);
            None
        });
        // A TCP connection whose other end has no file yet waits in a listener's queue.
        let listener = if me.proto == Proto::Tcp && peer.as_ref().is_none_or(|p| p.ino == 0) {
            net.inet.listener(me.remote).unwrap_or_else(|e| {
                failed = Some(e);
                None
            })
        } else {
            None
        };
        let local = me.remote.ip().is_loopback() || net.local_ips().contains(&me.remote.ip());
        let failed = failed.map(|e| match e {
            DiagError::Failed(errno) => format!("sock_diag failed: {}", errno.desc()),
            _ => "sock_diag gave a garbled answer".into(),
        });
        Some(self.inet_resolved(pid, &me, peer, listener, local, failed.as_deref()))
    }

    /// The link of TCP/UDP socket `me` of `pid` from what was found of its other end: the
    /// peer socket, else (TCP) the listener it is queued at, else why there is none (`local`:
    /// whether its remote address is of this host; `gap`: what the lookup may have missed).
    fn inet_resolved(
        &mut self,
        pid: u32,
        me: &InetSock,
        peer: Option<InetSock>,
        listener: Option<InetSock>,
        local: bool,
        gap: Option<&str>,
    ) -> Resolved {
        let kind = match me.proto {
            Proto::Tcp => LinkKind::Tcp,
            Proto::Udp => LinkKind::Udp,
        };
        let object = format!("{} → {}", me.local, me.remote);
        match (peer, listener) {
            (Some(p), _) if p.ino != 0 => {
                let pids = self.holders_of(pid, [p.ino], None, None);
                let note = pids.is_empty().then(|| self.not_found("its peer"));
                self.resolved(kind, object, pids, note)
            }
            (_, Some(l)) if me.proto == Proto::Tcp => {
                let pids = self.holders_of(pid, [l.ino], None, None);
                let note = format!(
                    "the connection waits in the queue of the listener on {}: not accepted yet",
                    l.local
                );
                self.resolved(kind, object, pids, Some(note))
            }
            _ => {
                let note = if !local {
                    format!("peer on another host: {}", me.remote)
                } else if let Some(gap) = gap {
                    format!("peer {} not found: {gap}", me.remote)
                } else {
                    format!(
                        "peer {} not found on this host (another network namespace?)",
                        me.remote
                    )
                };
                self.resolved(kind, object, Vec::new(), Some(note))
            }
        }
    }

    /// A set of fds (an epoll set, a poll array, select's sets): the union of their other
    /// ends (the waiter's own process left out: an event loop wakes itself through its own
    /// pipes). `call` names the set: "epoll", "poll", "select".
    fn set_link(&mut self, pid: u32, call: &str, set: Vec<i32>, total: usize) -> Option<Resolved> {
        let mut objects = Vec::new();
        let mut pids: Vec<u32> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        let mut own = false;
        for fd in set {
            let Some(r) = self.fd_link(pid, fd, false) else {
                continue;
            };
            objects.push(r.object);
            for (p, _) in r.holders {
                own |= p == pid;
                if p != pid && !pids.contains(&p) {
                    pids.push(p);
                }
            }
            if let Some(n) = r.note
                && !notes.contains(&n)
            {
                notes.push(n);
            }
        }
        if objects.is_empty() {
            return None;
        }
        let more = objects.len().saturating_sub(MAX_EPOLL_NAMED);
        objects.truncate(MAX_EPOLL_NAMED);
        let mut object = format!("{call} of {total} fds: {}", objects.join(", "));
        if more > 0 {
            object.push_str(&format!(" and {more} more"));
        }
        if pids.is_empty() && own {
            // Not "nobody": the set's other ends are the waiter's own (its wake-up pipe).
            notes.push("only its own process holds the other ends".into());
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        Some(self.resolved(LinkKind::Epoll, object, pids, note))
    }

    /// The processes holding any of socket inodes `inos` open (`except` left out), searched
    /// from `hint` first, then from `near` out.
    fn holders_of(
        &mut self,
        near: u32,
        inos: impl IntoIterator<Item = u64>,
        except: Option<u32>,
        hint: Option<u32>,
    ) -> Vec<u32> {
        let mut pids: Vec<u32> = Vec::new();
        for ino in inos {
            let index = self.index();
            if let Some(first) = hint {
                index.read_first(first);
            }
            for h in index.find(near, Key::Socket(ino), |h| Some(h.pid) != except) {
                if Some(h.pid) != except && !pids.contains(&h.pid) {
                    pids.push(h.pid);
                }
            }
        }
        pids
    }

    /// The note for an end nobody was found holding: why, and how to see more.
    fn not_found(&mut self, what: &str) -> String {
        match self.index().gaps() {
            Some(gaps) => format!("no process found holding {what}: {gaps}"),
            None => format!("no process found holding {what} (another pid namespace?)"),
        }
    }

    /// A link with its holders bounded (the rest counted in the note).
    fn resolved(
        &self,
        kind: LinkKind,
        object: String,
        mut pids: Vec<u32>,
        note: Option<String>,
    ) -> Resolved {
        let more = pids.len().saturating_sub(MAX_HOLDERS);
        pids.truncate(MAX_HOLDERS);
        let note = match (note, more) {
            (n, 0) => n,
            (Some(n), m) => Some(format!("{n}; {m} more holders not listed")),
            (None, m) => Some(format!("{m} more holders not listed")),
        };
        Resolved {
            kind,
            object,
            holders: pids.into_iter().map(|p| (p, None)).collect(),
            note,
        }
    }
}

/// Reads, into `index`, the processes that may have inherited `pid`'s pipe `key` by a fork:
/// its children, its parent, and its siblings when the parent holds the pipe too (made
/// before the parent forked them). Siblings are not read otherwise: a service's parent may
/// have thousands of other children, none of which can hold a pipe the parent never had.
fn read_forked_relatives(index: &mut Index, pid: u32, key: Key) {
    for child in children::list_children(pid) {
        index.read_first(child);
    }
    let Some(parent) = children::parent_of(pid) else {
        return;
    };
    index.read_first(parent);
    if index.holders(key).iter().any(|h| h.pid == parent) {
        for sibling in children::list_children(parent) {
            if sibling != pid {
                index.read_first(sibling);
            }
        }
    }
}
