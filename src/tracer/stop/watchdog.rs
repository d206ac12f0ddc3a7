//! A forked watchdog that undoes the SIGSTOP of PTRACE_ATTACH if the tracer dies first.
//!
//! PTRACE_ATTACH queues a SIGSTOP on the thread; until the tracer has waited for the stop it
//! causes, a SIGKILLed tracer would leave it behind, and the whole target would stop. While such
//! a stop is outstanding the target is *armed* here; if our end of the socket closes while a
//! target is armed (we died, or exited with a thread still lingering), the watchdog sends it
//! SIGCONT. Targets that were stopped before we came are never armed, so they stay stopped.
//!
//! The watchdog holds a pidfd of each armed process, not its number: if the process exits and
//! its pid goes to another before we die, the SIGCONT reaches nobody instead of that stranger.
//! Without a pidfd (kernels before 5.3 have no pidfd_open; or no fd was left) the watchdog
//! gets the number, and a reused pid is not told apart.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

/// Messages are 12 bytes, native endian: an opcode, a slot and (ARM) a process id. An ARM
/// may carry the process's pidfd (SCM_RIGHTS). Only the first arm of a process and its last
/// disarm are sent: the counts are ours.
const ARM: u32 = 1;
const DISARM: u32 = 2;
const MSG: usize = 12;
/// Processes armed at once (several tracer threads, lingering threads of earlier targets).
const SLOTS: usize = 64;

/// Why an attach goes on without the watchdog's guard: if we were killed before its stop was
/// consumed, the target would stay stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoGuard {
    /// Every slot holds another process already: `guarded` of them.
    Full { guarded: usize },
    /// The watchdog could not be started or reached (`errno` of the failed call).
    Unreachable { errno: i32 },
}

/// An outstanding SIGSTOP of ours on a thread of process `tgid`: armed when made, disarmed
/// when dropped (once the stop was consumed, or cannot happen any more).
#[derive(Debug)]
pub struct Armed {
    slot: usize,
    tgid: libc::pid_t,
    pidfd: Option<Arc<OwnedFd>>,
}

static WATCHDOG: Mutex<Watchdog> = Mutex::new(Watchdog::new(true));

fn watchdog() -> std::sync::MutexGuard<'static, Watchdog> {
    WATCHDOG.lock().unwrap_or_else(|e| e.into_inner())
}

impl Armed {
    /// Arms the watchdog for `tgid` before a PTRACE_ATTACH of one of its threads, unless the
    /// process is stopped already (then a leftover SIGSTOP changes nothing, and a SIGCONT
    /// would wake what the user stopped): `Ok(None)`. An error says why the attach that
    /// follows has no guard.
    pub fn arm(tgid: libc::pid_t, already_stopped: bool) -> Result<Option<Armed>, NoGuard> {
        if already_stopped {
            return Ok(None);
        }
        let mut w = watchdog();
        let slot = w.arm(tgid)?;
        let pidfd = w.slots[slot].as_ref().and_then(|s| s.pidfd.clone());
        Ok(Some(Armed { slot, tgid, pidfd }))
    }

