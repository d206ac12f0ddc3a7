//! Who holds the pthread mutex a futex waiter waits on, read from the target's memory in the
//! layout of its C library: glibc's (`__owner`), or musl's (the owner's tid in the lock word of
//! every mutex type but the default one, which records only that it is locked).
//!
//! An owner is reported only when the memory is, by every check we can make, such a mutex and
//! the owner is a thread of the traced process. Nothing here guesses.

use std::collections::HashSet;
use std::path::Path;

use crate::tracer::memory::RemoteMemory;
use crate::tracer::procfs::maps::{MappingKind, MemoryMaps};

/// The C library a process runs on, as its mappings tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Libc {
    Glibc,
    Musl,
    /// Neither mapped (a static executable), or both: only self-proving layouts are read.
    Unknown,
}

impl Libc {
    /// glibc when `libc.so.6` or `ld-linux-*` is mapped; musl when its one-file libc is
    /// (`ld-musl-ARCH.so.1`, `libc.musl-ARCH.so.1`, or Debian's `…-linux-musl/libc.so`).
    pub(crate) fn of(maps: &MemoryMaps) -> Libc {
        let (mut glibc, mut musl) = (false, false);
        for m in maps.iter() {
            if let MappingKind::File(path) = &m.kind {
                match libc_of_path(path) {
                    Some(Libc::Glibc) => glibc = true,
                    Some(Libc::Musl) => musl = true,
                    _ => {}
                }
            }
        }
        match (glibc, musl) {
            (true, false) => Libc::Glibc,
            (false, true) => Libc::Musl,
            _ => Libc::Unknown,
        }
    }

    /// Why a futex word has no owner we could read, for a process on this library.
    pub(crate) fn no_owner_note(self) -> &'static str {
        match self {
            Libc::Glibc => "not a glibc mutex (a condition variable, a Rust or other lock)",
            Libc::Musl => "not a musl mutex (a condition variable, a Rust or other lock)",
            Libc::Unknown => {
                "not a mutex that records its owner (a condition variable, a Rust or other lock, \
                 or a musl default mutex)"
            }
        }
    }
}

fn libc_of_path(path: &Path) -> Option<Libc> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with("ld-musl-") || name.starts_with("libc.musl-") {
        return Some(Libc::Musl);
    }
    let dir = path
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|d| d.to_str());
    if name == "libc.so" && dir.is_some_and(|d| d.ends_with("-linux-musl")) {
        return Some(Libc::Musl);
    }
    if name.starts_with("libc.so.6") || name.starts_with("ld-linux-") || name.starts_with("libc-2.")
    {
        return Some(Libc::Glibc);
    }
    None
}

