//! What blocked threads wait for: the blocking system call with its arguments decoded (read
//! from `/proc` before a thread is stopped), the kernel stack of threads in uninterruptible
//! sleep, and, after the trace while the target runs again, which mutex a futex waiter waits
//! on, who owns it (see [`crate::tracer::analysis::mutex`]), and the cycles of that wait-for graph (deadlocks).

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::tracer::analysis::mutex::{self, Held, Libc};
use crate::tracer::model::{LockHint, Syscall, Thread};
use crate::tracer::text;

/// Longest fd target (`readlink /proc/PID/fd/N`) we keep; a path can be long.
const MAX_FD_TARGET: usize = 256;

/// Most lines of a kernel stack we keep.
const MAX_KERNEL_STACK: usize = 64;

const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

/// A futex operation, without the private and clock flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FutexOp {
    Wait,
    Wake,
    Fd,
    Requeue,
    CmpRequeue,
    WakeOp,
    LockPi,
    UnlockPi,
    TrylockPi,
    WaitBitset,
    WakeBitset,
    WaitRequeuePi,
    CmpRequeuePi,
    LockPi2,
    Other(u64),
}

impl FutexOp {
    /// Decodes the `op` argument of `futex(2)`, ignoring FUTEX_PRIVATE_FLAG and
    /// FUTEX_CLOCK_REALTIME.
    pub(crate) fn decode(op: u64) -> FutexOp {
        match op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) {
            0 => FutexOp::Wait,
            1 => FutexOp::Wake,
            2 => FutexOp::Fd,
            3 => FutexOp::Requeue,
            4 => FutexOp::CmpRequeue,
            5 => FutexOp::WakeOp,
            6 => FutexOp::LockPi,
            7 => FutexOp::UnlockPi,
            8 => FutexOp::TrylockPi,
            9 => FutexOp::WaitBitset,
            10 => FutexOp::WakeBitset,
            11 => FutexOp::WaitRequeuePi,
            12 => FutexOp::CmpRequeuePi,
            13 => FutexOp::LockPi2,
            other => FutexOp::Other(other),
        }
    }

    /// The name as in `futex_wait`, or `None` for an unknown op.
    pub(crate) fn name(self) -> Option<&'static str> {
        Some(match self {
            FutexOp::Wait => "futex_wait",
            FutexOp::Wake => "futex_wake",
            FutexOp::Fd => "futex_fd",
            FutexOp::Requeue => "futex_requeue",
            FutexOp::CmpRequeue => "futex_cmp_requeue",
            FutexOp::WakeOp => "futex_wake_op",
            FutexOp::LockPi => "futex_lock_pi",
            FutexOp::UnlockPi => "futex_unlock_pi",
            FutexOp::TrylockPi => "futex_trylock_pi",
            FutexOp::WaitBitset => "futex_wait_bitset",
            FutexOp::WakeBitset => "futex_wake_bitset",
            FutexOp::WaitRequeuePi => "futex_wait_requeue_pi",
            FutexOp::CmpRequeuePi => "futex_cmp_requeue_pi",
            FutexOp::LockPi2 => "futex_lock_pi2",
            FutexOp::Other(_) => return None,
        })
    }

    /// True for the ops that block waiting for a futex word to change or a lock to be freed.
    pub(crate) fn is_wait(self) -> bool {
        matches!(
            self,
            FutexOp::Wait
                | FutexOp::WaitBitset
                | FutexOp::WaitRequeuePi
                | FutexOp::LockPi
                | FutexOp::LockPi2
        )
    }
}

/// The futex word a thread blocks on, when its system call is a futex wait (or PI lock).
pub(crate) fn futex_wait_address(sc: &Syscall) -> Option<u64> {
    (sc.number == 202 && FutexOp::decode(sc.args[1]).is_wait()).then_some(sc.args[0])
}

