//! The writer holding a glibc `pthread_rwlock_t` that a futex waiter waits on: glibc 2.25+
//! records it in `__cur_writer`. Read only when the memory around the futex word is, by every
//! check the layout allows, such a lock held for writing by a thread of the process.

use crate::tracer::memory::RemoteMemory;

/// glibc's x86_64 `struct __pthread_rwlock_arch_t` (bits/struct_rwlock.h), 56 bytes:
/// `__readers` +0, `__writers` +4, `__wrphase_futex` +8 (readers wait on it),
/// `__writers_futex` +12 (writers wait on it), `__pad3` +16, `__pad4` +20, `__cur_writer` +24,
/// `__shared` +28, `__rwelision` +32, `__pad1[7]` +33, `__pad2` +40, `__flags` +48.
const SIZE: usize = 52;
const WRPHASE_FUTEX: u64 = 8;
const WRITERS_FUTEX: u64 = 12;
/// `__readers` bits: PTHREAD_RWLOCK_WRPHASE and PTHREAD_RWLOCK_WRLOCKED.
const WRPHASE: u32 = 1;
const WRLOCKED: u32 = 2;

/// The tid in `__cur_writer` of the rwlock whose `__wrphase_futex` or `__writers_futex` is
/// the word at `address`, when `is_thread` accepts it, with the rwlock's address.
pub(super) fn writer(
    pid: u32,
    address: u64,
    is_thread: &dyn Fn(u32) -> bool,
) -> Option<(u64, u32)> {
    let memory = RemoteMemory::new(pid as i32);
    writer_in(
        &|at, buf: &mut [u8]| memory.read_exact(at, buf),
        address,
        is_thread,
    )
}

fn writer_in(
    mem: &dyn Fn(u64, &mut [u8]) -> bool,
    address: u64,
    is_thread: &dyn Fn(u32) -> bool,
) -> Option<(u64, u32)> {
    if !address.is_multiple_of(4) {
        return None;
    }
    [WRITERS_FUTEX, WRPHASE_FUTEX].into_iter().find_map(|at| {
        let base = address.checked_sub(at)?;
        let mut buf = [0u8; SIZE];
        if !base.is_multiple_of(8) || !mem(base, &mut buf) {
            return None;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let (readers, futex) = (u32_at(0), u32_at(at as usize));
        let (writer, shared, flags) = (u32_at(24) as i32, u32_at(28), u32_at(48));
        let pads_zero = u32_at(16) == 0 && u32_at(20) == 0 && buf[33..48].iter().all(|&b| b == 0);
        let held = readers & (WRPHASE | WRLOCKED) == WRPHASE | WRLOCKED && futex & 1 == 1;
        (held && pads_zero && shared <= 1 && flags <= 2 && writer > 0)
            .then_some((base, writer as u32))
            .filter(|&(_, w)| is_thread(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rwlock at 0x1000 as glibc 2.36 left it: written by 511, one reader waiting on
    /// `__wrphase_futex` and a writer on `__writers_futex` (each 1 | FUTEX_USED).
    fn held() -> [u8; 56] {
        let mut m = [0u8; 56];
        for (at, v) in [(0, 0xbu32), (8, 3), (12, 3), (24, 511)] {
            m[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
        m
    }

    fn read(m: &[u8; 56], address: u64, threads: &[u32]) -> Option<u32> {
        read_at(m, address, threads).map(|(base, w)| {
            assert_eq!(base, 0x1000);
            w
        })
    }

    fn read_at(m: &[u8; 56], address: u64, threads: &[u32]) -> Option<(u64, u32)> {
        let mem = |at: u64, buf: &mut [u8]| {
            let Some(off) = at.checked_sub(0x1000).map(|o| o as usize) else {
                return false;
            };
            match m.get(off..off + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        };
        writer_in(&mem, address, &|t| threads.contains(&t))
    }

    #[test]
    fn the_writer_of_a_held_rwlock() {
        let m = held();
        assert_eq!(read(&m, 0x1000 + 12, &[511]), Some(511));
        assert_eq!(read(&m, 0x1000 + 8, &[511]), Some(511));
        // Not a thread of the process, or a word that is not one of its futexes.
        assert_eq!(read(&m, 0x1000 + 12, &[7]), None);
        assert_eq!(read(&m, 0x1000, &[511]), None);
        assert_eq!(read(&m, 0x1000 + 24, &[511]), None);
        assert_eq!(read(&m, 0x1000 + 10, &[511]), None);
    }

    #[test]
    fn anything_else_is_no_rwlock() {
        let set = |at: usize, v: u32| {
            let mut m = held();
            m[at..at + 4].copy_from_slice(&v.to_ne_bytes());
            m
        };
        // Read phase, not write-locked, futex not set, nonzero pads, bad flags or shared.
        for (at, v) in [
            (0, 0x8),
            (0, 0x9),
            (12, 2),
            (16, 1),
            (20, 1),
            (36, 1),
            (40, 1),
            (48, 3),
            (28, 2),
            (24, 0),
            (24, u32::MAX),
        ] {
            assert_eq!(
                read(&set(at, v), 0x1000 + 12, &[511, 0xffff_ffff]),
                None,
                "{at} {v:#x}"
            );
        }
    }
}
