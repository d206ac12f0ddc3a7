//! UNIX sockets from the kernel's sock_diag netlink interface: a socket's state, name, peer
//! inode and, for a listener, the clients queued on it. Hand-written messages (two small
//! structs); every answer is parsed as hostile bytes, bounded in size and time.

pub(super) use super::sockdiag::DiagError;
use super::sockdiag::{self, NLM_F_DUMP, NLM_F_REQUEST, Netlink, u32_at};

const UDIAG_SHOW_NAME: u32 = 1;
const UDIAG_SHOW_PEER: u32 = 4;
const UDIAG_SHOW_ICONS: u32 = 8;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_ICONS: u16 = 3;
/// `TCP_ESTABLISHED`, the state of a connected UNIX socket.
pub(super) const ESTABLISHED: u8 = 1;
/// `TCP_LISTEN`, the state of a listening UNIX socket.
pub(super) const LISTEN: u8 = 10;
/// Most queued clients kept of one listener.
const MAX_ICONS: usize = 4096;

/// One UNIX socket as sock_diag tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct UnixSock {
    pub ino: u32,
    pub state: u8,
    /// The bound name: a path, or an abstract name starting with a NUL byte.
    pub name: Option<Vec<u8>>,
    /// The connected peer's inode.
    pub peer: Option<u32>,
    /// For a listener: the inodes of the clients whose connections wait to be accepted.
    pub icons: Vec<u32>,
}

impl UnixSock {
    /// The socket in words: its name (`@name` for an abstract one), else `socket:[N]`.
    pub(super) fn describe(&self) -> String {
        describe(self.ino, self.name.as_deref())
    }
}

/// `ino`'s name in words, as [`UnixSock::describe`].
pub(super) fn describe(ino: u32, name: Option<&[u8]>) -> String {
    match name {
        Some([0, rest @ ..]) => format!(
            "@{}",
            crate::tracer::text::inert_bounded(&crate::tracer::text::from_bytes(rest), 108)
        ),
        Some(path) if !path.is_empty() => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            crate::tracer::text::inert_bounded(&crate::tracer::text::from_bytes(&path[..end]), 108)
        }
        _ => format!("socket:[{ino}]"),
    }
}

/// A netlink socket kept for the lookups of one chain build (a thousand threads reading
/// sockets, two lookups each).
#[derive(Default)]
pub(super) struct Diag {
    netlink: Netlink,
}

impl Diag {
    /// Lookups in the network namespace of process `pid`.
    pub(super) fn in_namespace_of(pid: u32) -> Diag {
        Diag {
            netlink: Netlink::in_namespace_of(pid),
        }
    }

    /// The UNIX socket of inode `ino`, with its name, peer and queued clients.
    pub(super) fn lookup(&mut self, ino: u32) -> Result<UnixSock, DiagError> {
        let found = self
            .netlink
            .ask(&request(ino, NLM_F_REQUEST), 1, parse_sock)?;
        found.into_iter().next().ok_or(DiagError::NotFound)
    }
}

/// Every listening UNIX socket with its queued clients (bounded), to find the listener a
/// client's not yet accepted connection waits in.
pub(super) fn listeners(diag: &mut Diag) -> Result<Vec<UnixSock>, DiagError> {
    let mut found = diag.netlink.ask(
        &request(0, NLM_F_REQUEST | NLM_F_DUMP),
        sockdiag::MAX_DUMPED,
        parse_sock,
    )?;
    found.retain(|s| s.state == LISTEN);
    Ok(found)
}

/// A `SOCK_DIAG_BY_FAMILY` request for AF_UNIX: one socket by inode, or a dump (`ino` 0).
fn request(ino: u32, flags: u16) -> Vec<u8> {
    let mut m = sockdiag::header(24, flags);
    m.push(libc::AF_UNIX as u8); // sdiag_family
    m.push(0); // sdiag_protocol
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    m.extend_from_slice(&ino.to_ne_bytes());
    m.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS).to_ne_bytes());
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // no cookie
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    m
}

/// One `unix_diag_msg` and its attributes.
fn parse_sock(body: &[u8]) -> Result<UnixSock, DiagError> {
    if body.len() < 16 {
        return Err(DiagError::Garbled);
    }
    let mut s = UnixSock {
        state: body[2],
        ino: u32_at(body, 4).ok_or(DiagError::Garbled)?,
        ..UnixSock::default()
    };
    for (ty, data) in sockdiag::attributes(&body[16..])? {
        match ty {
            UNIX_DIAG_NAME => s.name = Some(data[..data.len().min(108)].to_vec()),
            UNIX_DIAG_PEER => s.peer = u32_at(data, 0).filter(|&p| p != 0),
            UNIX_DIAG_ICONS => {
                s.icons = data
                    .chunks_exact(4)
                    .take(MAX_ICONS)
                    .filter_map(|c| u32_at(c, 0))
                    .filter(|&i| i != 0)
                    .collect();
            }
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn ino_of(fd: &impl AsRawFd) -> u32 {
        match super::super::fds::target(std::process::id(), fd.as_raw_fd()) {
            Some(super::super::fds::Target::Socket(n)) => n as u32,
            other => panic!("not a socket: {other:?}"),
        }
    }

    #[test]
    fn finds_the_peer_of_a_socket_pair() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut diag = Diag::default();
        let s = diag.lookup(ino_of(&a)).unwrap();
        // The same socket answers the next lookup.
        assert_eq!(diag.lookup(ino_of(&b)).unwrap().peer, Some(ino_of(&a)));
        assert_eq!(s.ino, ino_of(&a));
        assert_eq!(s.peer, Some(ino_of(&b)));
        assert_eq!(s.describe(), format!("socket:[{}]", ino_of(&a)));
    }

    #[test]
    fn finds_a_listener_queue_and_names() {
        let dir = std::env::temp_dir().join(format!("rstack-udiag-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let listener = UnixListener::bind(&dir).unwrap();
        let client = UnixStream::connect(&dir).unwrap();
        let l = Diag::default().lookup(ino_of(&listener)).unwrap();
        assert_eq!(l.state, LISTEN);
        assert_eq!(l.icons, [ino_of(&client)]);
        assert_eq!(l.describe(), dir.display().to_string());
        let all = listeners(&mut Diag::default()).unwrap();
        assert!(all.iter().any(|s| s.ino == l.ino && s.icons == l.icons));
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn unknown_inode_is_not_found() {
        let mut diag = Diag::default();
        assert_eq!(diag.lookup(u32::MAX - 7), Err(DiagError::NotFound));
        // The socket is kept after a plain not-found: the next lookup answers as well.
        assert_eq!(diag.lookup(u32::MAX - 7), Err(DiagError::NotFound));
    }

    #[test]
    fn garbage_sockets_are_errors_not_panics() {
        assert_eq!(parse_sock(&[0; 15]), Err(DiagError::Garbled));
        // A socket with an attribute longer than its message.
        let mut body = vec![1u8, 1, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&200u16.to_ne_bytes());
        body.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        assert_eq!(parse_sock(&body), Err(DiagError::Garbled));
    }

    #[test]
    fn describes_names() {
        assert_eq!(describe(5, Some(b"\0app\x1b")), "@app\\x1b");
        assert_eq!(describe(5, Some(b"/run/a.sock\0")), "/run/a.sock");
        assert_eq!(describe(5, Some(b"")), "socket:[5]");
        assert_eq!(describe(5, None), "socket:[5]");
    }
}