/// The blocking call `sc` of a thread of `pid`, decoded: `futex_wait(0x7f12a4c0)`,
/// `read(fd 7 → socket:[12345])`, `epoll_wait(epfd 5 → anon_inode:[eventpoll], max 64)`.
/// Every piece of text that comes from the target (fd targets) is made inert.
pub(crate) fn describe(pid: i32, sc: &Syscall) -> String {
    let a = sc.args;
    let fd = |n: u64| fd_text(pid, n);
    match sc.number {
        202 => {
            let op = FutexOp::decode(a[1]);
            match op.name() {
                Some(name) => format!("{name}({:#x})", a[0]),
                None => format!("futex({:#x}, op {})", a[0], a[1]),
            }
        }
        449 => format!("futex_waitv({} futexes)", a[1]),
        0 | 1 | 17 | 18 | 19 | 20 | 44 | 45 | 46 | 47 | 43 | 288 | 42 | 299 | 307 | 16 | 72
        | 73 | 74 | 426 => {
            let name = crate::tracer::arch::native::syscalls::name(sc.number).unwrap_or("syscall");
            format!("{name}({})", fd(a[0]))
        }
        232 | 281 | 441 => {
            let name =
                crate::tracer::arch::native::syscalls::name(sc.number).unwrap_or("epoll_wait");
            format!("{name}(ep{}, max {})", fd(a[0]), a[2] as u32 as i32)
        }
        7 => format!("poll({} fds)", a[1]),
        271 => format!("ppoll({} fds)", a[1]),
        23 => format!("select(nfds {})", a[0] as u32 as i32),
        270 => format!("pselect6(nfds {})", a[0] as u32 as i32),
        34 => "pause()".into(),
        35 => "nanosleep()".into(),
        230 => format!("clock_nanosleep({})", clock_name(a[0])),
        61 => format!("wait4({})", wait4_target(a[0] as u32 as i32)),
        247 => format!("waitid({})", waitid_target(a[0], a[1] as u32 as i32)),
        128 => "rt_sigtimedwait()".into(),
        130 => "rt_sigsuspend()".into(),
        219 => "restart_syscall (an interrupted sleep resumed)".into(),
        // Opening a FIFO waits for its other end; a path on a hung network filesystem too.
        2 => format!("open({})", path_text(pid, a[0])),
        257 | 437 => {
            let name = if sc.number == 257 {
                "openat"
            } else {
                "openat2"
            };
            format!("{name}({})", path_text(pid, a[1]))
        }
        n => match crate::tracer::arch::native::syscalls::name(n) {
            Some(name) => format!("{name}()"),
            None => format!("syscall {n}"),
        },
    }
}

/// `fd 7 → socket:[12345]`, or `fd 7` when the link cannot be read.
fn fd_text(pid: i32, arg: u64) -> String {
    let fd = arg as u32 as i32;
    if fd < 0 {
        return format!("fd {fd}");
    }
    match fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
        Ok(target) => {
            use std::os::unix::ffi::OsStrExt;
            let target = text::from_bytes(target.as_os_str().as_bytes());
            format!("fd {fd} → {}", text::inert_bounded(&target, MAX_FD_TARGET))
        }
        Err(_) => format!("fd {fd}"),
    }
}

fn clock_name(id: u64) -> String {
    match id {
        0 => "CLOCK_REALTIME".into(),
        1 => "CLOCK_MONOTONIC".into(),
        2 => "CLOCK_PROCESS_CPUTIME_ID".into(),
        3 => "CLOCK_THREAD_CPUTIME_ID".into(),
        4 => "CLOCK_MONOTONIC_RAW".into(),
        5 => "CLOCK_REALTIME_COARSE".into(),
        6 => "CLOCK_MONOTONIC_COARSE".into(),
        7 => "CLOCK_BOOTTIME".into(),
        8 => "CLOCK_REALTIME_ALARM".into(),
        9 => "CLOCK_BOOTTIME_ALARM".into(),
        11 => "CLOCK_TAI".into(),
        other => format!("clock {}", other as u32 as i32),
    }
}

/// The path a thread passed to open: read from its memory (at most `MAX_FD_TARGET` bytes),
/// quoted and made inert; `path ?` when it cannot be read.
fn path_text(pid: i32, address: u64) -> String {
    let mut buf = [0u8; MAX_FD_TARGET];
    let n = crate::tracer::memory::RemoteMemory::new(pid).read_pages(address, &mut buf);
    let Some(end) = buf[..n].iter().position(|&b| b == 0) else {
        return "path ?".into();
    };
    let path = text::from_bytes(&buf[..end]);
    format!("\"{}\"", text::inert_bounded(&path, MAX_FD_TARGET))
}

