//! Keeps libunwind from changing the signal mask twice per frame. Debian builds it with a
//! global cache whose lock blocks every signal around each access (`sigprocmask` before and
//! after): 52,000 system calls for 1000 threads 20 frames deep, a tenth of a `dump`.
//!
//! The executable exports `sigprocmask` (see `build.rs`), so libunwind's calls come here.
//! While this thread unwinds ([`Quiet`]) they do nothing: our address spaces are used by one
//! thread, and our signal handlers only set a flag, so there is nothing to block against.
//! Every other call does what libc's does.

use std::cell::Cell;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// While alive, this thread's `sigprocmask` calls (libunwind's) change nothing.
pub(super) struct Quiet {
    was: bool,
}

impl Quiet {
    pub(super) fn new() -> Quiet {
        Quiet {
            was: QUIET.with(|q| q.replace(true)),
        }
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.was));
    }
}

/// `sigprocmask(2)`, as libc has it, except inside [`Quiet`].
///
/// # Safety
/// As for libc's: `set` and `old` are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigprocmask(
    how: libc::c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> libc::c_int {
    if QUIET.with(Cell::get) {
        // libunwind restores the mask it saved here through this function too, so `old`
        // only has to be a valid set.
        if !old.is_null() {
            // SAFETY: the caller passes a valid `old` or null.
            unsafe { libc::sigemptyset(old) };
        }
        return 0;
    }
    // SAFETY: the caller's pointers, passed on; in a threaded process sigprocmask is
    // pthread_sigmask (glibc's own sigprocmask calls it too).
    match unsafe { libc::pthread_sigmask(how, set, old) } {
        0 => 0,
        err => {
            // SAFETY: errno is this thread's.
            unsafe { *libc::__errno_location() = err };
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Quiet, sigprocmask};

    fn blocked(sig: libc::c_int) -> bool {
        // SAFETY: a zeroed sigset_t is a valid argument; reading the mask changes nothing.
        unsafe {
            let mut now: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut now);
            libc::sigismember(&now, sig) == 1
        }
    }

    #[test]
    fn quiet_only_while_unwinding() {
        // SAFETY: valid sets; the test thread's own mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            let mut old: libc::sigset_t = std::mem::zeroed();
            {
                let _quiet = Quiet::new();
                assert_eq!(sigprocmask(libc::SIG_BLOCK, &set, &mut old), 0);
                assert!(!blocked(libc::SIGUSR2), "changed inside Quiet");
            }
            assert_eq!(sigprocmask(libc::SIG_BLOCK, &set, &mut old), 0);
            assert!(blocked(libc::SIGUSR2), "not changed outside Quiet");
            assert_eq!(
                sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()),
                0
            );
            assert!(!blocked(libc::SIGUSR2));
            // Errors are reported the libc way.
            assert_eq!(sigprocmask(12345, &set, std::ptr::null_mut()), -1);
            assert_eq!(*libc::__errno_location(), libc::EINVAL);
        }
    }
}