/// What the mutex behind a futex word says of its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Held {
    /// Held by this thread of the process (with a note, e.g. that the owner before it died).
    By(u32, Option<&'static str>),
    /// A mutex, held, that does not record by whom.
    Unrecorded(&'static str),
    /// Not a mutex we can read an owner from.
    Unknown,
}

/// A musl default mutex: held, no owner recorded.
pub(crate) const MUSL_NORMAL: &str = "a musl default (normal) mutex, held: musl records no owner for it (error-checking, recursive, robust and priority-inheritance mutexes name theirs)";

/// The owner-died bit of a robust mutex's lock word (the kernel's FUTEX_OWNER_DIED).
const OWNER_DIED: u32 = 0x4000_0000;
const OWNER_DIED_NOTE: &str =
    "its previous owner died holding it (a robust mutex not yet made consistent)";

/// Who holds the mutex whose futex word is at `address` in process `pid`, read in `libc`'s
/// layout (in both self-proving ones when it is unknown). `tids`: the process's threads.
pub(crate) fn held(pid: i32, libc: Libc, address: u64, tids: &HashSet<u32>) -> Held {
    let memory = RemoteMemory::new(pid);
    let mem = |at: u64, buf: &mut [u8]| memory.read_exact(at, buf);
    match libc {
        Libc::Glibc => glibc_owner(&mem, address, &|o| tids.contains(&o), false)
            .map_or(Held::Unknown, |o| Held::By(o, None)),
        Libc::Musl => musl_held(&mem, address, tids, true),
        Libc::Unknown => match musl_held(&mem, address, tids, false) {
            Held::Unknown => glibc_owner(&mem, address, &|o| tids.contains(&o), false)
                .map_or(Held::Unknown, |o| Held::By(o, None)),
            held => held,
        },
    }
}

/// The owner of the process-shared glibc mutex whose lock word is at `address` in process
/// `pid`, when it is one (its `__kind` has glibc's process-shared bit) and its owner is a
/// thread `is_owner` accepts: a thread of another process, which the caller checks maps the
/// same memory. The caller also checks the word lies in a shared mapping.
pub(crate) fn glibc_shared_owner(
    pid: i32,
    address: u64,
    is_owner: &dyn Fn(u32) -> bool,
) -> Option<u32> {
    let memory = RemoteMemory::new(pid);
    let mem = |at: u64, buf: &mut [u8]| memory.read_exact(at, buf);
    glibc_owner(&mem, address, is_owner, true)
}

/// glibc's `PTHREAD_MUTEX_PSHARED_BIT` in `__kind`: set by `pthread_mutex_init` for a
/// `PTHREAD_PROCESS_SHARED` mutex.
const GLIBC_PSHARED: i32 = 128;

/// glibc's mutex kinds (`__kind`): TIMED, RECURSIVE, ERRORCHECK, ADAPTIVE, with the robust
/// (16), priority-inheritance (32), priority-protect (64) and elision (256, 512) bits.
fn is_glibc_mutex_kind(kind: i32) -> bool {
    const FLAGS: i32 = 16 | 32 | 64 | 256 | 512;
    kind >= 0 && (kind & !FLAGS) <= 3
}

/// The owner of the glibc `pthread_mutex_t` whose lock word is at `address`, when it is one
/// (x86_64 layout: `int __lock` at +0, `unsigned __count` +4, `int __owner` +8, `unsigned
/// __nusers` +12, `int __kind` +16) and its owner is one `is_owner` accepts. `shared`: only
/// a process-shared mutex (else only a private one, as before process-shared ones were read).
fn glibc_owner(
    mem: &impl Fn(u64, &mut [u8]) -> bool,
    address: u64,
    is_owner: &dyn Fn(u32) -> bool,
    shared: bool,
) -> Option<u32> {
    let mut buf = [0u8; 20];
    if !mem(address, &mut buf) {
        return None;
    }
    let int = |at: usize| i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
    let (lock, owner, kind) = (int(0), int(8), int(16));
    let kind = if shared {
        if kind & GLIBC_PSHARED == 0 {
            return None;
        }
        kind & !GLIBC_PSHARED
    } else {
        kind
    };
    if lock == 0 || owner <= 0 || !is_glibc_mutex_kind(kind) {
        return None;
    }
    let owner = owner as u32;
    is_owner(owner).then_some(owner)
}

/// musl's `pthread_mutex_t` on x86_64 (src/internal/pthread_impl.h), 40 bytes: `_m_type` at
/// +0, `_m_lock` +4 (the futex word), `_m_waiters` +8, `_m_count` +20, `_m_prev` +24,
/// `_m_next` +32. Type bits: kind 0 normal, 1 recursive, 2 error-checking; 4 robust, 8
/// priority inheritance, 128 process-shared.
const MUSL_SIZE: usize = 40;
const MUSL_LOCK: u64 = 4;
const MUSL_NEXT: u64 = 32;
const MUSL_TYPE_BITS: i32 = 3 | 4 | 8 | 128;
/// What a default mutex's lock word holds when locked (EBUSY), besides the waiters bit.
const MUSL_NORMAL_LOCKED: u32 = 16;

/// Reads the musl mutex whose `_m_lock` is at `address`. A mutex of a type that records its
/// owner (`_m_lock` = owner tid, with 0x80000000 for waiters and 0x40000000 when the previous
/// owner died) is also linked into its owner's list of held mutexes (`*_m_prev == &_m_next`):
/// that link must hold, so no other memory passes for one. A default mutex, which records
/// nothing but "locked", is named only when `musl` (the process maps musl's libc).
fn musl_held(
    mem: &impl Fn(u64, &mut [u8]) -> bool,
    address: u64,
    tids: &HashSet<u32>,
    musl: bool,
) -> Held {
    let Some(base) = address.checked_sub(MUSL_LOCK) else {
        return Held::Unknown;
    };
    let mut buf = [0u8; MUSL_SIZE];
    if !address.is_multiple_of(4) || !mem(base, &mut buf) {
        return Held::Unknown;
    }
    let int = |at: usize| i32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
    let ptr = |at: usize| u64::from_ne_bytes(buf[at..at + 8].try_into().unwrap());
    let (kind, lock, waiters, prev) = (int(0), int(4) as u32, int(8), ptr(24));
    if kind & !MUSL_TYPE_BITS != 0 || kind & 3 == 3 {
        return Held::Unknown;
    }
    if kind & 15 == 0 {
        // The default type: `_m_lock` is EBUSY while held, with the waiters bit once contended.
        let plain = lock & 0x7fff_ffff == MUSL_NORMAL_LOCKED;
        return if musl && plain && waiters > 0 {
            Held::Unrecorded(MUSL_NORMAL)
        } else {
            Held::Unknown
        };
    }
    let owner = lock & 0x3fff_ffff;
    // A waiter counts itself in `_m_waiters` before it sleeps, except on a priority
    // inheritance mutex, where the kernel queues it.
    let pi = kind & 8 != 0;
    if owner == 0 || owner == 0x3fff_ffff || !tids.contains(&owner) || (!pi && waiters <= 0) {
        return Held::Unknown;
    }
    let mut link = [0u8; 8];
    if prev == 0 || !mem(prev, &mut link) || u64::from_ne_bytes(link) != base + MUSL_NEXT {
        return Held::Unknown;
    }
    let note = (lock & OWNER_DIED != 0).then_some(OWNER_DIED_NOTE);
    Held::By(owner, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake address space: 8-byte-aligned words.
    struct Memory(HashMap<u64, u8>);

    impl Memory {
        fn new() -> Memory {
            Memory(HashMap::new())
        }
        fn put(&mut self, at: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                self.0.insert(at + i as u64, *b);
            }
        }
        fn read(&self, at: u64, buf: &mut [u8]) -> bool {
            for (i, b) in buf.iter_mut().enumerate() {
                match self.0.get(&(at + i as u64)) {
                    Some(v) => *b = *v,
                    None => return false,
                }
            }
            true
        }
    }

    /// A musl mutex at `base` whose `_m_prev` is `list`.
    fn musl_mutex(mem: &mut Memory, base: u64, kind: i32, lock: u32, waiters: i32, list: u64) {
        let mut m = [0u8; MUSL_SIZE];
        m[0..4].copy_from_slice(&kind.to_ne_bytes());
        m[4..8].copy_from_slice(&lock.to_ne_bytes());
        m[8..12].copy_from_slice(&waiters.to_ne_bytes());
        m[24..32].copy_from_slice(&list.to_ne_bytes());
        mem.put(base, &m);
    }

    fn held_in(mem: &Memory, libc_musl: bool, address: u64, tids: &[u32]) -> Held {
        let tids: HashSet<u32> = tids.iter().copied().collect();
        musl_held(&|a, b: &mut [u8]| mem.read(a, b), address, &tids, libc_musl)
    }

    #[test]
    fn musl_owner_from_the_lock_word_when_linked() {
        let mut mem = Memory::new();
        let (base, head): (u64, u64) = (0x1000, 0x9000);
        // Error-checking, owner 4242, contended; the owner's list head points at `_m_next`.
        musl_mutex(&mut mem, base, 2, 0x8000_0000 | 4242, 1, head);
        mem.put(head, &(base + 32).to_ne_bytes());
        assert_eq!(
            held_in(&mem, true, base + 4, &[4242, 7]),
            Held::By(4242, None)
        );
        // Unknown libc: the link proves it all the same.
        assert_eq!(
            held_in(&mem, false, base + 4, &[4242, 7]),
            Held::By(4242, None)
        );
        // The owner is not a thread of ours: no owner.
        assert_eq!(held_in(&mem, true, base + 4, &[7]), Held::Unknown);
        // The list does not point back at this mutex: not proven.
        mem.put(head, &(base + 40).to_ne_bytes());
        assert_eq!(held_in(&mem, true, base + 4, &[4242]), Held::Unknown);
    }

    #[test]
    fn musl_owner_died_and_priority_inheritance() {
        let mut mem = Memory::new();
        let (base, head): (u64, u64) = (0x2000, 0x9100);
        mem.put(head, &(base + 32).to_ne_bytes());
        // Robust recursive, previous owner died, now held by 99.
        musl_mutex(
            &mut mem,
            base,
            4 | 1,
            0x8000_0000 | OWNER_DIED | 99,
            2,
            head,
        );
        assert_eq!(
            held_in(&mem, true, base + 4, &[99]),
            Held::By(99, Some(OWNER_DIED_NOTE))
        );
        // Priority inheritance: the kernel queues waiters, `_m_waiters` stays 0.
        musl_mutex(&mut mem, base, 8, 0x8000_0000 | 99, 0, head);
        assert_eq!(held_in(&mem, true, base + 4, &[99]), Held::By(99, None));
        // Not PI, no waiter counted: not a waited-on mutex.
        musl_mutex(&mut mem, base, 2, 0x8000_0000 | 99, 0, head);
        assert_eq!(held_in(&mem, true, base + 4, &[99]), Held::Unknown);
    }

    #[test]
    fn musl_default_mutex_is_named_only_on_musl() {
        let mut mem = Memory::new();
        let base: u64 = 0x3000;
        musl_mutex(&mut mem, base, 0, 0x8000_0010, 1, 0);
        assert_eq!(
            held_in(&mem, true, base + 4, &[1]),
            Held::Unrecorded(MUSL_NORMAL)
        );
        assert_eq!(held_in(&mem, false, base + 4, &[1]), Held::Unknown);
        // Unlocked, or a word that is not EBUSY: nothing.
        musl_mutex(&mut mem, base, 0, 0, 1, 0);
        assert_eq!(held_in(&mem, true, base + 4, &[1]), Held::Unknown);
        musl_mutex(&mut mem, base, 0, 0x8000_0002, 1, 0);
        assert_eq!(held_in(&mem, true, base + 4, &[1]), Held::Unknown);
    }

    #[test]
    fn musl_bad_types_and_addresses() {
        let mut mem = Memory::new();
        let (base, head): (u64, u64) = (0x4000, 0x9200);
        mem.put(head, &(base + 32).to_ne_bytes());
        for kind in [3, 16, 64, 0x7fff, -1] {
            musl_mutex(&mut mem, base, kind, 0x8000_0000 | 5, 1, head);
            assert_eq!(held_in(&mem, true, base + 4, &[5]), Held::Unknown, "{kind}");
        }
        assert_eq!(held_in(&mem, true, 2, &[5]), Held::Unknown);
        assert_eq!(held_in(&mem, true, base + 6, &[5]), Held::Unknown);
        // Unreadable memory.
        assert_eq!(held_in(&mem, true, 0x7_0000, &[5]), Held::Unknown);
    }

    #[test]
    fn libc_by_path() {
        let of = |p: &str| libc_of_path(Path::new(p));
        assert_eq!(of("/lib/ld-musl-x86_64.so.1"), Some(Libc::Musl));
        assert_eq!(of("/lib/libc.musl-x86_64.so.1"), Some(Libc::Musl));
        assert_eq!(of("/usr/lib/x86_64-linux-musl/libc.so"), Some(Libc::Musl));
        assert_eq!(of("/usr/lib/x86_64-linux-gnu/libc.so.6"), Some(Libc::Glibc));
        assert_eq!(of("/usr/lib64/ld-linux-x86-64.so.2"), Some(Libc::Glibc));
        assert_eq!(of("/usr/lib/libc.so"), None);
        assert_eq!(of("/usr/bin/prog"), None);
    }

    /// A glibc mutex at `base`: lock word, owner, kind.
    fn glibc_mutex(mem: &mut Memory, base: u64, lock: i32, owner: i32, kind: i32) {
        let mut m = [0u8; 20];
        m[0..4].copy_from_slice(&lock.to_ne_bytes());
        m[8..12].copy_from_slice(&owner.to_ne_bytes());
        m[16..20].copy_from_slice(&kind.to_ne_bytes());
        mem.put(base, &m);
    }

    #[test]
    fn glibc_private_and_shared_owners() {
        let mut mem = Memory::new();
        let base: u64 = 0x5000;
        let read = |mem: &Memory, shared: bool, owners: &[u32]| {
            glibc_owner(
                &|a, b: &mut [u8]| mem.read(a, b),
                base,
                &|o| owners.contains(&o),
                shared,
            )
        };
        // A private error-checking mutex held by 42, contended.
        glibc_mutex(&mut mem, base, 2, 42, 2);
        assert_eq!(read(&mem, false, &[42]), Some(42));
        assert_eq!(read(&mem, true, &[42]), None);
        assert_eq!(read(&mem, false, &[7]), None);
        // Process-shared (bit 128), normal and robust: read as shared only.
        for kind in [128, 128 | 16 | 2] {
            glibc_mutex(&mut mem, base, 2, 42, kind);
            assert_eq!(read(&mem, true, &[42]), Some(42), "{kind}");
            assert_eq!(read(&mem, false, &[42]), None, "{kind}");
        }
        // Not locked, no owner, or a kind no mutex has: nothing.
        for (lock, owner, kind) in [(0, 42, 128), (2, 0, 128), (2, -1, 128), (2, 42, 128 | 4)] {
            glibc_mutex(&mut mem, base, lock, owner, kind);
            assert_eq!(read(&mem, true, &[42]), None, "{lock} {owner} {kind}");
        }
    }

    #[test]
    fn mutex_kinds() {
        for k in [0, 1, 2, 3, 16, 17, 32, 35, 16 | 32 | 2, 64, 256, 512] {
            assert!(is_glibc_mutex_kind(k), "kind {k}");
        }
        for k in [4, 7, 128, -1, 1024, 0x7fff_ffff] {
            assert!(!is_glibc_mutex_kind(k), "kind {k}");
        }
    }
}