    /// We give up on consuming the stop (our thread exits with it outstanding): cancel it now
    /// with SIGCONT, which also discards a SIGSTOP still queued, then disarm. By pidfd when
    /// there is one: the process may be gone and its pid another's.
    pub fn cancel_stop(self) {
        match &self.pidfd {
            // ESRCH: the process is gone, nothing of it to continue.
            Some(fd) => {
                let _ = send_signal(fd.as_raw_fd(), libc::SIGCONT);
            }
            // SAFETY: kill takes plain integers.
            None => unsafe {
                libc::kill(self.tgid, libc::SIGCONT);
            },
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        watchdog().disarm(self.slot);
    }
}

/// One armed process, in our copy of the watchdog's table.
#[derive(Debug)]
struct Slot {
    tgid: libc::pid_t,
    /// Live [`Armed`] on it: the watchdog hears of the first and of the last.
    count: u32,
    /// `None`: no pidfd_open (old kernel), or it failed; the watchdog has the number.
    pidfd: Option<Arc<OwnedFd>>,
}

impl Slot {
    /// Still the process we armed? Only a pidfd can tell: once the process is gone it answers
    /// ESRCH, even if its pid names another process now.
    fn is_current(&self) -> bool {
        self.pidfd
            .as_ref()
            .is_none_or(|fd| send_signal(fd.as_raw_fd(), 0) != Err(libc::ESRCH))
    }
}

/// The watchdog process, seen from the tracer.
struct Child {
    sock: OwnedFd,
    pid: libc::pid_t,
}

struct Watchdog {
    child: Option<Child>,
    /// The watchdog's table as we told it, slot for slot: we know it is full without asking.
    slots: [Option<Slot>; SLOTS],
    /// Arm by pidfd (until pidfd_open says ENOSYS).
    pidfds: bool,
}

impl Watchdog {
    const fn new(pidfds: bool) -> Watchdog {
        Watchdog {
            child: None,
            slots: [const { None }; SLOTS],
            pidfds,
        }
    }

    /// Arms `tgid` (once more, if it is armed already); returns its slot.
    fn arm(&mut self, tgid: libc::pid_t) -> Result<usize, NoGuard> {
        self.reach()?;
        let current = self.slots.iter_mut().enumerate().find_map(|(i, s)| {
            let s = s.as_mut().filter(|s| s.tgid == tgid && s.is_current())?;
            Some((i, s))
        });
        if let Some((i, s)) = current {
            s.count += 1;
            return Ok(i);
        }
        let Some(i) = self.slots.iter().position(Option::is_none) else {
            return Err(NoGuard::Full { guarded: SLOTS });
        };
        let slot = Slot {
            tgid,
            count: 1,
            pidfd: self.pidfd_of(tgid).map(Arc::new),
        };
        self.tell_arm(i, &slot)?;
        self.slots[i] = Some(slot);
        Ok(i)
    }

    /// Drops one arm of `slot`; the last one frees it.
    fn disarm(&mut self, i: usize) {
        let Some(s) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        s.count -= 1;
        if s.count > 0 {
            return;
        }
        self.slots[i] = None;
        let sent = self.child.as_ref().map(|c| send(c, DISARM, i, 0, None));
        if sent.is_some_and(|r| r.is_err()) {
            // Its table and ours differ now: a fresh one learns ours at the next arm.
            self.lose_child();
        }
    }

    /// A watchdog that hears us: the running one, or a new one that is told what the last
    /// one guarded.
    fn reach(&mut self) -> Result<(), NoGuard> {
        if self.child.as_ref().is_some_and(Child::hung_up) {
            self.lose_child();
        }
        if self.child.is_some() {
            return Ok(());
        }
        let child = spawn().map_err(|errno| NoGuard::Unreachable { errno })?;
        let told = self
            .slots
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| match s {
                Some(s) => tell_arm(&child, i, s),
                None => Ok(()),
            });
        self.child = Some(child);
        told.map_err(|errno| {
            self.lose_child();
            NoGuard::Unreachable { errno }
        })
    }

    /// Tells the watchdog of a newly armed slot.
    fn tell_arm(&mut self, i: usize, s: &Slot) -> Result<(), NoGuard> {
        let told = match &self.child {
            Some(c) => tell_arm(c, i, s),
            None => Err(libc::ENOTCONN),
        };
        told.map_err(|errno| {
            self.lose_child();
            NoGuard::Unreachable { errno }
        })
    }

    /// Ends a watchdog we cannot rely on, and reaps it. One that still hears us is killed
    /// first: if it saw our end close it would continue every armed process while their
    /// stops are still ours to consume. One that hung up is exiting, its pid ours until
    /// reaped.
    fn lose_child(&mut self) {
        if let Some(c) = self.child.take() {
            // SAFETY: kill and waitpid on our own unreaped child, no memory effects.
            unsafe {
                if !c.hung_up() {
                    libc::kill(c.pid, libc::SIGKILL);
                }
                libc::waitpid(c.pid, std::ptr::null_mut(), 0);
            }
        }
    }

