//! Says whether this thread is unwinding, for a `sigprocmask` interposer. Debian builds
//! libunwind with a global cache whose lock blocks every signal around each access
//! (`sigprocmask` before and after): 52,000 system calls for 1000 threads 20 frames deep.
//!
//! The library only keeps the flag ([`Quiet`] while unwinding, read by [`unwinding`]); it does
//! not replace libc's `sigprocmask`, which would change it for any program linking us. The
//! `rstack-tui` binary exports its own (src/sigprocmask.rs), which skips the calls made while
//! the flag is up: our address spaces are used by one thread, and its signal handlers only
//! set a flag, so there is nothing to block against.

use std::cell::Cell;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// While alive, this thread is unwinding: its `sigprocmask` calls (libunwind's) may be
/// skipped by an interposer that asks [`unwinding`].
pub struct Quiet {
    was: bool,
}

impl Quiet {
    #[expect(
        clippy::new_without_default,
        reason = "a guard is held for a scope, not defaulted"
    )]
    pub fn new() -> Quiet {
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

/// True while this thread holds a [`Quiet`]. Safe to call from a signal mask function at any
/// time (the flag has no destructor and no lazy initialization).
#[inline]
pub fn unwinding() -> bool {
    QUIET.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::{Quiet, unwinding};

    #[test]
    fn the_flag_is_up_while_a_guard_lives_and_nests() {
        assert!(!unwinding());
        {
            let _outer = Quiet::new();
            assert!(unwinding());
            {
                let _inner = Quiet::new();
                assert!(unwinding());
            }
            assert!(unwinding(), "an inner guard lowered the outer one's flag");
        }
        assert!(!unwinding());
        // Per thread: another thread's guard is not ours.
        let _here = Quiet::new();
        std::thread::spawn(|| assert!(!unwinding())).join().unwrap();
    }
}
