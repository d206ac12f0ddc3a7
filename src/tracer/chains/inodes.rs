//! Who holds which pipe, socket or path open, system-wide: one pass over every process's
//! `/proc/PID/fd` links, made at most once per chain build and only when a wait needs it,
//! bounded in processes, fds, entries and time, counting the processes it could not read.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::fds::{MAX_TARGET, Target};

/// Most processes looked at.
const MAX_PROCESSES: usize = 100_000;
/// Most fds of one process looked at.
const MAX_FDS_PER_PROCESS: usize = 65_536;
/// Most entries kept in all.
const MAX_ENTRIES: usize = 1_000_000;

/// What an fd is looked up by: a pipe's or socket's inode, or a path's hash (a FIFO is found
/// by the path its holders opened it under; candidates are checked again by their link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Pipe(u64),
    Socket(u64),
    Path(u64),
}

impl Key {
    pub(super) fn of(target: &Target) -> Option<Key> {
        match target {
            Target::Pipe(n) => Some(Key::Pipe(*n)),
            Target::Socket(n) => Some(Key::Socket(*n)),
            Target::Path(p) => Some(Key::Path(path_hash(p))),
            Target::Other => None,
        }
    }
}

fn path_hash(path: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

/// One open fd of some process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Holder {
    pub pid: u32,
    pub fd: i32,
}

/// The fds of the processes read so far, by what they point at. Processes are read in the
/// order of their pid's distance from the waiter's (a peer is most often a parent, child or
/// sibling), and only until a lookup finds what it needs: each process is read at most once
/// per chain build, the rest when a lookup finds nothing.
#[derive(Default)]
pub(super) struct Index {
    by_key: HashMap<Key, Vec<Holder>>,
    proc_dir: Option<Dir>,
    /// Processes not read yet, the next to read last.
    pending: Vec<u32>,
    /// The pid `pending` is ordered around.
    near: Option<u32>,
    entries: usize,
    buf: Vec<u8>,
    /// Processes whose fds could not be read (no permission).
    pub unreadable: usize,
    /// Processes read.
    pub processes: usize,
    /// Which bound cut the pass short, if one did.
    pub cut: Option<&'static str>,
    /// How long reading took, in all.
    pub took: Duration,
    /// How long it may take: past it, the processes not yet read are left out (said so).
    budget: Duration,
    listed: bool,
    /// Every holder wanted, not the nearest: each lookup reads on until every process was.
    thorough: bool,
}

impl Index {
    /// The fds open on `key` found so far, reading more processes (nearest `near` first)
    /// until one of the holders satisfies `enough` (unless [`Index::thorough`]) or every
    /// process was read.
    pub(super) fn find(
        &mut self,
        near: u32,
        key: Key,
        mut enough: impl FnMut(&Holder) -> bool,
    ) -> &[Holder] {
        let thorough = self.thorough;
        let mut enough = move |h: &Holder| !thorough && enough(h);
        if !self.holders(key).iter().any(&mut enough) {
            self.list();
            if self.near != Some(near) {
                self.near = Some(near);
                self.pending
                    .sort_unstable_by_key(|&p| std::cmp::Reverse(p.abs_diff(near)));
            }
            while let Some(pid) = self.pending.pop() {
                let before = self.holders(key).len();
                if !self.read_next(pid) {
                    self.pending.clear();
                    break;
                }
                if self.holders(key)[before..].iter().any(&mut enough) {
                    break;
                }
            }
        }
        self.holders(key)
    }

    /// An index that may take `budget` to read the processes' fds.
    pub(super) fn new(budget: Duration) -> Index {
        Index {
            budget,
            ..Index::default()
        }
    }

    /// The same index, reading every process for each lookup's holders (within its budget):
    /// a pipe or listener shared by a pool of processes lists them all, not the nearest.
    pub(super) fn thorough(self) -> Index {
        Index {
            thorough: true,
            ..self
        }
    }

    /// Reads process `pid` now, if it was not read yet: where a lookup's answer most likely is.
    pub(super) fn read_first(&mut self, pid: u32) {
        self.list();
        if let Some(i) = self.pending.iter().position(|&p| p == pid) {
            self.pending.remove(i);
            self.read_next(pid);
        }
    }

