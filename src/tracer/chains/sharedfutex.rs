//! A futex word in shared memory that records no owner (a semaphore, a process-shared
//! condition variable, a hand-made futex): the processes next to the waiter that map the same
//! object, split into those with threads waiting on the same word and those that could wake it.

use super::children;
use super::fds::read_bounded;
use super::futexes::MapLine;

/// Most processes looked at (the waiter's parent, children and siblings).
const MAX_PROCESSES: usize = 64;
/// Most threads of one process looked at.
const MAX_THREADS: usize = 512;
/// Most waiters named.
const MAX_WAITERS: usize = 16;

/// Who else maps a shared futex word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Sharers {
    /// Processes mapping it with a thread not waiting on it: one of them can wake it.
    pub wakers: Vec<u32>,
    /// Threads of other processes waiting on the same word: (pid, tid).
    pub waiters: Vec<(u32, u32)>,
    /// How many processes were looked at.
    pub looked_at: usize,
}

/// The sharers of the word at `address` of `pid`, which lies in mapping `m` of it;
/// `shared_lines` gives a process's shared mappings.
pub(super) fn sharers(
    pid: u32,
    address: u64,
    m: &MapLine,
    shared_lines: &mut dyn FnMut(u32) -> Option<Vec<MapLine>>,
) -> Sharers {
    let mut out = Sharers::default();
    let Some(offset) = address
        .checked_sub(m.start)
        .and_then(|d| m.offset.checked_add(d))
    else {
        return out;
    };
    for q in children::family(pid).into_iter().take(MAX_PROCESSES) {
        out.looked_at += 1;
        let Some(lines) = shared_lines(q) else {
            continue;
        };
        let Some(at) = lines.iter().find_map(|o| o.address_of(m, offset)) else {
            continue;
        };
        let mut free = false;
        for tid in thread_ids(q) {
            if waits_on(q, tid, at) {
                if out.waiters.len() < MAX_WAITERS {
                    out.waiters.push((q, tid));
                }
            } else {
                free = true;
            }
        }
        if free {
            out.wakers.push(q);
        }
    }
    out
}

fn thread_ids(pid: u32) -> Vec<u32> {
    crate::tracer::procfs::procinfo::thread_ids(pid as i32)
        .unwrap_or_default()
        .into_iter()
        .take(MAX_THREADS)
        .map(|t| t as u32)
        .collect()
}

/// Whether thread `tid` of `pid` sleeps in a futex wait on `address`.
fn waits_on(pid: u32, tid: u32, address: u64) -> bool {
    read_bounded(&format!("/proc/{pid}/task/{tid}/syscall"), 512)
        .and_then(|raw| futex_wait_of(&raw))
        .is_some_and(|a| a == address)
}

/// The address of a futex wait in a `syscall` line: `202 0xADDR 0xOP ...` with a wait op.
fn futex_wait_of(raw: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(raw).ok()?;
    let mut w = line.split_ascii_whitespace();
    if w.next()? != "202" {
        return None;
    }
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let address = hex(w.next()?)?;
    let op = hex(w.next()?)?;
    let sc = crate::tracer::model::Syscall {
        number: 202,
        args: [address, op, 0, 0, 0, 0],
    };
    crate::tracer::analysis::waits::futex_wait_address(&sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futex_waits_are_read_from_syscall_lines() {
        // FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG is 0x89; FUTEX_WAKE is 1.
        assert_eq!(
            futex_wait_of(b"202 0x7f00a0 0x89 0x0 0x0 0x0 0xffffffff 0x7ffc 0x7f12\n"),
            Some(0x7f00a0)
        );
        assert_eq!(
            futex_wait_of(b"202 0x7f00a0 0x0 0x0 0x0 0x0 0x0 0x1 0x2"),
            Some(0x7f00a0)
        );
        assert_eq!(
            futex_wait_of(b"202 0x7f00a0 0x1 0x0 0x0 0x0 0x0 0x1 0x2"),
            None
        );
        for bad in [
            &b""[..],
            b"running",
            b"0 0x3 0x1",
            b"202",
            b"202 zz 0x0",
            b"202 0x1",
            b"\xff",
        ] {
            assert_eq!(futex_wait_of(bad), None, "{bad:?}");
        }
    }
}
