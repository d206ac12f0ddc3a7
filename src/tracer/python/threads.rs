//! Which OS thread a thread state belongs to before 3.11, where it records only its
//! `pthread_t`: that is the address of glibc's (or musl's) thread control block, which holds
//! the kernel tid at an offset fixed per libc build; the offset is found, not assumed.

use std::collections::HashMap;

use super::objects::Reader;

/// Bytes of each thread control block searched for the tid field.
const TCB_SEARCH: usize = 2048;
/// glibc 2.36 x86-64's offset of `struct pthread.tid`, preferred among equally good ones.
const GLIBC_TID: usize = 0x2d0;

/// Maps each `pthread_t` to a tid of `tids`: the offset used is the one at which the most
/// thread blocks hold distinct tids of the process (a tid is a large number, so a stray match
/// is unlikely, and each match must be a live thread).
pub(super) fn tids_of(r: &Reader, pthreads: &[u64], tids: &[u32]) -> HashMap<u64, u32> {
    // One thread has a thread state per interpreter it entered: each block once.
    let mut unique = pthreads.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let blocks: Vec<(u64, Vec<u8>)> = unique
        .iter()
        .filter(|&&p| p != 0 && p.is_multiple_of(8))
        .filter_map(|&p| Some((p, r.bytes(p, TCB_SEARCH)?)))
        .collect();
    let value = |b: &[u8], off: usize| -> u32 {
        u32::from_le_bytes(b[off..off + 4].try_into().unwrap_or_default())
    };
    let mut best: Option<(usize, usize)> = None; // (matches, offset)
    for off in (0..TCB_SEARCH - 4).step_by(4) {
        let mut found: Vec<u32> = blocks
            .iter()
            .map(|(_, b)| value(b, off))
            .filter(|v| tids.contains(v))
            .collect();
        let matches = found.len();
        found.sort_unstable();
        found.dedup();
        if matches == 0 || found.len() != matches {
            continue;
        }
        let better = match best {
            None => true,
            Some((m, _)) => matches > m || (matches == m && off == GLIBC_TID),
        };
        if better {
            best = Some((matches, off));
        }
    }
    let Some((_, off)) = best else {
        return HashMap::new();
    };
    blocks
        .iter()
        .map(|(p, b)| (*p, value(b, off)))
        .filter(|(_, t)| tids.contains(t))
        .collect()
}
