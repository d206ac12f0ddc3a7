//! The binary's `sigprocmask` (src/sigprocmask.rs, compiled in here as it is in the binary):
//! it changes nothing while the library says this thread unwinds, and is libc's otherwise.

#[path = "../src/sigprocmask.rs"]
mod interposer;

use interposer::sigprocmask;
use rstack_tui::tracer::sigmask::Quiet;

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
