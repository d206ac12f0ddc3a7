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
/// Longest the pass may take: past it, the processes not yet read are left out (said so).
const MAX_TIME: Duration = Duration::from_millis(500);

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

/// The fds of every process readable, by what they point at.
#[derive(Debug, Default)]
pub(super) struct Index {
    by_key: HashMap<Key, Vec<Holder>>,
    /// Processes whose fds could not be read (no permission).
    pub unreadable: usize,
    /// Processes read.
    pub processes: usize,
    /// Which bound cut the pass short, if one did.
    pub cut: Option<&'static str>,
    /// How long the pass took.
    pub took: Duration,
}

impl Index {
    /// Reads every process's fds (see the bounds above).
    pub(super) fn build() -> Index {
        let started = Instant::now();
        let mut index = Index::default();
        let Ok(mut proc_dir) = Dir::open(
            "/proc",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            index.cut = Some("/proc could not be read");
            return index;
        };
        let mut pids: Vec<u32> = Vec::new();
        for entry in proc_dir.iter().flatten() {
            if let Some(pid) = number(entry.file_name().to_bytes()) {
                if pids.len() >= MAX_PROCESSES {
                    index.cut = Some("process bound reached");
                    break;
                }
                pids.push(pid);
            }
        }
        let mut entries = 0usize;
        let mut buf = vec![0u8; MAX_TARGET];
        for pid in pids {
            if started.elapsed() > MAX_TIME {
                index.cut = Some("time bound reached");
                break;
            }
            if entries >= MAX_ENTRIES {
                index.cut = Some("entry bound reached");
                break;
            }
            let fd_dir = match nix::fcntl::openat(
                &proc_dir,
                format!("{pid}/fd").as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::EACCES | Errno::EPERM) => {
                    index.unreadable += 1;
                    continue;
                }
                // Gone since listed.
                Err(_) => continue,
            };
            index.processes += 1;
            entries += index.read_process(pid, fd_dir, &mut buf, MAX_ENTRIES - entries);
        }
        index.took = started.elapsed();
        index
    }

    /// Reads the fds of `pid` through its open fd directory; returns how many were kept.
    fn read_process(&mut self, pid: u32, fd_dir: OwnedFd, buf: &mut [u8], room: usize) -> usize {
        let Ok(mut dir) = Dir::from_fd(fd_dir) else {
            return 0;
        };
        let raw = dir.as_raw_fd();
        let mut seen = 0usize;
        let mut kept = 0usize;
        for entry in dir.iter().flatten() {
            let name = entry.file_name();
            let Some(fd) = number(name.to_bytes()) else {
                continue;
            };
            seen += 1;
            if seen > MAX_FDS_PER_PROCESS || kept >= room {
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
            let link = &buf[..n.min(buf.len())];
            // Only what a wait can be on: the rest is skipped before any allocation.
            let key = match link.first() {
                Some(b's' | b'p' | b'/') => Key::of(&Target::parse(link)),
                _ => None,
            };
            if let Some(key) = key {
                self.by_key
                    .entry(key)
                    .or_default()
                    .push(Holder { pid, fd: fd as i32 });
                kept += 1;
            }
        }
        kept
    }

    /// The fds open on `key`, in every process read.
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
        let index = Index::build();
        let mut mine: Vec<i32> = index
            .holders(Key::Pipe(ino))
            .iter()
            .filter(|h| h.pid == me)
            .map(|h| h.fd)
            .collect();
        mine.sort();
        let mut want = vec![r.as_raw_fd(), w.as_raw_fd()];
        want.sort();
        assert_eq!(mine, want);
        assert!(index.processes > 0);
    }
}
