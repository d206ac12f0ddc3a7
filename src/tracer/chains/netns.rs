//! Other network namespaces: sock_diag answers only for the namespace its socket was made in,
//! so a netlink socket for a process of another namespace (a container) is made by a short
//! thread that joins that namespace first (`setns`, which needs CAP_SYS_ADMIN there).

use std::os::fd::AsRawFd;

/// The namespace link of a process (`net:[4026531840]`), empty when it cannot be read.
pub(super) fn of(pid: u32) -> Vec<u8> {
    read(&format!("/proc/{pid}/ns/net"))
}

/// Our own namespace's link.
pub(super) fn own() -> Vec<u8> {
    read("/proc/self/ns/net")
}

fn read(link: &str) -> Vec<u8> {
    std::fs::read_link(link)
        .map(|l| std::os::unix::ffi::OsStrExt::as_bytes(l.as_os_str()).to_vec())
        .unwrap_or_default()
}

/// Runs `f` in a thread that joined `pid`'s network namespace (the thread ends with it, and
/// ours stay where they are); None when the namespace cannot be joined.
pub(super) fn inside<T: Send + 'static>(
    pid: u32,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).ok()?;
    std::thread::Builder::new()
        .name("rstack-netns".into())
        .spawn(move || {
            // SAFETY: setns takes an fd we own and a flag; it changes only this thread.
            let joined = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } == 0;
            joined.then(f)
        })
        .ok()?
        .join()
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_namespace_is_joined_and_a_missing_process_is_not() {
        let me = std::process::id();
        assert_eq!(super::of(me), super::own());
        assert!(super::own().starts_with(b"net:["));
        // Joining the namespace we are in needs CAP_SYS_ADMIN too: as root it runs `f`.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(super::inside(me, || 7), Some(7));
        }
        assert_eq!(super::inside(u32::MAX, || 7), None);
        assert!(super::of(u32::MAX).is_empty());
    }
}
