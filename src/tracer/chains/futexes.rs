//! Futex waits across processes: the owner of a process-shared glibc mutex that a thread of
//! another process holds (the word in a shared mapping both processes map), the owner of a
//! mutex that a thread of a process met along a chain (not the traced one) waits on, the
//! writer holding a glibc rwlock (process-shared too), and for a shared word that records no
//! owner, who else maps it.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::tracer::analysis::mutex::{self, Held, Libc};
use crate::tracer::procfs::maps::MemoryMaps;

use super::fds::read_bounded;
use super::rwlock;
use super::sharedfutex::{self, Sharers};

/// Most bytes of one `/proc/PID/maps` read (some 100 bytes a mapping).
const MAX_MAPS_BYTES: u64 = 8 << 20;
/// Most threads of another process taken as its mutexes' possible owners.
const MAX_TIDS: usize = 4096;

/// One line of `/proc/PID/maps`, the parts needed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MapLine {
    pub start: u64,
    pub end: u64,
    /// Where `start` lies in the mapped object.
    pub offset: u64,
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
    let offset = u64::from_str_radix(w.next()?, 16).ok()?;
    let dev = w.next()?;
    let inode = w.next()?.parse().ok()?;
    if perms.len() != 4 || dev.len() > 16 || !dev.contains(':') {
        return None;
    }
    Some(MapLine {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset,
        shared: perms.ends_with('s'),
        dev: dev.to_string(),
        inode,
    })
}

impl MapLine {
    /// Whether this maps the same object as `other`.
    pub(super) fn same_object(&self, other: &MapLine) -> bool {
        self.dev == other.dev && self.inode == other.inode
    }

    /// The address in this mapping of byte `offset` of `object`'s object, if it maps it.
    pub(super) fn address_of(&self, object: &MapLine, offset: u64) -> Option<u64> {
        let inside = offset.checked_sub(self.offset)?;
        let at = self.start.checked_add(inside)?;
        (self.same_object(object) && at < self.end).then_some(at)
    }
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
    /// The writer holding the rwlock at this address: thread `tid` of the waiter's process,
    /// or (a process-shared rwlock) of process `pid` that maps it too.
    Writer { rwlock: u64, pid: u32, tid: u32 },
    /// Thread `tid` of process `pid`, through shared memory.
    Outside { pid: u32, tid: u32 },
    /// A word in shared memory that records no owner (a semaphore, a condition variable):
    /// the object it lies in ("00:01 inode 1234") and who else maps it.
    Shared { object: String, sharers: Sharers },
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
    /// Each process's shared mappings (a thousand waiters of one process cost one read).
    shared: HashMap<u32, Option<Vec<MapLine>>>,
}

impl Futexes {
    /// Who holds the mutex whose word at `address` a thread of `pid` waits on: read in
    /// `pid`'s own layout when `inside` (it has no lock hint: not the traced process), then as
    /// a glibc rwlock held for writing, then, when the word lies in a shared mapping, as a
    /// process-shared glibc mutex whose owner is a thread of `pid` or of another process that
    /// maps the same object.
    /// `private` says the wait was a process-private futex (`FUTEX_PRIVATE_FLAG`): the kernel
    /// keys it by the process, so no other process can share it and the maps are not read.
    pub(super) fn owner(&mut self, pid: u32, address: u64, inside: bool, private: bool) -> Owner {
        if let Some(o) = self.owners.get(&(pid, address)) {
            return o.clone();
        }
        let o = self.read_owner(pid, address, inside, private);
        self.owners.insert((pid, address), o.clone());
        o
    }

