//! The bytes of a module or debug file, shared between the symbol load and the DWARF load:
//! mapped from the page cache when no one but root can change the file and the target is not
//! root ([`Opened::may_map`]), read into memory otherwise, so a file that shrinks can never
//! SIGBUS us. Also compressed sections inflated only as far as lookups need ([`Inflater`]).

use std::fmt;
use std::fs;
use std::io::Read;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::Arc;

use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

use crate::tracer::procfs::targetfs::Opened;

/// The biggest module or debug file we map: a target can map (or put in its root) a huge
/// sparse file.
const MAX_MAP: u64 = 4 << 30;

/// The biggest we read into memory, whatever size the file claims (a device or a file that
/// grows while we read says nothing true).
const MAX_READ: u64 = 1 << 30;

/// Immutable file bytes; clones share them.
#[derive(Clone)]
pub(crate) struct FileBytes {
    bytes: Arc<Backing>,
    /// How many bytes of the backing this view shows (all, but for a growing one).
    len: usize,
    /// The file they were read from, when they were.
    id: Option<FileId>,
}

/// Which file, in which version: device, inode, size, and the modification and change times
/// (a change time cannot be set back, so a new file in a reused inode differs). The one
/// identity of a file: the symbol cache's key and the line cache's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileId {
    pub(crate) fn of(meta: &fs::Metadata) -> FileId {
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
    Mapped {
        ptr: NonNull<u8>,
        len: usize,
    },
    /// Zeroed memory an [`Inflater`] fills from the start; views show only the filled part.
    Growing {
        ptr: NonNull<u8>,
        cap: usize,
    },
}

// SAFETY: heap and mapped bytes are only ever read (the mapping is private and read-only),
// like a `Box<[u8]>`; a growing buffer is written only by its one `Inflater`, and only past
// the end of every view of it, so no byte is read and written at once.
unsafe impl Send for Backing {}
// SAFETY: as above.
unsafe impl Sync for Backing {}

impl Drop for Backing {
    fn drop(&mut self) {
        match *self {
            Backing::Heap(_) => {}
            Backing::Mapped { ptr, len } => {
                // SAFETY: the range was mapped by `map` and nothing borrows it any more.
                let _ = unsafe { munmap(ptr.cast(), len) };
            }
            // SAFETY: allocated by `Inflater::new` with this layout; nothing borrows it.
            Backing::Growing { ptr, cap } => unsafe {
                std::alloc::dealloc(ptr.as_ptr(), growing_layout(cap));
            },
        }
    }
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &*self.bytes {
            Backing::Heap(b) => &b[..self.len],
            // SAFETY: `len` bytes at `ptr` stay mapped, readable and unchanged (see `map`)
            // for as long as the `Backing` lives.
            Backing::Mapped { ptr, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), self.len)
            },
            // SAFETY: the first `self.len` bytes were filled before this view was made, and
            // the `Inflater` only ever writes after its views' ends.
            Backing::Growing { ptr, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), self.len)
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
            len: bytes.len(),
            bytes: Arc::new(Backing::Heap(bytes.into_boxed_slice())),
            id: None,
        }
    }
}

impl FileBytes {
    /// The whole of an opened file: mapped if [`Opened::may_map`] and only root can change
    /// it, else read, at most [`MAX_READ`] bytes.
    pub(crate) fn read(opened: Opened) -> std::io::Result<FileBytes> {
        let Opened {
            file,
            meta,
            may_map,
        } = opened;
        let id = Some(FileId::of(&meta));
        if may_map
            && meta.len() <= MAX_MAP
            && let Some(len) = usize::try_from(meta.len()).ok().and_then(NonZeroUsize::new)
            && is_sealed(&meta)
            && let Some(bytes) = map(&file, len)
        {
            return Ok(FileBytes {
                bytes,
                len: len.get(),
                id,
            });
        }
        if meta.len() > MAX_READ {
            return Err(std::io::Error::other("file too big to read"));
        }
        // The size is a hint only: the file may have grown since, and the read stops at the
        // bound whatever happens.
        let mut data = Vec::with_capacity(meta.len() as usize);
        (&file).take(MAX_READ + 1).read_to_end(&mut data)?;
        if data.len() as u64 > MAX_READ {
            return Err(std::io::Error::other("file too big to read"));
        }
        Ok(FileBytes {
            id,
            ..FileBytes::from(data)
        })
    }

    /// The file the bytes were read from (`None` for bytes made in memory).
    pub(crate) fn id(&self) -> Option<FileId> {
        self.id
    }
}

/// True when only root can change the file. A mapped file that shrinks under us would kill
/// us with SIGBUS, and a target can truncate any file its user owns (or can write); package
/// files are root's and, when replaced, replaced by a new inode (the mapping keeps the old).
/// Root's files are safe only from a target that is not root: see [`Opened::may_map`].
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

fn growing_layout(cap: usize) -> std::alloc::Layout {
    std::alloc::Layout::array::<u8>(cap).expect("a size that was allocated")
}

/// A zlib-compressed section inflated on demand, from its start: DWARF lookups need a few
/// units, and the units of a 2,000-unit `.debug_info` after the last one needed are never
/// inflated. Views of what is inflated stay valid while more is inflated after them.
pub(crate) struct Inflater {
    /// The file, and where the compressed stream lies in it.
    input: FileBytes,
    start: usize,
    end: usize,
    stream: flate2::Decompress,
    buf: Arc<Backing>,
    cap: usize,
    filled: usize,
    /// The stream ended, or is corrupt: nothing more will come.
    done: bool,
}

