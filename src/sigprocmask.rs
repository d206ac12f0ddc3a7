//! The binary's own `sigprocmask`, exported (build.rs) so libunwind's calls reach it: while
//! the calling thread is unwinding ([`rstack_tui::tracer::sigmask::unwinding`]) it does
//! nothing, else what libc's does. Binary only: the library must not replace libc's for
//! programs that link it.

use rstack_tui::tracer::sigmask;

/// `sigprocmask(2)`, as libc has it, except while this thread unwinds.
///
/// # Safety
/// As for libc's: `set` and `old` are null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigprocmask(
    how: libc::c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> libc::c_int {
    if sigmask::unwinding() {
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