    fn read_owner(&mut self, pid: u32, address: u64, inside: bool, private: bool) -> Owner {
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
        // A shared futex's process maps are read once per process and build (1000 threads
        // parked on one process's condition variables: one read; on private ones: none).
        let shared_of = |me: &mut Futexes, q: u32| {
            me.shared
                .entry(q)
                .or_insert_with(|| shared_lines(q))
                .clone()
        };
        let mine = if private { None } else { shared_of(self, pid) };
        let mapping: Option<MapLine> = mine
            .iter()
            .flatten()
            .find(|m| m.start <= address && address < m.end)
            .cloned();
        let others: std::cell::RefCell<HashMap<u32, Option<Vec<MapLine>>>> = Default::default();
        let found: Cell<Option<u32>> = Cell::new(None);
        // A thread of `pid`, or of another process that maps the object the word lies in.
        let holder_is = |tid: u32| {
            if Path::new(&format!("/proc/{pid}/task/{tid}")).exists() {
                found.set(Some(pid));
                return true;
            }
            let (Some(m), Some(tgid)) = (&mapping, tgid_of(tid)) else {
                return false;
            };
            let maps_it = others
                .borrow_mut()
                .entry(tgid)
                .or_insert_with(|| shared_lines(tgid))
                .as_ref()
                .is_some_and(|l| l.iter().any(|o| o.same_object(m)));
            if maps_it {
                found.set(Some(tgid));
            }
            maps_it
        };
        if let Some((rwlock, tid)) = rwlock::writer(pid, address, &holder_is) {
            let pid = found.get().unwrap_or(pid);
            return Owner::Writer { rwlock, pid, tid };
        }
        found.set(None);
        let asked = Cell::new(false);
        let owner = mutex::glibc_shared_owner(pid as i32, address, &|tid| {
            asked.set(true);
            mapping.is_some() && holder_is(tid)
        });
        self.shared.extend(others.into_inner());
        match (owner, found.get(), mapping) {
            (Some(tid), Some(p), _) if p == pid => Owner::Inside(tid),
            (Some(tid), Some(pid), _) => Owner::Outside { pid, tid },
            (_, _, Some(m)) if asked.get() => Owner::None(Some(format!(
                "a process-shared mutex in shared memory (object {} inode {}), its owner not \
                 a thread of a process we can see that maps it (another pid namespace, or no \
                 permission)",
                m.dev, m.inode
            ))),
            (_, _, Some(m)) => {
                let sharers = sharedfutex::sharers(pid, address, &m, &mut |q| shared_of(self, q));
                Owner::Shared {
                    object: format!("{} inode {}", m.dev, m.inode),
                    sharers,
                }
            }
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
            "7f12a4c00000-7f12a4c21000 rw-s 00002000 00:01 1234        /dev/zero (deleted)",
        )
        .unwrap();
        assert_eq!(
            m,
            MapLine {
                start: 0x7f12a4c00000,
                end: 0x7f12a4c21000,
                offset: 0x2000,
                shared: true,
                dev: "00:01".into(),
                inode: 1234,
            }
        );
        let p = parse_maps_line("00400000-00401000 r-xp 00000000 fe:00 99 /bin/x").unwrap();
        assert!(!p.shared);
        // Byte 0x2010 of the object: 0x10 into `m`; `p` maps another object; a mapping of
        // the same object from 0x3000 does not hold it.
        assert_eq!(m.address_of(&m, 0x2010), Some(0x7f12a4c00010));
        assert_eq!(p.address_of(&m, 0x2010), None);
        let later = MapLine {
            offset: 0x3000,
            ..m.clone()
        };
        assert_eq!(later.address_of(&m, 0x2010), None);
        let short = MapLine {
            end: 0x7f12a4c00010,
            ..m.clone()
        };
        assert_eq!(short.address_of(&m, 0x2010), None);
        for bad in [
            "",
            "zz-10 rw-s 0 00:01 1",
            "10-20 rw-s 0 00:01",
            "10-20 rw-s zz 00:01 1",
            "10-20 rw-s 0 0001 1",
            "10-20 rw-sx 0 00:01 1",
            "10 rw-s 0 00:01 1",
        ] {
            assert_eq!(parse_maps_line(bad), None, "{bad:?}");
        }
    }
}