    /// Whether every process was read (a lookup that found nothing looked everywhere).
    #[cfg(test)]
    fn complete(&self) -> bool {
        self.listed && self.pending.is_empty()
    }

    /// Lists the processes, once.
    fn list(&mut self) {
        if self.listed {
            return;
        }
        self.listed = true;
        let started = Instant::now();
        let Ok(mut proc_dir) = Dir::open(
            "/proc",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            self.cut = Some("/proc could not be read");
            return;
        };
        for entry in proc_dir.iter().flatten() {
            if let Some(pid) = number(entry.file_name().to_bytes()) {
                if self.pending.len() >= MAX_PROCESSES {
                    self.cut = Some("process bound reached");
                    break;
                }
                self.pending.push(pid);
            }
        }
        self.proc_dir = Some(proc_dir);
        self.buf = vec![0u8; MAX_TARGET];
        self.took += started.elapsed();
    }

    /// Reads process `pid`; false when a bound stops the pass.
    fn read_next(&mut self, pid: u32) -> bool {
        if self.took > self.budget {
            self.cut = Some(if self.budget < super::FULL_SCAN {
                "its time bound was reached (`dump --chains` reads every process)"
            } else {
                "its time bound was reached"
            });
            return false;
        }
        if self.entries >= MAX_ENTRIES {
            self.cut = Some("entry bound reached");
            return false;
        }
        let Some(proc_dir) = &self.proc_dir else {
            return false;
        };
        let started = Instant::now();
        match nix::fcntl::openat(
            proc_dir,
            format!("{pid}/fd").as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd_dir) => {
                self.processes += 1;
                self.read_process(pid, fd_dir);
            }
            Err(Errno::EACCES | Errno::EPERM) => self.unreadable += 1,
            // Gone since listed.
            Err(_) => {}
        }
        self.took += started.elapsed();
        true
    }

    /// Reads the fds of `pid` through its open fd directory.
    fn read_process(&mut self, pid: u32, fd_dir: OwnedFd) {
        let Ok(mut dir) = Dir::from_fd(fd_dir) else {
            return;
        };
        let raw = dir.as_raw_fd();
        let mut seen = 0usize;
        let mut buf = std::mem::take(&mut self.buf);
        for entry in dir.iter().flatten() {
            let name = entry.file_name();
            let Some(fd) = number(name.to_bytes()) else {
                continue;
            };
            seen += 1;
            if seen > MAX_FDS_PER_PROCESS || self.entries >= MAX_ENTRIES {
                self.cut = Some("fd bound reached");
                break;
            }
            // SAFETY: `name` is a NUL-terminated string and `buf` is writable for its length;
            // readlinkat writes at most that many bytes and does not keep the pointers.
            let n =
                unsafe { libc::readlinkat(raw, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                continue;
            };
            if let Some(key) = key_of(&buf[..n.min(buf.len())]) {
                self.by_key
                    .entry(key)
                    .or_default()
                    .push(Holder { pid, fd: fd as i32 });
                self.entries += 1;
            }
        }
        self.buf = buf;
    }

    /// The fds open on `key` found so far.
    pub(super) fn holders(&self, key: Key) -> &[Holder] {
        self.by_key.get(&key).map(Vec::as_slice).unwrap_or_default()
    }

    /// Why an fd's other end may be missing: the processes not read, and how to read them.
    pub(super) fn gaps(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.unreadable > 0 {
            parts.push(format!(
                "{} processes' files were not readable: run as root or with CAP_SYS_PTRACE",
                self.unreadable
            ));
        }
        if let Some(cut) = self.cut {
            parts.push(format!("the fd index is incomplete: {cut}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The key of an fd link, without allocating: only what a wait can be on.
fn key_of(link: &[u8]) -> Option<Key> {
    match link.first()? {
        b'/' => Some(Key::Path(path_hash(link))),
        b's' | b'p' => Key::of(&Target::parse(link)),
        _ => None,
    }
}

/// A decimal name (a pid, an fd) that fits in an i32.
fn number(name: &[u8]) -> Option<u32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(name).ok()?.parse().ok()?;
    (n <= i32::MAX as u64).then_some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"812"), Some(812));
        assert_eq!(number(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"self",
            b"-1",
            b"12a",
            b"99999999999",
            b"4294967295",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn finds_this_process_pipe_both_ends() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let me = std::process::id();
        let Some(Target::Pipe(ino)) = super::super::fds::target(me, r.as_raw_fd()) else {
            panic!("not a pipe");
        };
        let mut index = Index::new(super::super::FULL_SCAN);
        // Reads until both ends of this process are found: this process is read first.
        let mut mine: Vec<i32> = index
            .find(me, Key::Pipe(ino), |h| h.pid == me && h.fd == w.as_raw_fd())
            .iter()
            .filter(|h| h.pid == me)
            .map(|h| h.fd)
            .collect();
        mine.sort();
        let mut want = vec![r.as_raw_fd(), w.as_raw_fd()];
        want.sort();
        assert_eq!(mine, want);
        assert_eq!(index.processes, 1);
        assert!(!index.complete());
        // A key nobody holds reads every process.
        assert!(index.find(me, Key::Pipe(u64::MAX), |_| true).is_empty());
        assert!(index.complete());
        assert!(index.processes > 1);
    }

    #[test]
    fn a_thorough_index_lists_every_holder_not_the_nearest() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let me = std::process::id();
        let Some(Target::Pipe(ino)) = super::super::fds::target(me, r.as_raw_fd()) else {
            panic!("not a pipe");
        };
        let mut children: Vec<_> = (0..2)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("30")
                    .stdout(std::process::Stdio::from(w.try_clone().unwrap()))
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut index = Index::new(super::super::FULL_SCAN).thorough();
        let mut pids: Vec<u32> = index
            .find(me, Key::Pipe(ino), |h| h.pid != me)
            .iter()
            .map(|h| h.pid)
            .filter(|&p| p != me)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        let mut want: Vec<u32> = children.iter().map(std::process::Child::id).collect();
        want.sort_unstable();
        assert_eq!(pids, want);
        assert!(index.complete());
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    #[test]
    fn says_what_was_not_read() {
        let mut index = Index::new(super::super::FULL_SCAN);
        assert_eq!(index.gaps(), None);
        index.unreadable = 12;
        assert_eq!(
            index.gaps().as_deref(),
            Some("12 processes' files were not readable: run as root or with CAP_SYS_PTRACE")
        );
        index.cut = Some("time bound reached");
        assert_eq!(
            index.gaps().as_deref(),
            Some(
                "12 processes' files were not readable: run as root or with CAP_SYS_PTRACE; \
                 the fd index is incomplete: time bound reached"
            )
        );
    }

    /// The pass's cost on this machine (`cargo test --lib index_cost -- --ignored
    /// --nocapture`, with many processes running): scripts/bench-chains.sh measures the
    /// whole chains lap.
    #[test]
    #[ignore]
    fn index_cost() {
        // A child holding the write end of a pipe this process reads: found near first.
        let (r, w) = nix::unistd::pipe().unwrap();
        let me = std::process::id();
        let Some(Target::Pipe(ino)) = super::super::fds::target(me, r.as_raw_fd()) else {
            panic!("not a pipe");
        };
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdout(std::process::Stdio::from(w))
            .spawn()
            .unwrap();
        for _ in 0..5 {
            let mut near = Index::new(super::super::FULL_SCAN);
            let found = near.find(me, Key::Pipe(ino), |h| h.pid == child.id()).len();
            let mut all = Index::new(super::super::FULL_SCAN);
            all.find(me, Key::Pipe(u64::MAX), |_| true);
            let entries: usize = all.by_key.values().map(Vec::len).sum();
            println!(
                "peer found after {} processes in {:?} ({found} ends); every process: {} \
                 processes, {} unreadable, {entries} entries, cut {:?}: {:?}",
                near.processes, near.took, all.processes, all.unreadable, all.cut, all.took
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
