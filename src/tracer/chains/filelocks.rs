//! File locks: who holds the lock a thread blocked in `flock` or `fcntl(F_SETLKW)` waits for,
//! from `/proc/locks` (read once per chain build, bounded) matched on the file's device and
//! inode; OFD locks, which show no pid there, through the `lock:` lines of `/proc/*/fdinfo`.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::Syscall;
use crate::tracer::text;

/// Most bytes of `/proc/locks` read: some 60 bytes a lock, so tens of thousands of locks.
const MAX_LOCKS_BYTES: u64 = 4 << 20;
/// Most fds of `/proc/*/fd` looked at to find the holders of an OFD lock (a stat each; some
/// 25,000 on a 2,000-process machine).
const MAX_FDS_LOOKED_AT: usize = 200_000;

const SYS_FCNTL: i64 = 72;
const SYS_FLOCK: i64 = 73;
const F_SETLKW: u64 = 7;
const F_OFD_SETLKW: u64 = 38;
const LOCK_SH: u64 = 1;
const LOCK_EX: u64 = 2;
const LOCK_NB: u64 = 4;

/// The kind of a lock as `/proc/locks` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Posix,
    Ofd,
    Flock,
    /// Leases, delegations, `ACCESS` probes: nothing a blocked lock call waits for.
    Other,
}

/// One line of `/proc/locks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LockEntry {
    /// A blocked request ("->"), not a held lock.
    pub blocked: bool,
    pub class: Class,
    pub write: bool,
    /// The pid that took it (the thread group's, in our pid namespace); None for OFD locks
    /// (-1) and pids of other namespaces (0).
    pub pid: Option<u32>,
    /// Device major, minor, inode.
    pub dev: (u32, u32),
    pub inode: u64,
    /// First and last byte (inclusive); None for the last: to the end of the file and beyond.
    pub start: u64,
    pub end: Option<u64>,
}

/// Every parseable line of a `/proc/locks` text; lines that do not parse are skipped.
pub(super) fn parse_locks(raw: &[u8]) -> Vec<LockEntry> {
    raw.split(|&b| b == b'\n')
        .filter_map(|line| parse_line(std::str::from_utf8(line).ok()?))
        .collect()
}

/// "1: POSIX  ADVISORY  WRITE 812 fe:00:1234 0 EOF", "2: -> FLOCK  ADVISORY  WRITE 813 ...",
/// "3: OFDLCK ADVISORY  READ  -1 08:01:99 100 199"; also the fdinfo form after "lock:\t".
fn parse_line(line: &str) -> Option<LockEntry> {
    let mut words = line.split_ascii_whitespace();
    let id = words.next()?;
    if !id.ends_with(':') || id.len() > 24 {
        return None;
    }
    let mut class = words.next()?;
    let blocked = class == "->";
    if blocked {
        class = words.next()?;
    }
    let class = match class {
        "POSIX" => Class::Posix,
        "OFDLCK" => Class::Ofd,
        "FLOCK" => Class::Flock,
        "ACCESS" | "LEASE" | "DELEG" => Class::Other,
        _ => return None,
    };
    let _mode = words.next()?;
    let write = match words.next()? {
        "WRITE" => true,
        "READ" => false,
        "UNLCK" => return None,
        _ => return None,
    };
    let pid: i64 = words.next()?.parse().ok()?;
    let mut devino = words.next()?.split(':');
    let major = u32::from_str_radix(devino.next()?, 16).ok()?;
    let minor = u32::from_str_radix(devino.next()?, 16).ok()?;
    let inode: u64 = devino.next()?.parse().ok()?;
    if devino.next().is_some() {
        return None;
    }
    let start: u64 = words.next()?.parse().ok()?;
    let end = match words.next()? {
        "EOF" => None,
        n => Some(n.parse::<u64>().ok()?),
    };
    if words.next().is_some() || end.is_some_and(|e| e < start) {
        return None;
    }
    Some(LockEntry {
        blocked,
        class,
        write,
        pid: u32::try_from(pid).ok().filter(|&p| p > 0),
        dev: (major, minor),
        inode,
        start,
        end,
    })
}

/// The lock a blocked call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    pub fd: u64,
    /// Whether it is an `flock` (else a POSIX or OFD byte-range lock).
    pub flock: bool,
    pub ofd: bool,
    /// None when the request could not be read (then every held lock is taken to conflict).
    pub write: Option<bool>,
    /// Byte range asked for, inclusive, end None for "to EOF"; None when not known.
    pub range: Option<(u64, Option<u64>)>,
}

