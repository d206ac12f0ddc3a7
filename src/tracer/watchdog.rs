//! A forked watchdog that undoes the SIGSTOP of PTRACE_ATTACH if the tracer dies first.
//!
//! PTRACE_ATTACH queues a SIGSTOP on the thread; until the tracer has waited for the stop it
//! causes, a SIGKILLed tracer would leave it behind, and the whole target would stop. While such
//! a stop is outstanding the target is *armed* here; if our end of the socket closes while a
//! target is armed (we died, or exited with a thread still lingering), the watchdog sends it
//! SIGCONT. Targets that were stopped before we came are never armed, so they stay stopped.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

/// Messages are 8 bytes: an opcode and a pid, native endian.
const ARM: u32 = 1;
const DISARM: u32 = 2;
/// Targets armed at once (several tracer threads, lingering threads of earlier targets).
const SLOTS: usize = 64;

struct Watchdog {
    sock: OwnedFd,
    pid: libc::pid_t,
}

static WATCHDOG: Mutex<Option<Watchdog>> = Mutex::new(None);

/// An outstanding SIGSTOP of ours on a thread of process `tgid`: armed when made, disarmed
/// when dropped (once the stop was consumed, or cannot happen any more).
#[derive(Debug)]
pub struct Armed {
    tgid: libc::pid_t,
}

impl Armed {
    /// Arms the watchdog for `tgid` before a PTRACE_ATTACH of one of its threads, unless the
    /// process is stopped already (then a leftover SIGSTOP changes nothing, and a SIGCONT
    /// would wake what the user stopped). `None`: not armed.
    pub fn arm(tgid: libc::pid_t, already_stopped: bool) -> Option<Armed> {
        if already_stopped {
            return None;
        }
        let mut guard = WATCHDOG.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = spawn();
        }
        let sent = guard.as_ref().is_some_and(|w| send(w, ARM, tgid));
        if !sent {
            // The watchdog died (or never started): reap it, try a fresh one next time.
            if let Some(w) = guard.take() {
                // SAFETY: waitpid on our own child, no memory effects.
                unsafe { libc::waitpid(w.pid, std::ptr::null_mut(), libc::WNOHANG) };
            }
            return None;
        }
        Some(Armed { tgid })
    }

    /// We give up on consuming the stop (our thread exits with it outstanding): cancel it now
    /// with SIGCONT, which also discards a SIGSTOP still queued, then disarm.
    pub fn cancel_stop(self) {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(self.tgid, libc::SIGCONT) };
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let guard = WATCHDOG.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = guard.as_ref() {
            send(w, DISARM, self.tgid);
        }
    }
}

fn send(w: &Watchdog, op: u32, pid: libc::pid_t) -> bool {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&op.to_ne_bytes());
    msg[4..].copy_from_slice(&pid.to_ne_bytes());
    loop {
        // SAFETY: sends 8 bytes from a live buffer; MSG_NOSIGNAL: no SIGPIPE if it died.
        let n = unsafe {
            libc::send(
                w.sock.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n == msg.len() as isize {
            return true;
        }
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return false;
    }
}

/// Forks the watchdog. A SOCK_SEQPACKET pair keeps messages whole and reports our death as
/// end-of-file; close-on-exec keeps programs we spawn from holding our end open.
fn spawn() -> Option<Watchdog> {
    let mut fds = [0; 2];
    // SAFETY: fills two fds into a live array.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child runs only async-signal-safe code (the parent may be multi-threaded)
    // and never returns.
    match unsafe { libc::fork() } {
        -1 => None,
        0 => unsafe { watch(theirs.as_raw_fd()) },
        pid => {
            drop(theirs);
            Some(Watchdog { sock: ours, pid })
        }
    }
}

/// The watchdog process. Async-signal-safe calls only, no allocation: it was forked from a
/// process whose other threads may hold locks.
///
/// SIGCONT is sent to every target still armed at end-of-file, without waiting for a stop to
/// show: the kernel may not have detached the target yet (our files close before our
/// tracees are released), and a SIGSTOP still queued on a thread asleep in state D would stop
/// the process much later. SIGCONT discards queued stop signals and cancels a stop already
/// dequeued (JOBCTL_STOP_DEQUEUED), so it is right at any moment after the last attach.
unsafe fn watch(sock: libc::c_int) -> ! {
    // SAFETY (whole body): raw system calls on integers and stack buffers only.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"rstack-watchdog".as_ptr());
        // Signals meant for the tracer's terminal or session must not take us down with it.
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        for sig in [
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGTERM,
            libc::SIGPIPE,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            libc::sigaction(sig, &ignore, std::ptr::null_mut());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // Keep only the socket (as fd 3) and /dev/null as stdio: an inherited pipe (a
        // caller's stdout) must not stay open after the tracer exits.
        let moved = libc::fcntl(sock, libc::F_DUPFD, 3);
        if moved < 0 {
            libc::_exit(1);
        }
        if moved != 3 && libc::dup2(moved, 3) < 0 {
            libc::_exit(1);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        if libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) != 0 {
            for fd in 4..4096 {
                libc::close(fd);
            }
        }

        let mut armed = [(0 as libc::pid_t, 0u32); SLOTS];
        loop {
            let mut msg = [0u8; 8];
            let n = libc::recv(3, msg.as_mut_ptr().cast(), msg.len(), 0);
            if n == 0 {
                break;
            }
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break;
            }
            if n != msg.len() as isize {
                continue;
            }
            let op = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
            let pid = libc::pid_t::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
            let slot = armed.iter().position(|&(p, n)| p == pid && n > 0);
            match (op, slot) {
                (ARM, Some(i)) => armed[i].1 += 1,
                (ARM, None) => {
                    if let Some(i) = armed.iter().position(|&(_, n)| n == 0) {
                        armed[i] = (pid, 1);
                    }
                }
                (DISARM, Some(i)) => armed[i].1 -= 1,
                _ => {}
            }
        }
        for &(pid, n) in &armed {
            if n > 0 {
                libc::kill(pid, libc::SIGCONT);
            }
        }
        libc::_exit(0);
    }
}