    /// A pidfd for process `tgid`, or `None` to arm it by number: no pidfd_open (then we stop
    /// asking), or it failed (the process is gone, or no fd is left).
    fn pidfd_of(&mut self, tgid: libc::pid_t) -> Option<OwnedFd> {
        if !self.pidfds {
            return None;
        }
        // SAFETY: pidfd_open takes integers and returns a new fd (close-on-exec) or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0u32) };
        if fd < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.pidfds = false;
            }
            return None;
        }
        // SAFETY: the fd was just created and is owned by nobody else.
        Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

impl Child {
    /// The watchdog's end of the socket is closed: it died (someone killed it).
    fn hung_up(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: polls one live pollfd without waiting.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n > 0 && p.revents & (libc::POLLHUP | libc::POLLERR) != 0
    }
}

/// pidfd_send_signal without siginfo: `Err(errno)` when it failed.
fn send_signal(pidfd: RawFd, sig: libc::c_int) -> Result<(), i32> {
    // SAFETY: integers and a null siginfo; no memory of ours is touched.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

/// Room for one control message carrying one fd, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

fn tell_arm(c: &Child, i: usize, s: &Slot) -> Result<(), i32> {
    send(c, ARM, i, s.tgid, s.pidfd.as_ref().map(|fd| fd.as_raw_fd()))
}

fn send(c: &Child, op: u32, slot: usize, pid: libc::pid_t, fd: Option<RawFd>) -> Result<(), i32> {
    let mut msg = [0u8; MSG];
    msg[..4].copy_from_slice(&op.to_ne_bytes());
    msg[4..8].copy_from_slice(&(slot as u32).to_ne_bytes());
    msg[8..].copy_from_slice(&pid.to_ne_bytes());
    let mut iov = libc::iovec {
        iov_base: msg.as_mut_ptr().cast(),
        iov_len: MSG,
    };
    let mut control = CmsgBuf([0; 32]);
    // SAFETY: an all-zero msghdr is valid (no name, no control).
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if let Some(fd) = fd {
        let len = std::mem::size_of::<libc::c_int>() as u32;
        hdr.msg_control = control.0.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is arithmetic; 24 bytes fit in the 32 of `control`.
        hdr.msg_controllen = unsafe { libc::CMSG_SPACE(len) } as usize;
        // SAFETY: the header and its data lie within `control`, which `hdr` points to.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(len) as usize;
            libc::CMSG_DATA(cmsg)
                .cast::<libc::c_int>()
                .write_unaligned(fd);
        }
    }
    loop {
        // SAFETY: `hdr` points to live buffers; MSG_NOSIGNAL: no SIGPIPE if it died.
        let n = unsafe { libc::sendmsg(c.sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
        if n == MSG as isize {
            return Ok(());
        }
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if n < 0 && errno == libc::EINTR {
            continue;
        }
        return Err(if n < 0 { errno } else { libc::EMSGSIZE });
    }
}

/// Forks the watchdog. A SOCK_SEQPACKET pair keeps messages whole and reports our death as
/// end-of-file; close-on-exec keeps programs we spawn from holding our end open.
fn spawn() -> Result<Child, i32> {
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
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
        return Err(errno());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child runs only async-signal-safe code (the parent may be multi-threaded)
    // and never returns.
    match unsafe { libc::fork() } {
        -1 => Err(errno()),
        // SAFETY: we are the freshly forked child, which is what `watch` requires; `theirs`
        // stays open because `watch` never returns.
        0 => unsafe { watch(theirs.as_raw_fd()) },
        pid => {
            drop(theirs);
            Ok(Child { sock: ours, pid })
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
/// A target armed with a pidfd gets it through the pidfd only: if that process is gone, the
/// signal is not sent to whoever has its number now.
///
/// # Safety
/// Only in a child just forked by `spawn`, with `sock` its end of the socket pair: it takes
/// over the process's fds, signal dispositions and mask, and exits instead of returning.
unsafe fn watch(sock: libc::c_int) -> ! {
    // SAFETY: the whole body makes raw system calls on integers, on C string literals and on
    // stack buffers that outlive each call; the fds it closes or replaces are this forked
    // child's own, which nothing else in it uses (see `# Safety`).
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
        // caller's stdout) must not stay open after the tracer exits. The tracer's pidfds
        // go too; the ones we need come over the socket.
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

        // Slot i: the process's number (0: free) and its pidfd (-1: none).
        let mut pids = [0 as libc::pid_t; SLOTS];
        let mut pidfds = [-1 as libc::c_int; SLOTS];
        loop {
            let mut msg = [0u8; MSG];
            let mut iov = libc::iovec {
                iov_base: msg.as_mut_ptr().cast(),
                iov_len: MSG,
            };
            let mut control = CmsgBuf([0; 32]);
            let mut hdr: libc::msghdr = std::mem::zeroed();
            hdr.msg_iov = &mut iov;
            hdr.msg_iovlen = 1;
            hdr.msg_control = control.0.as_mut_ptr().cast();
            hdr.msg_controllen = control.0.len();
            let n = libc::recvmsg(3, &mut hdr, 0);
            if n == 0 {
                break;
            }
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break;
            }
            let fd = received_fd(&hdr);
            let op = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
            let slot = u32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]) as usize;
            let pid = libc::pid_t::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
            let valid = n == MSG as isize && slot < SLOTS && (op == ARM || op == DISARM);
            if !valid || op == DISARM {
                // Kept only by an ARM, which then owns it.
                close_fd(fd);
            }
            if !valid {
                continue;
            }
            close_fd(pidfds[slot]);
            (pids[slot], pidfds[slot]) = if op == ARM { (pid, fd) } else { (0, -1) };
        }
        for (&pid, &fd) in pids.iter().zip(&pidfds) {
            if fd >= 0 {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd,
                    libc::SIGCONT,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                );
            } else if pid > 0 {
                // Never 0 or negative: that would signal a process group, or everyone.
                libc::kill(pid, libc::SIGCONT);
            }
        }
        libc::_exit(0);
    }
}