fn wait4_target(pid: i32) -> String {
    match pid {
        -1 => "any child".into(),
        0 => "any child in its process group".into(),
        p if p < -1 => format!("any child in process group {}", -(p as i64)),
        p => format!("pid {p}"),
    }
}

fn waitid_target(idtype: u64, id: i32) -> String {
    match idtype {
        0 => "any child".into(),
        1 => format!("pid {id}"),
        2 => format!("process group {id}"),
        3 => format!("pidfd {id}"),
        other => format!("idtype {other}, id {id}"),
    }
}

/// The kernel stack of thread `tid` (`/proc/PID/task/TID/stack`, root only): the function
/// part of each line (`futex_wait_queue+0x6b/0xa0`), at most 64 lines; empty when unreadable.
pub(crate) fn kernel_stack(pid: i32, tid: i32) -> Vec<String> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/task/{tid}/stack")) else {
        return Vec::new();
    };
    parse_kernel_stack(&raw)
}

fn parse_kernel_stack(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == b'\n')
        .map(|line| {
            let line = text::from_bytes(line);
            let line = line.trim();
            // "[<0>] futex_wait_queue+0x6b/0xa0": drop the bracketed address.
            let func = match line.strip_prefix("[<") {
                Some(rest) => rest.split_once("] ").map(|(_, f)| f).unwrap_or(rest),
                None => line,
            };
            text::inert_bounded(func.trim(), 256)
        })
        .filter(|l| !l.is_empty())
        .take(MAX_KERNEL_STACK)
        .collect()
}

/// Fills the lock hint of every thread blocked in a futex wait, reading the futex words of
/// the (running again) process `pid`, whose C library is `libc`, and returns the deadlocks:
/// the cycles of the wait-for graph, each starting at its smallest tid, in wait order.
pub(crate) fn explain(pid: i32, libc: Libc, threads: &mut [Thread]) -> Vec<Vec<u32>> {
    let tids: HashSet<u32> = threads.iter().map(|t| t.id).collect();
    let mut edges = Vec::new();
    // Threads parked on one condition variable or mutex share its futex word: read it once
    // (a thousand waiters cost one read, not a thousand).
    let mut read: HashMap<u64, Held> = HashMap::new();
    for t in threads.iter_mut() {
        let Some(address) = t.facts.syscall.as_ref().and_then(futex_wait_address) else {
            continue;
        };
        let held = read
            .entry(address)
            .or_insert_with(|| mutex::held(pid, libc, address, &tids));
        let (owner, note) = match held.clone() {
            Held::By(owner, note) => {
                edges.push((t.id, owner));
                (Some(owner), note)
            }
            Held::Unrecorded(note) => (None, Some(note)),
            Held::Unknown => (None, Some(libc.no_owner_note())),
        };
        t.facts.lock = Some(LockHint {
            address,
            owner,
            note: note.map(String::from),
        });
    }
    find_cycles(&edges)
}