/// Least inflated per call, so that growing a view by a few bytes at a time stays cheap.
const INFLATE_STEP: usize = 256 << 10;

impl Inflater {
    /// A zlib stream at `start..end` of `input` that inflates to `size` bytes.
    pub(crate) fn new(input: FileBytes, start: usize, end: usize, size: usize) -> Option<Inflater> {
        // zlib cannot expand data more than 1032 times: a bigger claimed size is a lie.
        let most = end
            .checked_sub(start)?
            .saturating_mul(1032)
            .saturating_add(1024);
        if end > input.len() || size > most {
            return None;
        }
        let cap = size.max(1);
        let layout = std::alloc::Layout::array::<u8>(cap).ok()?;
        // Zeroed, so the unfilled part is initialized memory the stream may be given whole.
        // SAFETY: a non-zero size.
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        Some(Inflater {
            input,
            start,
            end,
            stream: flate2::Decompress::new(true),
            buf: Arc::new(Backing::Growing { ptr, cap }),
            cap,
            filled: 0,
            done: size == 0,
        })
    }

    /// The section inflated at least up to `upto` bytes (less where it ends first).
    pub(crate) fn upto(&mut self, upto: usize) -> FileBytes {
        let Backing::Growing { ptr, .. } = *self.buf else {
            unreachable!("an Inflater's buffer is growing");
        };
        let upto = upto.min(self.cap);
        while self.filled < upto && !self.done {
            let goal = upto.max(self.filled + INFLATE_STEP).min(self.cap);
            let consumed = usize::try_from(self.stream.total_in()).unwrap_or(usize::MAX);
            let input = self
                .input
                .get(self.start.saturating_add(consumed)..self.end)
                .unwrap_or_default();
            // SAFETY: `filled..goal` lies inside the allocation, is initialized (zeroed), and
            // no view reaches past `filled`.
            let out = unsafe {
                std::slice::from_raw_parts_mut(ptr.as_ptr().add(self.filled), goal - self.filled)
            };
            let before = self.stream.total_out();
            let status = self
                .stream
                .decompress(input, out, flate2::FlushDecompress::None);
            let made = usize::try_from(self.stream.total_out() - before).unwrap_or(0);
            self.filled += made;
            match status {
                Ok(flate2::Status::StreamEnd) => self.done = true,
                Ok(_) if made == 0 => self.done = true,
                Ok(_) => {}
                Err(_) => self.done = true,
            }
        }
        FileBytes {
            bytes: self.buf.clone(),
            len: self.filled,
            id: None,
        }
    }

    /// (bytes inflated so far, bytes the section holds).
    #[cfg(test)]
    pub(crate) fn progress(&self) -> (usize, usize) {
        (self.filled, self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::FileBytes;

    #[test]
    fn maps_root_files_and_reads_others() {
        use crate::tracer::procfs::targetfs::open_host;
        let path = std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6");
        let libc = FileBytes::read(open_host(path).unwrap()).expect("glibc");
        assert_eq!(&libc[..4], b"\x7fELF");
        assert!(
            matches!(&*libc.bytes, super::Backing::Mapped { .. }),
            "root's file is mapped"
        );
        // Unless the target could change it (it runs as root): then it is read.
        let mut opened = open_host(path).unwrap();
        opened.may_map = false;
        let read = FileBytes::read(opened).unwrap();
        assert!(matches!(&*read.bytes, super::Backing::Heap(_)));
        assert_eq!(&read[..], &libc[..]);
        let own = std::env::temp_dir().join(format!("filebytes-{}", std::process::id()));
        std::fs::write(&own, b"hello").unwrap();
        let mut perms = std::fs::metadata(&own).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o666);
        std::fs::set_permissions(&own, perms).unwrap();
        let read = FileBytes::read(open_host(&own).unwrap()).unwrap();
        // World-writable: read into memory, so truncating the file cannot touch our copy.
        std::fs::write(&own, b"").unwrap();
        assert_eq!(&*read, b"hello");
        assert!(matches!(&*read.bytes, super::Backing::Heap(_)));
        std::fs::remove_file(&own).unwrap();
        let empty = FileBytes::from(Vec::new());
        assert!(empty.is_empty());
    }

    #[test]
    fn an_inflater_gives_growing_views_of_the_same_bytes() {
        use std::io::Write;
        let plain: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).unwrap();
        let mut file = b"header".to_vec();
        file.extend(z.finish().unwrap());
        let end = file.len();
        let input = FileBytes::from(file);
        let mut inf = super::Inflater::new(input.clone(), 6, end, plain.len()).unwrap();
        let small = inf.upto(10);
        assert!(
            small.len() >= 10 && small.len() < plain.len(),
            "{}",
            small.len()
        );
        assert_eq!(&small[..], &plain[..small.len()]);
        let more = inf.upto(1_000_000);
        assert!(more.len() >= 1_000_000);
        // The first view is unchanged by the second inflation.
        assert_eq!(&small[..], &plain[..small.len()]);
        assert_eq!(&inf.upto(usize::MAX)[..], &plain[..]);
        // A corrupt stream ends the section where it breaks, without a panic.
        let mut broken = input[..].to_vec();
        broken[end / 2] ^= 0xff;
        let mut inf = super::Inflater::new(FileBytes::from(broken), 6, end, plain.len()).unwrap();
        assert!(inf.upto(usize::MAX).len() < plain.len());
    }
}