/// The lock request of a thread of `pid` blocked in `sc`, when it is a blocking lock call.
pub(super) fn request(pid: u32, sc: &Syscall) -> Option<Request> {
    let a = sc.args;
    match sc.number {
        SYS_FLOCK if a[1] & LOCK_NB == 0 && a[1] & (LOCK_SH | LOCK_EX) != 0 => Some(Request {
            fd: a[0],
            flock: true,
            ofd: false,
            write: Some(a[1] & LOCK_EX != 0),
            range: Some((0, None)),
        }),
        SYS_FCNTL if a[1] == F_SETLKW || a[1] == F_OFD_SETLKW => {
            let (write, range) = read_flock(pid, a[2]);
            Some(Request {
                fd: a[0],
                flock: false,
                ofd: a[1] == F_OFD_SETLKW,
                write,
                range,
            })
        }
        _ => None,
    }
}

/// The type and range of the `struct flock` at `address` (x86_64: `short l_type` +0, `short
/// l_whence` +2, `off_t l_start` +8, `off_t l_len` +16). A range relative to the file
/// position or its end is not resolved (None: the whole file then).
fn read_flock(pid: u32, address: u64) -> (Option<bool>, Option<(u64, Option<u64>)>) {
    let mut buf = [0u8; 24];
    if address == 0 || !RemoteMemory::new(pid as i32).read_exact(address, &mut buf) {
        return (None, None);
    }
    let short = |at: usize| i16::from_ne_bytes([buf[at], buf[at + 1]]);
    let long = |at: usize| i64::from_ne_bytes(buf[at..at + 8].try_into().unwrap_or([0; 8]));
    let write = match short(0) {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    let (whence, start, len) = (short(2), long(8), long(16));
    let range = if whence != 0 || start < 0 {
        None
    } else if len == 0 {
        Some((start as u64, None))
    } else if len > 0 {
        Some((start as u64, (start as u64).checked_add(len as u64 - 1)))
    } else {
        // A negative length covers the bytes before start.
        let from = start.checked_add(len).filter(|&f| f >= 0);
        from.map(|f| (f as u64, Some(start as u64 - 1)))
    };
    (write, range)
}

/// The locks held on one file that keep a request waiting.
pub(super) fn conflicting<'a>(
    locks: &'a [LockEntry],
    req: &Request,
    waiter_pid: u32,
    dev: (u32, u32),
    inode: u64,
) -> Vec<&'a LockEntry> {
    locks
        .iter()
        .filter(|l| !l.blocked && l.dev == dev && l.inode == inode)
        .filter(|l| match l.class {
            Class::Flock => req.flock,
            // A process's own POSIX locks never block it; OFD locks block whoever else asks.
            Class::Posix => !req.flock && (req.ofd || l.pid != Some(waiter_pid)),
            Class::Ofd => !req.flock,
            Class::Other => false,
        })
        .filter(|l| req.write != Some(false) || l.write)
        .filter(|l| match req.range {
            Some((start, end)) if !req.flock => overlaps((start, end), (l.start, l.end)),
            _ => true,
        })
        .collect()
}

fn overlaps(a: (u64, Option<u64>), b: (u64, Option<u64>)) -> bool {
    a.1.is_none_or(|e| e >= b.0) && b.1.is_none_or(|e| e >= a.0)
}

/// The words for a lock: "flock, write", "POSIX write lock, bytes 0-EOF".
pub(super) fn describe(l: &LockEntry) -> String {
    let access = if l.write { "write" } else { "read" };
    let end = l.end.map_or("EOF".to_string(), |e| e.to_string());
    match l.class {
        Class::Flock => format!("flock, {access}"),
        Class::Posix => format!("POSIX {access} lock, bytes {}-{end}", l.start),
        Class::Ofd => format!("OFD {access} lock, bytes {}-{end}", l.start),
        Class::Other => format!("lease, {access}"),
    }
}

/// What the request's fd is: its path (inert) and device and inode, or why not known.
pub(super) fn fd_file(pid: u32, fd: u64) -> Result<(String, (u32, u32), u64), String> {
    let link = format!("/proc/{pid}/fd/{fd}");
    let path = fs::read_link(&link)
        .map(|p| text::inert_bounded(&text::from_bytes(p.as_os_str().as_encoded_bytes()), 512))
        .map_err(|e| format!("fd {fd} of pid {pid} not readable: {}", io_words(&e)))?;
    // stat follows the link to the open file itself (a FIFO is not opened, so nothing blocks).
    let meta = fs::metadata(&link)
        .map_err(|e| format!("{path} of pid {pid} not readable: {}", io_words(&e)))?;
    let dev = meta.dev();
    Ok((path, (libc::major(dev), libc::minor(dev)), meta.ino()))
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "no permission (run as its user or root)".into(),
        std::io::ErrorKind::NotFound => "gone".into(),
        _ => text::inert_bounded(&e.to_string(), 120),
    }
}

