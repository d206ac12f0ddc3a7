//! Where a connected UNIX socket's peer was when it connected, as the kernel recorded it
//! (SO_PEERCRED), read through a copy of the waiter's fd (pidfd_getfd): the process to look in
//! first for the peer's holder. Only a hint: the fd index checks it before it is believed (the
//! peer may have passed its end on, or forked). Also the fd copy the TCP/UDP lookups read.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The pid SO_PEERCRED gives for fd `fd` of process `pid`, if any. Needs Linux 5.6 and the
/// right to ptrace `pid` (which tracing it took); the copy of the fd is closed at once, and the
/// target's own fd is untouched.
pub(super) fn peer_pid(pid: u32, fd: i32) -> Option<u32> {
    let copy = copy_fd(pid, fd)?;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is writable for `len` bytes, and `len` says so.
    let rc = unsafe {
        libc::getsockopt(
            copy.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// A copy of fd `fd` of process `pid` (pidfd_getfd), closed when dropped. Needs Linux 5.6 and
/// the right to ptrace `pid`; the target's own fd is untouched. Only questions that change
/// nothing are asked of a copy (its name, its peer): it shares the target's open file.
pub(super) fn copy_fd(pid: u32, fd: i32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = i32::try_from(pidfd).ok().filter(|&f| f >= 0)?;
    // SAFETY: `pidfd` was just returned to us and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: pidfd_getfd takes three integers and returns a new fd or -1.
    let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    let copy = i32::try_from(copy).ok().filter(|&f| f >= 0)?;
    // SAFETY: as for `pidfd`.
    Some(unsafe { OwnedFd::from_raw_fd(copy) })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn a_socket_pair_names_its_creator_and_other_fds_nothing() {
        let me = std::process::id();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(super::peer_pid(me, a.as_raw_fd()), Some(me));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert_eq!(super::peer_pid(me, r.as_raw_fd()), None);
        assert_eq!(super::peer_pid(me, 987_654), None);
        assert_eq!(super::peer_pid(u32::MAX, a.as_raw_fd()), None);
    }
}