/// Closes `fd` unless it is -1 (none).
///
/// # Safety
/// `fd` is -1 or an fd the caller owns and no longer uses.
unsafe fn close_fd(fd: libc::c_int) {
    if fd >= 0 {
        // SAFETY: closes an fd the caller owns.
        unsafe { libc::close(fd) };
    }
}

/// The first fd a message carried (-1: none); any others are closed.
///
/// # Safety
/// `hdr` is as `recvmsg` just filled it: its control pointer and length describe a live
/// buffer holding the control messages the kernel wrote.
unsafe fn received_fd(hdr: &libc::msghdr) -> libc::c_int {
    let mut first = -1;
    // SAFETY: the whole body walks the control messages with the CMSG macros, which stay
    // within the buffer `hdr` describes (see `# Safety`); the fds read from SCM_RIGHTS
    // messages were installed in this process by that receive and are ours to keep or close.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let bytes = (*cmsg).cmsg_len.saturating_sub(libc::CMSG_LEN(0) as usize);
                for k in 0..bytes / std::mem::size_of::<libc::c_int>() {
                    let fd = data.add(k).read_unaligned();
                    if first < 0 {
                        first = fd;
                    } else {
                        libc::close(fd);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// Attempts at a given pid before giving up.
    const TRIES: usize = 1000;

    /// A process of our own to arm: `sleep`, killed and reaped when dropped.
    struct Target(std::process::Child);

    impl Target {
        fn spawn() -> Target {
            Target(
                Command::new("sleep")
                    .arg("1000")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawn sleep"),
            )
        }

        /// A target that took `pid`, if the kernel gave it that: the next pid is the one after
        /// ns_last_pid (root only), unless another process or thread is made in between. One
        /// test at a time: two would take each other's pid.
        fn spawn_as(pid: libc::pid_t) -> Option<Target> {
            static FORCING: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _one = FORCING.lock().unwrap_or_else(|e| e.into_inner());
            for _ in 0..TRIES {
                std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
                    .expect("write ns_last_pid (needs root)");
                let t = Target::spawn();
                if t.pid() == pid {
                    return Some(t);
                }
            }
            None
        }

        fn pid(&self) -> libc::pid_t {
            self.0.id() as libc::pid_t
        }

        /// SIGSTOPs it and waits until it shows stopped: a SIGCONT would show as a change.
        fn stopped(self) -> Target {
            // SAFETY: kill takes plain integers.
            assert_eq!(unsafe { libc::kill(self.pid(), libc::SIGSTOP) }, 0);
            wait_until("the target to stop", || self.state() == 'T');
            self
        }

        /// The state letter of /proc/PID/stat.
        fn state(&self) -> char {
            crate::tracer::procfs::stat::Stat::read(&format!("/proc/{}/stat", self.pid()))
                .expect("the target's stat")
                .state
        }
    }

    impl Drop for Target {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    impl Watchdog {
        /// What the watchdog sees when the tracer is killed: our end of the socket closes,
        /// with whatever is armed still armed. Returns once the watchdog has exited, so every
        /// SIGCONT it had to send is sent (and a SIGCONT wakes a stopped process as it is
        /// sent).
        fn tracer_dies(mut self) {
            let c = self.child.take().expect("a watchdog was started");
            drop(c.sock);
            let mut status = 0;
            // SAFETY: waits for our own child.
            assert_eq!(unsafe { libc::waitpid(c.pid, &mut status, 0) }, c.pid);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        }

        fn used(&self) -> usize {
            self.slots.iter().flatten().count()
        }
    }

    #[test]
    fn a_full_table_refuses_the_next_process_and_still_guards_the_others() {
        let targets: Vec<Target> = (0..=SLOTS).map(|_| Target::spawn().stopped()).collect();
        let mut w = Watchdog::new(true);
        for (i, t) in targets[..SLOTS].iter().enumerate() {
            assert_eq!(w.arm(t.pid()), Ok(i));
            assert!(w.slots[i].as_ref().unwrap().pidfd.is_some(), "slot {i}");
        }
        // Another thread of a guarded process shares its slot, even with the table full.
        assert_eq!(w.arm(targets[0].pid()), Ok(0));
        w.disarm(0);
        assert_eq!(
            w.arm(targets[SLOTS].pid()),
            Err(NoGuard::Full { guarded: SLOTS })
        );
        assert_eq!(w.used(), SLOTS);
        w.tracer_dies();
        for (i, t) in targets.iter().enumerate() {
            let state = t.state();
            // Continued: the 64 guarded. Still stopped: the one refused.
            assert_eq!(state == 'T', i == SLOTS, "target {i} is in state {state}");
        }
    }

    /// A watchdog killed under us is replaced at the next arm, and the new one is told of
    /// every process the old one guarded.
    #[test]
    fn a_new_watchdog_guards_what_the_killed_one_did() {
        let (old, new) = (Target::spawn().stopped(), Target::spawn().stopped());
        let mut w = Watchdog::new(true);
        assert_eq!(w.arm(old.pid()), Ok(0));
        let first = w.child.as_ref().unwrap().pid;
        // SAFETY: kill takes plain integers; the watchdog is ours and left for w to reap.
        assert_eq!(unsafe { libc::kill(first, libc::SIGKILL) }, 0);
        wait_until("the watchdog to die", || {
            w.child.as_ref().unwrap().hung_up()
        });
        assert_eq!(old.state(), 'T', "the killed watchdog continued its target");
        assert_eq!(w.arm(new.pid()), Ok(1));
        assert_ne!(w.child.as_ref().unwrap().pid, first);
        w.tracer_dies();
        assert_ne!(
            old.state(),
            'T',
            "the new watchdog was not told of the old target"
        );
        assert_ne!(new.state(), 'T');
    }

    /// The global watchdog filled by 64 processes: a trace that must PTRACE_ATTACH a 65th
    /// goes on without the guard and says so; once a slot is free, the next one is guarded.
    #[test]
    fn a_trace_notes_the_attach_a_full_table_left_unguarded() {
        use crate::tracer::{AttachMethod, TraceOptions, Unguarded};
        let targets: Vec<Target> = (0..=SLOTS).map(|_| Target::spawn()).collect();
        let mut held: Vec<Armed> = targets[..SLOTS]
            .iter()
            .map(|t| Armed::arm(t.pid(), false).unwrap().unwrap())
            .collect();
        let mut options = TraceOptions::new();
        options
            .attach_method(AttachMethod::Attach)
            .stop_blocked(true)
            .symbols(false);
        let pid = targets[SLOTS].pid() as u32;
        let p = options.trace(pid).unwrap();
        assert_eq!(p.threads().len(), 1);
        assert!(
            !p.threads()[0].stopped_for().is_zero(),
            "sleep was not stopped"
        );
        assert_eq!(
            p.unguarded(),
            Some(Unguarded {
                attaches: 1,
                why: NoGuard::Full { guarded: SLOTS }
            })
        );
        held.pop();
        let p = options.trace(pid).unwrap();
        assert!(
            !p.threads()[0].stopped_for().is_zero(),
            "sleep was not stopped"
        );
        assert_eq!(p.unguarded(), None);
    }

    #[test]
    fn only_the_last_disarm_of_a_process_frees_its_slot() {
        let (kept, dropped) = (Target::spawn().stopped(), Target::spawn().stopped());
        let mut w = Watchdog::new(true);
        // Two threads of `kept` attached at once, one of them done.
        assert_eq!(w.arm(kept.pid()), Ok(0));
        assert_eq!(w.arm(kept.pid()), Ok(0));
        w.disarm(0);
        assert_eq!(w.arm(dropped.pid()), Ok(1));
        w.disarm(1);
        assert_eq!(w.used(), 1);
        // The freed slot is the next one taken.
        assert_eq!(w.arm(dropped.pid()), Ok(1));
        w.disarm(1);
        w.tracer_dies();
        assert_ne!(
            kept.state(),
            'T',
            "the process still armed was not continued"
        );
        assert_eq!(dropped.state(), 'T', "a disarmed process was continued");
    }

    /// The attack: a process is armed, exits and is reaped; a stopped stranger gets its pid;
    /// the tracer is killed. By number the watchdog continues the stranger, by pidfd nobody.
    #[test]
    fn a_process_that_took_an_armed_pid_is_not_continued() {
        for pidfds in [true, false] {
            let mut w = Watchdog::new(pidfds);
            let armed = Target::spawn();
            let pid = armed.pid();
            assert_eq!(w.arm(pid), Ok(0));
            assert_eq!(w.slots[0].as_ref().unwrap().pidfd.is_some(), pidfds);
            drop(armed);
            let stranger = Target::spawn_as(pid)
                .unwrap_or_else(|| panic!("no process got pid {pid} again in {TRIES} tries"))
                .stopped();
            w.tracer_dies();
            let state = stranger.state();
            if pidfds {
                assert_eq!(state, 'T', "the stranger with pid {pid} was continued");
            } else {
                assert_ne!(state, 'T', "by number, the stranger should have been hit");
            }
        }
    }

    /// The same process, armed again after its slot's process died and its pid was taken,
    /// gets a slot of its own: the old pidfd would signal nobody.
    #[test]
    fn a_new_process_with_an_armed_pid_gets_a_slot_of_its_own() {
        let mut w = Watchdog::new(true);
        let armed = Target::spawn();
        let pid = armed.pid();
        assert_eq!(w.arm(pid), Ok(0));
        drop(armed);
        let stranger = Target::spawn_as(pid)
            .unwrap_or_else(|| panic!("no process got pid {pid} again in {TRIES} tries"))
            .stopped();
        assert_eq!(w.arm(pid), Ok(1));
        w.tracer_dies();
        assert_ne!(
            stranger.state(),
            'T',
            "the newly armed process was not continued"
        );
    }
}