/// `/proc/locks`, parsed; None when unreadable.
pub(super) fn read_locks() -> Option<Vec<LockEntry>> {
    super::fds::read_bounded("/proc/locks", MAX_LOCKS_BYTES).map(|raw| parse_locks(&raw))
}

/// The processes whose open files hold an OFD lock like `lock` (same file, range and
/// access): the processes nearest `near` in pid order first, each fd of theirs stat'ed
/// (bounded), and the `lock:` lines of the fdinfo of those open on the lock's file read,
/// until `budget` is spent. The second value is true when a bound cut the search short.
pub(super) fn ofd_holders(
    lock: &LockEntry,
    near: u32,
    budget: std::time::Duration,
) -> (Vec<u32>, bool) {
    let started = std::time::Instant::now();
    let mut holders = Vec::new();
    let mut fds_seen = 0usize;
    let Ok(procs) = fs::read_dir("/proc") else {
        return (holders, false);
    };
    let mut pids: Vec<u32> = procs
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable_by_key(|&p| p.abs_diff(near));
    for pid in pids {
        if started.elapsed() > budget {
            return (holders, true);
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            fds_seen += 1;
            if fds_seen > MAX_FDS_LOOKED_AT {
                return (holders, true);
            }
            let on_file = fs::metadata(fd.path()).is_ok_and(|m| {
                m.ino() == lock.inode && (libc::major(m.dev()), libc::minor(m.dev())) == lock.dev
            });
            if !on_file || holders.contains(&pid) {
                continue;
            }
            let Some(n) = fd.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if super::fds::fdinfo(pid, n).is_some_and(|raw| holds(&raw, lock)) {
                holders.push(pid);
            }
        }
    }
    (holders, false)
}

