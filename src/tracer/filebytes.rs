//! The bytes of a module or debug file, shared between the symbol load and the DWARF load:
//! mapped from the page cache when no one but root can change the file, read into memory
//! otherwise. Reading a 4 MiB debug file used to cost more than the rest of a small trace.

use std::fmt;
use std::fs;
use std::io::Read;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

use super::debuginfo::MAX_FILE;

/// Immutable file bytes; clones share them.
#[derive(Clone)]
pub(super) struct FileBytes {
    bytes: Arc<Backing>,
    /// The file they were read from, when they were.
    id: Option<FileId>,
}

/// Which file, in which version: device, inode, size, and the modification and change times
/// (a change time cannot be set back, so a new file in a reused inode differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileId {
    pub(super) fn of(meta: &fs::Metadata) -> FileId {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

enum Backing {
    Heap(Box<[u8]>),
    Mapped { ptr: NonNull<u8>, len: usize },
}

// SAFETY: the mapping is private and read-only, and only ever read: like a `Box<[u8]>`.
unsafe impl Send for Backing {}
// SAFETY: as above.
unsafe impl Sync for Backing {}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Mapped { ptr, len } = *self {
            // SAFETY: the range was mapped by `map` and nothing borrows it any more.
            let _ = unsafe { munmap(ptr.cast(), len) };
        }
    }
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &*self.bytes {
            Backing::Heap(b) => b,
            // SAFETY: `len` bytes at `ptr` stay mapped, readable and unchanged (see `map`)
            // for as long as the `Backing` lives.
            Backing::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
        }
    }
}

// SAFETY: the bytes never move while any clone lives (a boxed slice or a fixed mapping
// behind an `Arc`), which is all gimli's readers need.
unsafe impl gimli::StableDeref for FileBytes {}
// SAFETY: clones share the same bytes.
unsafe impl gimli::CloneStableDeref for FileBytes {}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> FileBytes {
        FileBytes {
            bytes: Arc::new(Backing::Heap(bytes.into_boxed_slice())),
            id: None,
        }
    }
}

impl FileBytes {
    /// The whole file at `path`, unless it is bigger than [`MAX_FILE`].
    pub(super) fn read(path: &Path) -> std::io::Result<FileBytes> {
        let mut file = fs::File::open(path)?;
        let meta = file.metadata()?;
        if meta.len() > MAX_FILE {
            return Err(std::io::Error::other("file too big to read"));
        }
        let len = usize::try_from(meta.len()).map_err(std::io::Error::other)?;
        let id = Some(FileId::of(&meta));
        if let Some(len) = NonZeroUsize::new(len).filter(|_| is_sealed(&meta))
            && let Some(bytes) = map(&file, len)
        {
            return Ok(FileBytes { bytes, id });
        }
        let mut data = Vec::with_capacity(len);
        file.read_to_end(&mut data)?;
        Ok(FileBytes {
            id,
            ..FileBytes::from(data)
        })
    }

    /// The file the bytes were read from (`None` for bytes made in memory).
    pub(super) fn id(&self) -> Option<FileId> {
        self.id
    }
}

/// True when only root can change the file. A mapped file that shrinks under us would kill
/// us with SIGBUS, and a target can truncate any file its user owns (or can write); package
/// files are root's and, when replaced, replaced by a new inode (the mapping keeps the old).
fn is_sealed(meta: &fs::Metadata) -> bool {
    meta.is_file() && meta.uid() == 0 && meta.mode() & 0o022 == 0
}

fn map(file: &fs::File, len: NonZeroUsize) -> Option<Arc<Backing>> {
    // SAFETY: a fresh private read-only mapping, which `Backing` unmaps on drop; the file
    // can only be truncated by root (`is_sealed`).
    let ptr = unsafe {
        mmap(
            None,
            len,
            ProtFlags::PROT_READ,
            MapFlags::MAP_PRIVATE,
            file,
            0,
        )
    }
    .ok()?;
    Some(Arc::new(Backing::Mapped {
        ptr: ptr.cast(),
        len: len.get(),
    }))
}

#[cfg(test)]
mod tests {
    use super::FileBytes;

    #[test]
    fn maps_root_files_and_reads_others() {
        let libc = FileBytes::read(std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6"))
            .expect("glibc");
        assert_eq!(&libc[..4], b"\x7fELF");
        assert!(
            matches!(&*libc.bytes, super::Backing::Mapped { .. }),
            "root's file is mapped"
        );
        let own = std::env::temp_dir().join(format!("filebytes-{}", std::process::id()));
        std::fs::write(&own, b"hello").unwrap();
        let mut perms = std::fs::metadata(&own).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o666);
        std::fs::set_permissions(&own, perms).unwrap();
        let read = FileBytes::read(&own).unwrap();
        // World-writable: read into memory, so truncating the file cannot touch our copy.
        std::fs::write(&own, b"").unwrap();
        assert_eq!(&*read, b"hello");
        assert!(matches!(&*read.bytes, super::Backing::Heap(_)));
        std::fs::remove_file(&own).unwrap();
        let empty = FileBytes::from(Vec::new());
        assert!(empty.is_empty());
    }
}
