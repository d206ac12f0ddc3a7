//! The one way to read another process's memory: `process_vm_readv`, which neither stops the
//! target nor needs it stopped. Reads are exact or say how far they got; nothing here trusts
//! an address, and a read never panics or grows beyond the caller's buffer.

use std::io::IoSliceMut;

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

/// The page size of every Linux target we read (x86_64).
pub(crate) const PAGE: u64 = 4096;

/// Most pages one [`RemoteMemory::read_pages`] asks for (the kernel's `UIO_MAXIOV` is 1024).
const MAX_IOVECS: usize = 1024;

/// The memory of one process (or thread: a tid reads its process's memory too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemoteMemory(Pid);

impl RemoteMemory {
    pub(crate) fn new(pid: i32) -> RemoteMemory {
        RemoteMemory(Pid::from_raw(pid))
    }

    /// Reads exactly `buf.len()` bytes at `address`, or says it could not.
    pub(crate) fn read_exact(&self, address: u64, buf: &mut [u8]) -> bool {
        let len = buf.len();
        matches!(self.read_once(address, buf), Some(n) if n == len)
    }

    /// Reads what one request gets of `buf.len()` bytes at `address`: the kernel does not split
    /// a request at an unmapped page, so this is all or nothing for a range it cannot read.
    pub(crate) fn read_once(&self, address: u64, buf: &mut [u8]) -> Option<usize> {
        let base = usize::try_from(address).ok()?;
        let remote = [RemoteIoVec {
            base,
            len: buf.len(),
        }];
        process_vm_readv(self.0, &mut [IoSliceMut::new(buf)], &remote).ok()
    }

    /// Reads `buf.len()` bytes at `address` page by page, so the read stops at the first
    /// unreadable page instead of failing whole: how many bytes from the start were read.
    pub(crate) fn read_pages(&self, address: u64, buf: &mut [u8]) -> usize {
        let mut remote = Vec::new();
        let mut addr = address;
        let end = address.saturating_add(buf.len() as u64);
        while addr < end && remote.len() < MAX_IOVECS {
            let to = ((addr / PAGE) + 1).saturating_mul(PAGE).min(end);
            let Ok(base) = usize::try_from(addr) else {
                break;
            };
            remote.push(RemoteIoVec {
                base,
                len: (to - addr) as usize,
            });
            addr = to;
        }
        let len: usize = remote.iter().map(|r| r.len).sum();
        process_vm_readv(self.0, &mut [IoSliceMut::new(&mut buf[..len])], &remote).unwrap_or(0)
    }

    /// `n` little-endian words at `address`, all or none.
    pub(crate) fn words(&self, address: u64, n: usize) -> Option<Vec<u64>> {
        let mut buf = vec![0u8; n.checked_mul(8)?];
        self.read_exact(address, &mut buf).then_some(())?;
        Some(
            buf.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{PAGE, RemoteMemory};

    #[test]
    fn reads_our_own_memory_and_stops_at_an_unmapped_page() {
        let me = RemoteMemory::new(std::process::id() as i32);
        let data: Vec<u64> = (0..64).collect();
        let at = data.as_ptr() as u64;
        assert_eq!(me.words(at, 64).as_deref(), Some(&data[..]));
        let mut buf = [0u8; 16];
        assert!(me.read_exact(at + 8, &mut buf));
        assert_eq!(buf[..8], 1u64.to_le_bytes());
        // Address 0's page is never mapped: nothing read, no panic.
        assert!(!me.read_exact(0, &mut buf));
        assert_eq!(me.read_pages(0, &mut buf), 0);
        assert_eq!(me.words(u64::MAX - 4, 1), None);
        // A range that runs off the end of the address space reads what is there.
        let mut big = vec![0u8; 2 * PAGE as usize];
        assert_eq!(me.read_pages(u64::MAX - PAGE, &mut big), 0);
    }
}
