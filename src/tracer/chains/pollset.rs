//! The fds a thread waits on in `poll`/`ppoll` or `select`/`pselect6`: the `pollfd` array or
//! the fd sets the call was given, read from the waiter's memory (a few hundred bytes at most)
//! while it still waits.

use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::Syscall;

/// Most fds of one call followed.
pub(super) const MAX_FDS: usize = 64;
/// `FD_SETSIZE`: select's sets hold no more.
const MAX_SELECT: usize = 1024;

/// The fds of the poll or select call `sc` of a thread of `pid` (the first [`MAX_FDS`]), and
/// how many it waits on in all; None for other calls or unreadable memory.
pub(super) fn fds(pid: u32, sc: &Syscall) -> Option<(Vec<i32>, usize)> {
    let mem = RemoteMemory::new(pid as i32);
    let a = sc.args;
    match sc.number {
        // poll, ppoll: struct pollfd { int fd; short events, revents; }[nfds]
        7 | 271 => {
            let n = usize::try_from(a[1]).ok()?;
            let mut buf = vec![0u8; n.min(MAX_FDS) * 8];
            if n == 0 || !mem.read_exact(a[0], &mut buf) {
                return None;
            }
            Some((pollfds(&buf), n))
        }
        // select, pselect6: the read and write sets, nfds bits each
        23 | 270 => {
            let nfds = (a[0] as u32 as i32).clamp(0, MAX_SELECT as i32) as usize;
            let len = nfds.div_ceil(64) * 8;
            let mut set = Vec::new();
            let mut total = 0;
            for ptr in [a[1], a[2]] {
                let mut buf = vec![0u8; len];
                if ptr == 0 || len == 0 || !mem.read_exact(ptr, &mut buf) {
                    continue;
                }
                for fd in fd_set(&buf, nfds) {
                    if !set.contains(&fd) {
                        total += 1;
                        if set.len() < MAX_FDS {
                            set.push(fd);
                        }
                    }
                }
            }
            (!set.is_empty()).then_some((set, total))
        }
        _ => None,
    }
}

/// The fds of a `pollfd` array (negative ones are ignored by poll), each once.
fn pollfds(buf: &[u8]) -> Vec<i32> {
    let mut fds = Vec::new();
    for p in buf.chunks_exact(8) {
        let fd = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
        if fd >= 0 && !fds.contains(&fd) {
            fds.push(fd);
        }
    }
    fds
}

/// The fds below `nfds` set in an `fd_set` (bit `fd % 64` of native word `fd / 64`).
fn fd_set(buf: &[u8], nfds: usize) -> Vec<i32> {
    let mut fds = Vec::new();
    for (w, word) in buf.chunks_exact(8).enumerate() {
        let bits = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8]));
        for b in 0..64 {
            let fd = w * 64 + b;
            if fd < nfds && bits & (1 << b) != 0 {
                fds.push(fd as i32);
            }
        }
    }
    fds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pollfds_and_fd_sets() {
        let mut buf = Vec::new();
        for (fd, events) in [(3i32, 1i16), (-1, 1), (7, 4), (3, 1)] {
            buf.extend_from_slice(&fd.to_ne_bytes());
            buf.extend_from_slice(&events.to_ne_bytes());
            buf.extend_from_slice(&0i16.to_ne_bytes());
        }
        assert_eq!(pollfds(&buf), [3, 7]);
        assert_eq!(pollfds(&buf[..5]), Vec::<i32>::new());
        let mut set = [0u8; 16];
        set[0] = 0b1001; // 0 and 3
        set[8] = 1; // 64
        assert_eq!(fd_set(&set, 65), [0, 3, 64]);
        assert_eq!(fd_set(&set, 64), [0, 3]);
        assert_eq!(fd_set(&[0xff; 3], 8), Vec::<i32>::new());
    }

    #[test]
    fn reads_this_process_poll_array() {
        let array: [libc::pollfd; 2] = [
            libc::pollfd {
                fd: 5,
                events: 1,
                revents: 0,
            },
            libc::pollfd {
                fd: 9,
                events: 4,
                revents: 0,
            },
        ];
        let sc = Syscall {
            number: 7,
            args: [array.as_ptr() as u64, 2, 0, 0, 0, 0],
        };
        assert_eq!(fds(std::process::id(), &sc), Some((vec![5, 9], 2)));
        let bad = Syscall {
            number: 7,
            args: [8, 2, 0, 0, 0, 0],
        };
        assert_eq!(fds(std::process::id(), &bad), None);
    }
}
