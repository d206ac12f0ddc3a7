//! The one way to read another process's memory: `process_vm_readv`, which neither stops the
//! target nor needs it stopped, or, for a process that is only a core file, the core. Reads
//! are exact or say how far they got; nothing here trusts an address, and a read never panics
//! or grows beyond the caller's buffer.

use std::io::IoSliceMut;
use std::sync::{Arc, RwLock};

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

/// The page size of every Linux target we read (x86_64).
pub(crate) const PAGE: u64 = 4096;

/// Most pages one [`RemoteMemory::read_pages`] asks for (the kernel's `UIO_MAXIOV` is 1024).
const MAX_IOVECS: usize = 1024;

/// Memory that is not a live process's: a core file's segments.
pub(crate) trait MemorySource: Send + Sync {
    /// Reads what it holds of `buf.len()` bytes at `address`, from the start: how many.
    fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize;
}

/// Ids past the kernel's largest pid (`PID_MAX_LIMIT`, 2^22) name a mounted [`MemorySource`]:
/// every reader of "a process's memory" reads a core through one, and none can reach a live
/// process by mistake (a core's own pids and tids may be live ones here).
const SOURCE_BASE: i32 = 1 << 30;

type Sources = Vec<(i32, Arc<dyn MemorySource>)>;

static SOURCES: RwLock<Sources> = RwLock::new(Vec::new());

/// A mounted source, unmounted when dropped; [`Mounted::id`] is the pid to read it by.
pub(crate) struct Mounted(i32);

impl Mounted {
    pub(crate) fn id(&self) -> i32 {
        self.0
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Taken out under the lock, dropped after it: a source may hold a mount of its own,
        // whose drop takes the lock again.
        let gone = SOURCES.write().ok().and_then(|mut all| {
            let i = all.iter().position(|(id, _)| *id == self.0)?;
            Some(all.remove(i))
        });
        drop(gone);
    }
}

/// Mounts `source` under a fresh id past every pid.
pub(crate) fn mount(source: Arc<dyn MemorySource>) -> Mounted {
    static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0x0fff_ffff;
    let id = SOURCE_BASE + n;
    if let Ok(mut all) = SOURCES.write() {
        all.push((id, source));
    }
    Mounted(id)
}

fn mounted(id: i32) -> Option<Arc<dyn MemorySource>> {
    let all = SOURCES.read().ok()?;
    all.iter().find(|(i, _)| *i == id).map(|(_, s)| s.clone())
}

/// Whether `pid` names a mounted source rather than a process.
pub(crate) fn is_mounted(pid: i32) -> bool {
    pid >= SOURCE_BASE
}

/// The memory of one process (or thread: a tid reads its process's memory too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemoteMemory(Pid);

impl RemoteMemory {
    pub(crate) fn new(pid: i32) -> RemoteMemory {
        RemoteMemory(Pid::from_raw(pid))
    }

    /// A mounted source's read: the bytes it holds from the start, none as None.
    fn read_source(&self, address: u64, buf: &mut [u8]) -> Option<usize> {
        let source = mounted(self.0.as_raw())?;
        Some(source.read_prefix(address, buf)).filter(|&n| n > 0)
    }

    /// Reads exactly `buf.len()` bytes at `address`, or says it could not.
    pub(crate) fn read_exact(&self, address: u64, buf: &mut [u8]) -> bool {
        let len = buf.len();
        matches!(self.read_once(address, buf), Some(n) if n == len)
    }

    /// Reads what one request gets of `buf.len()` bytes at `address`: the kernel does not split
    /// a request at an unmapped page, so this is all or nothing for a range it cannot read.
    pub(crate) fn read_once(&self, address: u64, buf: &mut [u8]) -> Option<usize> {
        if is_mounted(self.0.as_raw()) {
            return self.read_source(address, buf);
        }
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
        if is_mounted(self.0.as_raw()) {
            return self.read_source(address, buf).unwrap_or(0);
        }
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
    use super::{MemorySource, PAGE, RemoteMemory, mount};

    /// Bytes 0x1000..0x1010, each its address's low byte.
    struct Sixteen;

    impl MemorySource for Sixteen {
        fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize {
            let mut n = 0;
            while n < buf.len() && (0x1000..0x1010).contains(&(address + n as u64)) {
                buf[n] = (address + n as u64) as u8;
                n += 1;
            }
            n
        }
    }

    #[test]
    fn a_mounted_source_is_read_by_its_id_and_gone_when_dropped() {
        let m = mount(std::sync::Arc::new(Sixteen));
        let mem = RemoteMemory::new(m.id());
        let mut buf = [0u8; 4];
        assert!(mem.read_exact(0x1004, &mut buf));
        assert_eq!(buf, [4, 5, 6, 7]);
        let mut long = [0u8; 32];
        assert_eq!(mem.read_once(0x1008, &mut long), Some(8));
        assert_eq!(mem.read_pages(0x2000, &mut long), 0);
        let id = m.id();
        drop(m);
        assert!(!RemoteMemory::new(id).read_exact(0x1004, &mut buf));
    }

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
