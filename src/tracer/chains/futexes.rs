//! Futex waits across processes: the owner of a process-shared glibc mutex that a thread of
//! another process holds (the word in a shared mapping both processes map), and the owner of
//! a mutex that a thread of a process met along a chain (not the traced one) waits on, and
//! the writer holding a glibc rwlock.

use std::cell::{Cell, OnceCell};
use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::tracer::analysis::mutex::{self, Held, Libc};
use crate::tracer::procfs::maps::MemoryMaps;

use super::fds::read_bounded;
use super::rwlock;

/// Most bytes of one `/proc/PID/maps` read (some 100 bytes a mapping).
const MAX_MAPS_BYTES: u64 = 8 << 20;
/// Most threads of another process taken as its mutexes' possible owners.
const MAX_TIDS: usize = 4096;

/// One line of `/proc/PID/maps`, the parts needed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MapLine {
    pub start: u64,
    pub end: u64,
    pub shared: bool,
    /// "major:minor" as the kernel prints it.
    pub dev: String,
    pub inode: u64,
}

/// "7f12a4c00000-7f12a4c21000 rw-s 00000000 00:01 1234   /dev/zero (deleted)".
pub(super) fn parse_maps_line(line: &str) -> Option<MapLine> {
    let mut w = line.split_ascii_whitespace();
    let (start, end) = w.next()?.split_once('-')?;
    let perms = w.next()?;
    let _offset = w.next()?;
    let dev = w.next()?;
    let inode = w.next()?.parse().ok()?;
    if perms.len() != 4 || dev.len() > 16 || !dev.contains(':') {
        return None;
    }
    Some(MapLine {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        shared: perms.ends_with('s'),
        dev: dev.to_string(),
        inode,
    })
}

fn maps_lines(pid: u32) -> Option<Vec<MapLine>> {
    let raw = read_bounded(&format!("/proc/{pid}/maps"), MAX_MAPS_BYTES)?;
    Some(
        raw.split(|&b| b == b'\n')
            .filter_map(|l| parse_maps_line(std::str::from_utf8(l).ok()?))
            .collect(),
    )
}

/// The thread group (process) of thread `tid`, from `/proc/TID/status`.
fn tgid_of(tid: u32) -> Option<u32> {
    let raw = read_bounded(&format!("/proc/{tid}/status"), 16 << 10)?;
    raw.split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"Tgid:"))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

/// Who holds a futex word, as far as it can be read.
#[derive(Clone)]
pub(super) enum Owner {
    /// A thread of the waiter's own process.
    Inside(u32),
    /// The writer holding the rwlock at this address, a thread of the waiter's process.
    Writer { rwlock: u64, tid: u32 },
    /// Thread `tid` of process `pid`, through shared memory.
    Outside { pid: u32, tid: u32 },
    /// No owner read; for a held process-shared mutex in shared memory, why (a link with no
    /// holders), else None (not followed).
    None(Option<String>),
}

/// The processes' C libraries and threads, and the owners found, each read once per chain
/// build (a thousand waiters on one word cost one read).
#[derive(Default)]
pub(super) struct Futexes {
    procs: HashMap<u32, Option<(Libc, HashSet<u32>)>>,
    owners: HashMap<(u32, u64), Owner>,
}

impl Futexes {
    /// Who holds the mutex whose word at `address` a thread of `pid` waits on: read in
    /// `pid`'s own layout when `inside` (it has no lock hint: not the traced process), then as
    /// a glibc rwlock held for writing, then, when the word lies in a shared mapping, as a
    /// process-shared glibc mutex whose owner is a thread of `pid` or of another process that
    /// maps the same object.
    pub(super) fn owner(&mut self, pid: u32, address: u64, inside: bool) -> Owner {
        if let Some(o) = self.owners.get(&(pid, address)) {
            return o.clone();
        }
        let o = self.read_owner(pid, address, inside);
        self.owners.insert((pid, address), o.clone());
        o
    }

    fn read_owner(&mut self, pid: u32, address: u64, inside: bool) -> Owner {
        if inside {
            let known = self.procs.entry(pid).or_insert_with(|| {
                let maps = MemoryMaps::read(pid as i32).ok()?;
                let tids = crate::tracer::procfs::procinfo::thread_ids(pid as i32)
                    .ok()?
                    .into_iter()
                    .take(MAX_TIDS)
                    .map(|t| t as u32)
                    .collect();
                Some((Libc::of(&maps), tids))
            });
            if let Some((libc, tids)) = known
                && let Held::By(owner, _) = mutex::held(pid as i32, *libc, address, tids)
            {
                return Owner::Inside(owner);
            }
        }
        let is_thread = |t: u32| Path::new(&format!("/proc/{pid}/task/{t}")).exists();
        if let Some((rwlock, tid)) = rwlock::writer(pid, address, &is_thread) {
            return Owner::Writer { rwlock, tid };
        }
        // The maps are read only for a word that looks like a held process-shared mutex: a
        // thousand threads parked on condition variables cost two small reads, not the maps.
        let mapping: OnceCell<Option<MapLine>> = OnceCell::new();
        let mapping_of = || {
            mapping
                .get_or_init(|| {
                    shared_lines(pid)?
                        .into_iter()
                        .find(|m| m.start <= address && address < m.end)
                })
                .clone()
        };
        let found: Cell<Option<u32>> = Cell::new(None);
        let owner = mutex::glibc_shared_owner(pid as i32, address, &|tid| {
            let Some(m) = mapping_of() else {
                return false;
            };
            let Some(tgid) = tgid_of(tid) else {
                return false;
            };
            let maps_it = tgid == pid
                || shared_lines(tgid)
                    .is_some_and(|l| l.iter().any(|o| o.dev == m.dev && o.inode == m.inode));
            if maps_it {
                found.set(Some(tgid));
            }
            maps_it
        });
        match (owner, found.get(), mapping.get().cloned().flatten()) {
            (Some(tid), Some(p), _) if p == pid => Owner::Inside(tid),
            (Some(tid), Some(pid), _) => Owner::Outside { pid, tid },
            (_, _, Some(m)) => Owner::None(Some(format!(
                "a process-shared mutex in shared memory (object {} inode {}), its owner not \
                 a thread of a process we can see that maps it (another pid namespace, or no \
                 permission)",
                m.dev, m.inode
            ))),
            _ => Owner::None(None),
        }
    }
}

/// The shared mappings of `pid`.
fn shared_lines(pid: u32) -> Option<Vec<MapLine>> {
    maps_lines(pid).map(|l| l.into_iter().filter(|m| m.shared).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse() {
        let m = parse_maps_line(
            "7f12a4c00000-7f12a4c21000 rw-s 00000000 00:01 1234        /dev/zero (deleted)",
        )
        .unwrap();
        assert_eq!(
            m,
            MapLine {
                start: 0x7f12a4c00000,
                end: 0x7f12a4c21000,
                shared: true,
                dev: "00:01".into(),
                inode: 1234,
            }
        );
        let p = parse_maps_line("00400000-00401000 r-xp 00000000 fe:00 99 /bin/x").unwrap();
        assert!(!p.shared);
        for bad in [
            "",
            "zz-10 rw-s 0 00:01 1",
            "10-20 rw-s 0 00:01",
            "10-20 rw-s 0 0001 1",
            "10-20 rw-sx 0 00:01 1",
            "10 rw-s 0 00:01 1",
        ] {
            assert_eq!(parse_maps_line(bad), None, "{bad:?}");
        }
    }
}