/// Whether an fdinfo text has a `lock:` line for an OFD lock like `lock`.
fn holds(fdinfo: &[u8], lock: &LockEntry) -> bool {
    fdinfo
        .split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"lock:"))
        .filter_map(|l| parse_line(std::str::from_utf8(l).ok()?))
        .any(|l| {
            !l.blocked
                && l.class == Class::Ofd
                && l.dev == lock.dev
                && l.inode == lock.inode
                && l.write == lock.write
                && (l.start, l.end) == (lock.start, lock.end)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1: POSIX  ADVISORY  WRITE 812 fe:00:1234 0 EOF
1: -> POSIX  ADVISORY  WRITE 813 fe:00:1234 0 EOF
2: FLOCK  ADVISORY  WRITE 790 08:01:99 0 EOF
2: -> FLOCK  ADVISORY  READ 791 08:01:99 0 EOF
3: OFDLCK ADVISORY  READ  -1 103:02:77 100 199
4: LEASE  ACTIVE    READ 700 08:01:5 0 EOF
5: FLOCK  ADVISORY  READ 0 08:01:99 0 EOF
";

    fn req(flock: bool, write: Option<bool>, range: Option<(u64, Option<u64>)>) -> Request {
        Request {
            fd: 3,
            flock,
            ofd: false,
            write,
            range,
        }
    }

    #[test]
    fn parses_the_sample() {
        let l = parse_locks(SAMPLE.as_bytes());
        assert_eq!(l.len(), 7);
        assert_eq!(
            l[0],
            LockEntry {
                blocked: false,
                class: Class::Posix,
                write: true,
                pid: Some(812),
                dev: (0xfe, 0),
                inode: 1234,
                start: 0,
                end: None,
            }
        );
        assert!(l[1].blocked);
        assert_eq!(l[1].pid, Some(813));
        assert_eq!(
            (l[2].class, l[2].pid, l[2].dev),
            (Class::Flock, Some(790), (8, 1))
        );
        assert_eq!(
            (
                l[4].class, l[4].pid, l[4].dev, l[4].start, l[4].end, l[4].write
            ),
            (Class::Ofd, None, (0x103, 2), 100, Some(199), false)
        );
        assert_eq!(l[5].class, Class::Other);
        // pid 0: a process of another pid namespace.
        assert_eq!(l[6].pid, None);
        assert_eq!(describe(&l[0]), "POSIX write lock, bytes 0-EOF");
        assert_eq!(describe(&l[2]), "flock, write");
        assert_eq!(describe(&l[4]), "OFD read lock, bytes 100-199");
    }

    #[test]
    fn garbage_is_skipped() {
        let garbage = "\
\n\
1:\n\
1: POSIX\n\
x POSIX  ADVISORY  WRITE 812 fe:00:1234 0 EOF\n\
1: WEIRD  ADVISORY  WRITE 812 fe:00:1234 0 EOF\n\
1: POSIX  ADVISORY  WRITE abc fe:00:1234 0 EOF\n\
1: POSIX  ADVISORY  WRITE 812 zz:00:1234 0 EOF\n\
1: POSIX  ADVISORY  WRITE 812 fe:00:1234:5 0 EOF\n\
1: POSIX  ADVISORY  WRITE 812 fe:00:1234 9 3\n\
1: POSIX  ADVISORY  WRITE 812 fe:00:1234 0 EOF extra\n\
1: POSIX  ADVISORY  UNLCK 812 fe:00:1234 0 EOF\n\
1: POSIX  ADVISORY  WRITE 99999999999 fe:00:1234 0 EOF\n";
        let l = parse_locks(garbage.as_bytes());
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].pid, None);
        assert!(parse_locks(&[0xff, 0xfe, b'\n', 0, 1, 2]).is_empty());
        assert!(parse_locks(&vec![b'1'; 100_000]).is_empty());
    }

    #[test]
    fn conflicts() {
        let l = parse_locks(SAMPLE.as_bytes());
        let on = |r: &Request, pid, dev, ino| -> Vec<Option<u32>> {
            conflicting(&l, r, pid, dev, ino)
                .iter()
                .map(|l| l.pid)
                .collect()
        };
        // flock: the held FLOCK locks, not the blocked one, nor POSIX ones.
        assert_eq!(
            on(&req(true, Some(true), None), 791, (8, 1), 99),
            [Some(790), None]
        );
        // A shared flock conflicts only with write locks.
        assert_eq!(
            on(&req(true, Some(false), None), 791, (8, 1), 99),
            [Some(790)]
        );
        // POSIX: the other process's lock; never the waiter's own.
        assert_eq!(
            on(
                &req(false, Some(true), Some((0, None))),
                813,
                (0xfe, 0),
                1234
            ),
            [Some(812)]
        );
        assert!(on(&req(false, Some(true), None), 812, (0xfe, 0), 1234).is_empty());
        // Ranges: 100-199 held for reading (OFD).
        let ofd = |range| on(&req(false, Some(true), range), 5, (0x103, 2), 77);
        assert_eq!(ofd(Some((150, Some(160)))), [None]);
        assert_eq!(ofd(Some((0, Some(99)))), Vec::<Option<u32>>::new());
        assert_eq!(ofd(Some((200, None))), Vec::<Option<u32>>::new());
        assert_eq!(ofd(Some((199, None))), [None]);
        // A read request does not conflict with a read lock.
        assert!(on(&req(false, Some(false), None), 5, (0x103, 2), 77).is_empty());
        // Another file: nothing.
        assert!(on(&req(true, Some(true), None), 791, (8, 1), 100).is_empty());
    }

    #[test]
    fn fdinfo_lock_lines() {
        let l = &parse_locks(SAMPLE.as_bytes())[4];
        let info = b"pos:\t0\nflags:\t02\nmnt_id:\t30\nino:\t77\n\
lock:\t1: OFDLCK ADVISORY  READ  -1 103:02:77 100 199\n";
        assert!(holds(info, l));
        assert!(!holds(
            b"pos:\t0\nlock:\t1: OFDLCK ADVISORY  WRITE -1 103:02:77 100 199\n",
            l
        ));
        assert!(!holds(
            b"lock:\t1: -> OFDLCK ADVISORY  READ -1 103:02:77 100 199\n",
            l
        ));
        assert!(!holds(b"lock:\tgarbage\n\xff", l));
    }

    #[test]
    fn requests() {
        let sc = |number, args: [u64; 6]| Syscall { number, args };
        let r = request(1, &sc(SYS_FLOCK, [3, LOCK_EX, 0, 0, 0, 0])).unwrap();
        assert_eq!((r.fd, r.flock, r.write), (3, true, Some(true)));
        assert_eq!(
            request(1, &sc(SYS_FLOCK, [3, LOCK_SH, 0, 0, 0, 0]))
                .unwrap()
                .write,
            Some(false)
        );
        assert_eq!(
            request(1, &sc(SYS_FLOCK, [3, LOCK_EX | LOCK_NB, 0, 0, 0, 0])),
            None
        );
        assert_eq!(request(1, &sc(SYS_FLOCK, [3, 8, 0, 0, 0, 0])), None);
        // F_SETLK (6) does not block; an unreadable struct flock leaves access and range open.
        assert_eq!(request(1, &sc(SYS_FCNTL, [3, 6, 0, 0, 0, 0])), None);
        let r = request(1, &sc(SYS_FCNTL, [4, F_OFD_SETLKW, 0, 0, 0, 0])).unwrap();
        assert_eq!(
            (r.fd, r.flock, r.ofd, r.write, r.range),
            (4, false, true, None, None)
        );
    }
}
