//! The kernel's sock_diag netlink interface, shared by the UNIX and the TCP/UDP lookups: a
//! socket opened with a receive timeout, a request sent, the answers read until done, each
//! message's body handed to the caller's parser. Every answer is hostile bytes: lengths are
//! checked, reads and messages bounded.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;

pub(super) const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub(super) const NLM_F_REQUEST: u16 = 1;
pub(super) const NLM_F_DUMP: u16 = 0x300;
/// Most sockets one dump reads.
pub(super) const MAX_DUMPED: usize = 100_000;
/// How long the kernel may take to answer one read.
const TIMEOUT: Duration = Duration::from_millis(500);

/// Why a question to sock_diag got no socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DiagError {
    /// No socket matches (in this network namespace).
    NotFound,
    /// Netlink refused or failed (an errno).
    Failed(Errno),
    /// The answer did not parse.
    Garbled,
}

/// A netlink socket kept for the lookups of one chain build, opened at the first and dropped
/// after any failure (a late answer must not be taken for the next question's).
#[derive(Default)]
pub(super) struct Netlink {
    sock: Option<OwnedFd>,
    /// The process whose network namespace the socket is made in, when not ours.
    namespace_of: Option<u32>,
}

impl Netlink {
    /// A socket that asks about the network namespace of process `pid` (made in it).
    pub(super) fn in_namespace_of(pid: u32) -> Netlink {
        Netlink {
            sock: None,
            namespace_of: Some(pid),
        }
    }

    fn open(&self) -> Result<OwnedFd, DiagError> {
        match self.namespace_of {
            None => open(),
            Some(pid) => {
                super::netns::inside(pid, open).unwrap_or(Err(DiagError::Failed(Errno::EPERM)))
            }
        }
    }

    /// Sends `request` (a whole message, header included) and parses the answers with
    /// `body`, at most `max` of them.
    pub(super) fn ask<T>(
        &mut self,
        request: &[u8],
        max: usize,
        body: impl FnMut(&[u8]) -> Result<T, DiagError>,
    ) -> Result<Vec<T>, DiagError> {
        let sock = match self.sock.take() {
            Some(s) => s,
            None => self.open()?,
        };
        let mut found = Vec::new();
        let answer = send(&sock, request).and_then(|()| receive(&sock, &mut found, max, body));
        match answer {
            Ok(()) | Err(DiagError::NotFound) => self.sock = Some(sock),
            Err(_) => {}
        }
        answer.map(|()| found)
    }
}

/// The netlink header of a sock_diag request whose body is `body_len` bytes.
pub(super) fn header(body_len: usize, flags: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + body_len);
    m.extend_from_slice(&((16 + body_len) as u32).to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
    m
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

fn send(sock: &OwnedFd, msg: &[u8]) -> Result<(), DiagError> {
    // An unconnected netlink socket sends to the kernel.
    // SAFETY: `msg` is readable for its length; the kernel copies it.
    let n = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(DiagError::Failed(Errno::last()));
    }
    Ok(())
}

/// Reads answers until the kernel says done (a dump) or `max` came (a lookup wants one).
fn receive<T>(
    sock: &OwnedFd,
    found: &mut Vec<T>,
    max: usize,
    mut body: impl FnMut(&[u8]) -> Result<T, DiagError>,
) -> Result<(), DiagError> {
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
        match parse(&buf[..n.min(buf.len())], found, &mut body)? {
            Parsed::Done => return Ok(()),
            Parsed::More if found.len() >= max => return Ok(()),
            Parsed::More => {}
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    More,
    Done,
}

/// Parses one read's netlink messages, each socket's body through `body`.
pub(super) fn parse<T>(
    mut buf: &[u8],
    found: &mut Vec<T>,
    body: &mut impl FnMut(&[u8]) -> Result<T, DiagError>,
) -> Result<Parsed, DiagError> {
    while buf.len() >= 16 {
        let len = u32_at(buf, 0).ok_or(DiagError::Garbled)? as usize;
        let ty = u16_at(buf, 4).ok_or(DiagError::Garbled)?;
        if len < 16 || len > buf.len() {
            return Err(DiagError::Garbled);
        }
        let data = &buf[16..len];
        match ty {
            NLMSG_DONE => return Ok(Parsed::Done),
            NLMSG_ERROR => {
                let code = u32_at(data, 0).ok_or(DiagError::Garbled)? as i32;
                return match -code {
                    0 => Ok(Parsed::Done),
                    libc::ENOENT => Err(DiagError::NotFound),
                    e => Err(DiagError::Failed(Errno::from_raw(e))),
                };
            }
            SOCK_DIAG_BY_FAMILY if found.len() < MAX_DUMPED => found.push(body(data)?),
            _ => {}
        }
        buf = &buf[align(len).min(buf.len())..];
    }
    Ok(Parsed::More)
}

/// A message's attributes (`rtattr`: length, type, data), until one does not fit.
pub(super) fn attributes(mut attrs: &[u8]) -> Result<Vec<(u16, &[u8])>, DiagError> {
    let mut out = Vec::new();
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0).ok_or(DiagError::Garbled)? as usize;
        let ty = u16_at(attrs, 2).ok_or(DiagError::Garbled)?;
        if len < 4 || len > attrs.len() {
            return Err(DiagError::Garbled);
        }
        out.push((ty, &attrs[4..len]));
        attrs = &attrs[align(len).min(attrs.len())..];
    }
    Ok(out)
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(b: &[u8]) -> Result<usize, DiagError> {
        Ok(b.len())
    }

    #[test]
    fn garbage_answers_are_errors_not_panics() {
        let mut found = Vec::new();
        assert_eq!(parse(&[], &mut found, &mut any), Ok(Parsed::More));
        assert_eq!(
            parse(&[0xff; 16], &mut found, &mut any),
            Err(DiagError::Garbled)
        );
        // A message claiming more bytes than the read holds.
        let mut m = 40u32.to_ne_bytes().to_vec();
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&[0; 14]);
        assert_eq!(parse(&m, &mut found, &mut any), Err(DiagError::Garbled));
        // An error message with no code.
        let mut e = 16u32.to_ne_bytes().to_vec();
        e.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        e.extend_from_slice(&[0; 10]);
        assert_eq!(parse(&e, &mut found, &mut any), Err(DiagError::Garbled));
        assert!(found.is_empty());
        // An attribute longer than its message; one shorter than its own header.
        let mut a = 200u16.to_ne_bytes().to_vec();
        a.extend_from_slice(&[0, 0]);
        assert_eq!(attributes(&a), Err(DiagError::Garbled));
        assert_eq!(attributes(&[2, 0, 0, 0]), Err(DiagError::Garbled));
        assert_eq!(
            attributes(&[8, 0, 3, 0, 1, 2, 3, 4]),
            Ok(vec![(3, &[1u8, 2, 3, 4][..])])
        );
    }
}
