//! UNIX sockets from the kernel's sock_diag netlink interface: a socket's state, name, peer
//! inode and, for a listener, the clients queued on it. Hand-written messages (two small
//! structs); every answer is parsed as hostile bytes, bounded in size and time.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
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
/// Most sockets a dump reads (listeners are looked through for a client's queued connection).
const MAX_DUMPED: usize = 100_000;
/// Most queued clients kept of one listener.
const MAX_ICONS: usize = 4096;
/// How long the kernel may take to answer one read.
const TIMEOUT: Duration = Duration::from_millis(500);

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

/// Why a question to sock_diag got no socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DiagError {
    /// No UNIX socket has that inode (in this network namespace).
    NotFound,
    /// Netlink refused or failed (an errno).
    Failed(Errno),
    /// The answer did not parse.
    Garbled,
}

/// A netlink socket kept for the lookups of one chain build (a thousand threads reading
/// sockets, two lookups each), opened at the first and dropped after any failure (a late
/// answer must not be taken for the next one's).
#[derive(Default)]
pub(super) struct Diag {
    sock: Option<OwnedFd>,
}

impl Diag {
    /// The UNIX socket of inode `ino`, with its name, peer and queued clients.
    pub(super) fn lookup(&mut self, ino: u32) -> Result<UnixSock, DiagError> {
        let sock = match self.sock.take() {
            Some(s) => s,
            None => open()?,
        };
        let mut found = Vec::new();
        let answer =
            send(&sock, request(ino, NLM_F_REQUEST)).and_then(|()| receive(&sock, &mut found, 1));
        match answer {
            Ok(()) | Err(DiagError::NotFound) => self.sock = Some(sock),
            Err(_) => {}
        }
        answer?;
        found.into_iter().next().ok_or(DiagError::NotFound)
    }
}

/// Every listening UNIX socket with its queued clients (bounded), to find the listener a
/// client's not yet accepted connection waits in.
pub(super) fn listeners() -> Result<Vec<UnixSock>, DiagError> {
    let sock = open()?;
    send(&sock, request(0, NLM_F_REQUEST | NLM_F_DUMP))?;
    let mut found = Vec::new();
    receive(&sock, &mut found, MAX_DUMPED)?;
    found.retain(|s| s.state == LISTEN);
    Ok(found)
}

fn open() -> Result<OwnedFd, DiagError> {
    // SAFETY: plain arguments; the returned fd is checked before it is owned.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(DiagError::Failed(Errno::last()));
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: TIMEOUT.as_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a valid timeval for the length given; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(DiagError::Failed(Errno::last()));
    }
    Ok(sock)
}

/// A `SOCK_DIAG_BY_FAMILY` request for AF_UNIX: one socket by inode, or a dump (`ino` 0).
fn request(ino: u32, flags: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
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

fn send(sock: &OwnedFd, msg: Vec<u8>) -> Result<(), DiagError> {
    // An unconnected netlink socket sends to the kernel.
    // SAFETY: `msg` is readable for its length; the kernel copies it.
    let n = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(DiagError::Failed(Errno::last()));
    }
    Ok(())
}

/// Reads answers until the kernel says done (a dump) or one socket came (a lookup), at most
/// `max` sockets.
fn receive(sock: &OwnedFd, found: &mut Vec<UnixSock>, max: usize) -> Result<(), DiagError> {
    let mut buf = vec![0u8; 64 * 1024];
    // Each read holds many sockets: this bounds the reads of a dump well past MAX_DUMPED.
    for _ in 0..MAX_DUMPED {
        // SAFETY: `buf` is writable for its length; the kernel writes at most that much.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = match usize::try_from(n) {
            Ok(n) => n,
            Err(_) if Errno::last() == Errno::EINTR => continue,
            Err(_) => return Err(DiagError::Failed(Errno::last())),
        };
        if n == 0 {
            return Ok(());
        }
        match parse(&buf[..n.min(buf.len())], found)? {
            Parsed::Done => return Ok(()),
            Parsed::More if found.len() >= max => return Ok(()),
            Parsed::More => {}
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    More,
    Done,
}

/// Parses one read's netlink messages into `found`.
fn parse(mut buf: &[u8], found: &mut Vec<UnixSock>) -> Result<Parsed, DiagError> {
    while buf.len() >= 16 {
        let len = u32_at(buf, 0).ok_or(DiagError::Garbled)? as usize;
        let ty = u16_at(buf, 4).ok_or(DiagError::Garbled)?;
        if len < 16 || len > buf.len() {
            return Err(DiagError::Garbled);
        }
        let body = &buf[16..len];
        match ty {
            NLMSG_DONE => return Ok(Parsed::Done),
            NLMSG_ERROR => {
                let code = u32_at(body, 0).ok_or(DiagError::Garbled)? as i32;
                return match -code {
                    0 => Ok(Parsed::Done),
                    libc::ENOENT => Err(DiagError::NotFound),
                    e => Err(DiagError::Failed(Errno::from_raw(e))),
                };
            }
            SOCK_DIAG_BY_FAMILY if found.len() < MAX_DUMPED => found.push(parse_sock(body)?),
            _ => {}
        }
        buf = &buf[align(len).min(buf.len())..];
    }
    Ok(Parsed::More)
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
    let mut attrs = &body[16..];
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0).ok_or(DiagError::Garbled)? as usize;
        let ty = u16_at(attrs, 2).ok_or(DiagError::Garbled)?;
        if len < 4 || len > attrs.len() {
            return Err(DiagError::Garbled);
        }
        let data = &attrs[4..len];
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
        attrs = &attrs[align(len).min(attrs.len())..];
    }
    Ok(s)
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let all = listeners().unwrap();
        assert!(all.iter().any(|s| s.ino == l.ino && s.icons == l.icons));
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn unknown_inode_is_not_found() {
        let mut diag = Diag::default();
        assert_eq!(diag.lookup(u32::MAX - 7), Err(DiagError::NotFound));
        assert!(diag.sock.is_some(), "kept after a plain not-found");
    }

    #[test]
    fn garbage_answers_are_errors_not_panics() {
        let mut found = Vec::new();
        assert_eq!(parse(&[], &mut found), Ok(Parsed::More));
        assert_eq!(parse(&[0xff; 16], &mut found), Err(DiagError::Garbled));
        // A message claiming 20 bytes whose socket body is cut short.
        let mut m = 20u32.to_ne_bytes().to_vec();
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&[0; 14]);
        assert_eq!(parse(&m, &mut found), Err(DiagError::Garbled));
        // A socket with an attribute longer than its message.
        let mut body = vec![1u8, 1, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&200u16.to_ne_bytes());
        body.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        assert_eq!(parse_sock(&body), Err(DiagError::Garbled));
        assert!(found.is_empty());
    }

    #[test]
    fn describes_names() {
        assert_eq!(describe(5, Some(b"\0app\x1b")), "@app\\x1b");
        assert_eq!(describe(5, Some(b"/run/a.sock\0")), "/run/a.sock");
        assert_eq!(describe(5, Some(b"")), "socket:[5]");
        assert_eq!(describe(5, None), "socket:[5]");
    }
}