/// Every cycle of a wait-for graph given as edges `waiter → owner` (a waiter waits for one
/// owner; a later edge from the same waiter is ignored). Each cycle is reported once,
/// starting at its smallest tid and following the edges; cycles are sorted by that tid. A
/// thread waiting for itself (a relocked normal mutex) is a cycle of one.
pub(crate) fn find_cycles(edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut next: HashMap<u32, u32> = HashMap::new();
    for &(from, to) in edges {
        next.entry(from).or_insert(to);
    }
    let mut done: HashSet<u32> = HashSet::new();
    let mut cycles = Vec::new();
    for &(start, _) in edges {
        if done.contains(&start) {
            continue;
        }
        // Walk from `start` until a node seen on this walk (a cycle) or an already finished
        // node or a node that waits for nobody (no new cycle).
        let mut path: Vec<u32> = Vec::new();
        let mut on_path: HashMap<u32, usize> = HashMap::new();
        let mut node = start;
        loop {
            if let Some(&i) = on_path.get(&node) {
                let mut cycle = path[i..].to_vec();
                let min = cycle.iter().enumerate().min_by_key(|(_, t)| **t).unwrap().0;
                cycle.rotate_left(min);
                cycles.push(cycle);
                break;
            }
            if done.contains(&node) {
                break;
            }
            on_path.insert(node, path.len());
            path.push(node);
            match next.get(&node) {
                Some(&n) => node = n,
                None => break,
            }
        }
        done.extend(path);
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cycle() {
        assert_eq!(find_cycles(&[(102, 101), (101, 102)]), vec![vec![101, 102]]);
    }

    #[test]
    fn three_cycle_in_wait_order() {
        // 7 waits for 3, 3 for 5, 5 for 7: starts at 3, then who 3 waits for.
        assert_eq!(find_cycles(&[(7, 3), (3, 5), (5, 7)]), vec![vec![3, 5, 7]]);
    }

    #[test]
    fn chain_into_a_cycle() {
        // 1 → 2 → 10 → 11 → 10: only the cycle, once, whichever node is walked first.
        let edges = [(1, 2), (2, 10), (10, 11), (11, 10), (20, 11)];
        assert_eq!(find_cycles(&edges), vec![vec![10, 11]]);
        let mut reversed = edges;
        reversed.reverse();
        assert_eq!(find_cycles(&reversed), vec![vec![10, 11]]);
    }

    #[test]
    fn no_cycle() {
        assert!(find_cycles(&[(1, 2), (2, 3), (4, 3)]).is_empty());
        assert!(find_cycles(&[]).is_empty());
    }

    #[test]
    fn two_cycles_and_a_self_wait() {
        let edges = [(9, 8), (8, 9), (4, 6), (6, 5), (5, 4), (30, 30)];
        assert_eq!(
            find_cycles(&edges),
            vec![vec![4, 6, 5], vec![8, 9], vec![30]]
        );
    }

    #[test]
    fn futex_ops() {
        assert_eq!(FutexOp::decode(0), FutexOp::Wait);
        assert_eq!(FutexOp::decode(128), FutexOp::Wait); // FUTEX_WAIT_PRIVATE
        assert_eq!(FutexOp::decode(1 | 128), FutexOp::Wake);
        assert_eq!(FutexOp::decode(9 | 128 | 256), FutexOp::WaitBitset);
        assert_eq!(FutexOp::decode(6 | 128), FutexOp::LockPi);
        assert_eq!(FutexOp::decode(13), FutexOp::LockPi2);
        assert_eq!(FutexOp::decode(11 | 128), FutexOp::WaitRequeuePi);
        assert_eq!(FutexOp::decode(99), FutexOp::Other(99));
        for op in [0, 128, 9 | 128 | 256, 6, 6 | 128, 11, 13] {
            assert!(FutexOp::decode(op).is_wait(), "op {op}");
        }
        for op in [1, 1 | 128, 3, 4, 5, 7, 8, 10, 12, 99] {
            assert!(!FutexOp::decode(op).is_wait(), "op {op}");
        }
    }

    fn sc(number: i64, args: [u64; 6]) -> Syscall {
        Syscall { number, args }
    }

    #[test]
    fn describes_futex_calls() {
        let me = std::process::id() as i32;
        assert_eq!(
            describe(me, &sc(202, [0x7f12_a4c0, 128, 2, 0, 0, 0])),
            "futex_wait(0x7f12a4c0)"
        );
        assert_eq!(
            describe(me, &sc(202, [0x1000, 9 | 128 | 256, 0, 0, 0, 0])),
            "futex_wait_bitset(0x1000)"
        );
        assert_eq!(
            describe(me, &sc(202, [0x1000, 1, 1, 0, 0, 0])),
            "futex_wake(0x1000)"
        );
        assert_eq!(
            describe(me, &sc(202, [0x1000, 6 | 128, 0, 0, 0, 0])),
            "futex_lock_pi(0x1000)"
        );
        assert_eq!(
            describe(me, &sc(202, [0x1000, 77, 0, 0, 0, 0])),
            "futex(0x1000, op 77)"
        );
        assert_eq!(
            futex_wait_address(&sc(202, [0x1000, 128, 2, 0, 0, 0])),
            Some(0x1000)
        );
        assert_eq!(
            futex_wait_address(&sc(202, [0x1000, 129, 2, 0, 0, 0])),
            None
        );
        assert_eq!(futex_wait_address(&sc(0, [0x1000, 128, 2, 0, 0, 0])), None);
    }

    #[test]
    fn describes_other_calls() {
        let me = std::process::id() as i32;
        // An fd that is surely not open: no target.
        assert_eq!(
            describe(me, &sc(0, [987_654, 0, 0, 0, 0, 0])),
            "read(fd 987654)"
        );
        assert_eq!(describe(me, &sc(7, [0, 3, 0, 0, 0, 0])), "poll(3 fds)");
        assert_eq!(describe(me, &sc(23, [8, 0, 0, 0, 0, 0])), "select(nfds 8)");
        assert_eq!(
            describe(me, &sc(230, [1, 0, 0, 0, 0, 0])),
            "clock_nanosleep(CLOCK_MONOTONIC)"
        );
        assert_eq!(
            describe(me, &sc(61, [1234, 0, 0, 0, 0, 0])),
            "wait4(pid 1234)"
        );
        assert_eq!(
            describe(me, &sc(61, [u32::MAX as u64, 0, 0, 0, 0, 0])),
            "wait4(any child)"
        );
        assert_eq!(describe(me, &sc(34, [0; 6])), "pause()");
        assert_eq!(
            describe(me, &sc(219, [0; 6])),
            "restart_syscall (an interrupted sleep resumed)"
        );
        assert_eq!(describe(me, &sc(100_000, [0; 6])), "syscall 100000");
        // Any call by its name, and an open's path read from the caller's memory, inert.
        assert_eq!(describe(me, &sc(83, [0; 6])), "mkdir()");
        let path = b"/srv/app/fifo\x1b[2J\0";
        let at = path.as_ptr() as u64;
        assert_eq!(
            describe(me, &sc(257, [-100i64 as u64, at, 0, 0, 0, 0])),
            "openat(\"/srv/app/fifo\\x1b[2J\")"
        );
        assert_eq!(
            describe(me, &sc(2, [at, 0, 0, 0, 0, 0])),
            "open(\"/srv/app/fifo\\x1b[2J\")"
        );
        // No NUL within the bound, or unmapped: not read.
        let long = vec![b'a'; 1000];
        assert_eq!(
            describe(me, &sc(257, [0, long.as_ptr() as u64, 0, 0, 0, 0])),
            "openat(path ?)"
        );
        assert_eq!(describe(me, &sc(257, [0, 8, 0, 0, 0, 0])), "openat(path ?)");
        // An fd we hold: its target, e.g. a pipe.
        let (r, _w) = nix::unistd::pipe().unwrap();
        use std::os::fd::AsRawFd;
        let fd = r.as_raw_fd() as u64;
        let read = describe(me, &sc(0, [fd, 0, 0, 0, 0, 0]));
        assert!(
            read.starts_with(&format!("read(fd {fd} → pipe:[")),
            "{read}"
        );
        let ep = describe(me, &sc(232, [fd, 0, 64, 0, 0, 0]));
        assert!(
            ep.starts_with(&format!("epoll_wait(epfd {fd} → pipe:[")),
            "{ep}"
        );
        assert!(ep.ends_with("], max 64)"), "{ep}");
    }

    #[test]
    fn parses_kernel_stacks() {
        let raw = b"[<0>] futex_wait_queue+0x6b/0xa0\n[<0>] do_futex+0x11d/0x1b0\n\x1b[31m\n";
        assert_eq!(
            parse_kernel_stack(raw),
            [
                "futex_wait_queue+0x6b/0xa0",
                "do_futex+0x11d/0x1b0",
                "\\x1b[31m"
            ]
        );
        let many = "[<0>] f+0x1/0x2\n".repeat(100);
        assert_eq!(parse_kernel_stack(many.as_bytes()).len(), MAX_KERNEL_STACK);
    }
}
