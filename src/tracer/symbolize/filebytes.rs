//! The bytes of a module or debug file, shared between the symbol load and the DWARF load:
//! mapped from the page cache when no one but root can change the file and the target is not
//! root ([`Opened::may_map`]), read into memory otherwise, so a file that shrinks can never
//! SIGBUS us. Read means only the parts a load needs ([`FileBytes::read_parts`]), into
//! zeroed memory of our own laid out like the file. Also compressed sections inflated only as
//! far as lookups need ([`Inflater`]).

use std::fmt;
use std::fs;
use std::io::Read;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::Arc;

use nix::sys::mman::{MapFlags, ProtFlags, mmap, mmap_anonymous, munmap};

use crate::tracer::procfs::targetfs::Opened;
use crate::tracer::symbolize::elfparts::{self, Parts, Plan};

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
    /// The DWARF sections were not read (the bytes hold a symbol load's parts): the file to
    /// read them from. Only for as long as these bytes live: a module's DWARF, once read,
    /// holds no descriptor.
    without_dwarf: Option<Arc<fs::File>>,
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
    /// A file's private read-only mapping, or (read in parts) zeroed anonymous memory of
    /// ours, written before any view of it was made.
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
            without_dwarf: None,
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
                without_dwarf: None,
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

    /// The parts of an opened file that `parts` needs (see [`elfparts`]), the rest zeros:
    /// mapped whole where [`FileBytes::read`] would map, else read with bounded `pread`s into
    /// zeroed anonymous memory as long as the file (at most [`MAX_READ`]), of which only the
    /// pages written cost memory. A file that is not ELF, or a Go binary, is read whole.
    pub(crate) fn read_parts(opened: Opened, parts: Parts) -> std::io::Result<FileBytes> {
        if opened.may_map && is_sealed(&opened.meta) {
            return FileBytes::read(opened);
        }
        let id = FileId::of(&opened.meta);
        FileBytes::read_sparse(Arc::new(opened.file), id, parts)
    }

    /// These bytes with the DWARF sections too: themselves if they hold the whole file, else
    /// the file (kept open from the first read) read again in parts.
    pub(crate) fn with_dwarf(&self) -> std::io::Result<FileBytes> {
        match (&self.without_dwarf, self.id) {
            (Some(file), Some(id)) => FileBytes::read_sparse(file.clone(), id, Parts::Dwarf),
            _ => Ok(self.clone()),
        }
    }

    fn read_sparse(file: Arc<fs::File>, id: FileId, parts: Parts) -> std::io::Result<FileBytes> {
        if id.size > MAX_READ {
            return Err(std::io::Error::other("file too big to read"));
        }
        let Some(len) = NonZeroUsize::new(id.size as usize) else {
            return Ok(FileBytes {
                id: Some(id),
                ..FileBytes::from(Vec::new())
            });
        };
        // SAFETY: a fresh private anonymous mapping (zeroed by the kernel), which `Backing`
        // unmaps on drop; untouched pages take no memory.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE,
            )
        }
        .map_err(std::io::Error::from)?;
        let backing = Arc::new(Backing::Mapped {
            ptr: ptr.cast(),
            len: len.get(),
        });
        // SAFETY: the mapping is ours alone until it is returned: no view of it exists yet.
        let image = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr().cast::<u8>(), len.get()) };
        fill_parts(&file, image, parts)?;
        Ok(FileBytes {
            bytes: backing,
            len: len.get(),
            id: Some(id),
            without_dwarf: (parts == Parts::Symbols).then_some(file),
        })
    }

    /// The file the bytes were read from (`None` for bytes made in memory).
    pub(crate) fn id(&self) -> Option<FileId> {
        self.id
    }
}

/// Most rounds of reads: the first page, then each [`elfparts::plan`] follows from bytes the
/// one before read (tables, names, sections, and one to spare for extended numbering).
const MAX_ROUNDS: usize = 7;

/// Reads into `image` (as long as the file was, zeros) what `parts` needs of `file`, round by
/// round, never a page twice: whatever the headers claim, at most the image's length is read.
/// A file that shrank since it was measured leaves zeros where its bytes are gone.
fn fill_parts(file: &fs::File, image: &mut [u8], parts: Parts) -> std::io::Result<()> {
    let page = crate::tracer::memory::PAGE as usize;
    let len = image.len();
    let mut done = vec![false; len.div_ceil(page)];
    for round in 0..MAX_ROUNDS {
        // The first page says what the file is.
        let plan = match round {
            0 => Plan::Ranges(vec![(0, elfparts::FIRST)]),
            _ => elfparts::plan(image, parts),
        };
        let mut ranges = match plan {
            Plan::Whole => vec![(0, len as u64)],
            Plan::Ranges(ranges) => ranges,
        };
        // Pages, clipped to the file, merged: a thousand sections claiming the whole file
        // cost one pass over it.
        for r in &mut ranges {
            let end = r.1.min(len as u64) as usize;
            let start = (r.0.min(len as u64) as usize).min(end);
            *r = ((start / page) as u64, end.div_ceil(page) as u64);
        }
        ranges.sort_unstable();
        let mut new = false;
        let mut next = 0usize;
        for (first, end) in ranges {
            let mut p = (first as usize).max(next);
            let end = end as usize;
            while p < end {
                if done[p] {
                    p += 1;
                    continue;
                }
                let run = p + done[p..end].iter().take_while(|&&d| !d).count();
                let (from, to) = (p * page, (run * page).min(len));
                read_at_most(file, &mut image[from..to], from as u64)?;
                done[p..run].fill(true);
                new = true;
                p = run;
            }
            next = next.max(end);
        }
        if !new {
            break;
        }
    }
    Ok(())
}

/// Fills `buf` from `offset` as far as the file goes (a short file leaves the rest as it was):
/// the bytes read.
pub(crate) fn read_at_most(file: &fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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
            without_dwarf: None,
        }
    }

    /// (bytes inflated so far, bytes the section holds).
    #[cfg(test)]
    pub(crate) fn progress(&self) -> (usize, usize) {
        (self.filled, self.cap)
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// A copy of glibc's first 64 KiB whose four section headers each claim the file from
    /// byte 1 to the end of the address space.
    pub(crate) fn huge_sections() -> Vec<u8> {
        let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let mut elf = libc[..64 << 10].to_vec();
        let shoff = 8192u64;
        elf[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&4u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        for i in 0..4usize {
            let at = shoff as usize + i * 64;
            elf[at + 4..at + 8].copy_from_slice(&3u32.to_le_bytes()); // SHT_STRTAB
            elf[at + 0x18..at + 0x20].copy_from_slice(&1u64.to_le_bytes());
            elf[at + 0x20..at + 0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        }
        elf
    }

    #[test]
    fn parts_are_read_within_the_file_whatever_it_claims_or_does() {
        use crate::tracer::procfs::targetfs::open_host;
        use crate::tracer::symbolize::elfparts::Parts;
        use object::{Object, ObjectSection};
        let libc = std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6");
        let whole = std::fs::read(libc).unwrap();
        let unmappable = |path: &std::path::Path| {
            let mut opened = open_host(path).unwrap();
            opened.may_map = false;
            opened
        };
        let parts = FileBytes::read_parts(unmappable(libc), Parts::Symbols).unwrap();
        assert!(matches!(&*parts.bytes, super::Backing::Mapped { .. }));
        assert_eq!(parts.len(), whole.len());
        let parsed = object::File::parse(&*parts).unwrap();
        let section =
            |f: &object::File<'_>, name| f.section_by_name(name).unwrap().data().unwrap().to_vec();
        let full = object::File::parse(&*whole).unwrap();
        assert_eq!(section(&parsed, ".dynsym"), section(&full, ".dynsym"));
        assert!(
            section(&parsed, ".text").iter().all(|&b| b == 0),
            "code is not read"
        );
        // glibc has no DWARF of its own: reading its DWARF parts adds nothing, and keeps
        // no descriptor.
        let dwarf = parts.with_dwarf().unwrap();
        assert!(dwarf.without_dwarf.is_none());
        assert_eq!(
            section(&object::File::parse(&*dwarf).unwrap(), ".eh_frame"),
            section(&full, ".eh_frame")
        );

        let dir = std::env::temp_dir().join(format!("filebytes-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Sections claiming sizes past the end: read up to the end, once.
        let hostile = dir.join("huge");
        let elf = huge_sections();
        std::fs::write(&hostile, &elf).unwrap();
        let read = FileBytes::read_parts(unmappable(&hostile), Parts::Dwarf).unwrap();
        assert_eq!(&read[..], &elf[..]);
        // A file that shrinks between the stat and the reads: zeros where its bytes went.
        let shrinking = dir.join("shrinking");
        std::fs::write(&shrinking, &whole).unwrap();
        let opened = unmappable(&shrinking);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&shrinking)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let read = FileBytes::read_parts(opened, Parts::Symbols).unwrap();
        assert_eq!(read.len(), whole.len());
        assert_eq!(&read[..4096], &whole[..4096]);
        assert!(read[4096..].iter().all(|&b| b == 0));
        // Not ELF: read whole, still bounded by the size measured at the open.
        let text = dir.join("text");
        std::fs::write(&text, b"not an ELF file").unwrap();
        let read = FileBytes::read_parts(unmappable(&text), Parts::Symbols).unwrap();
        assert_eq!(&read[..], b"not an ELF file");
        std::fs::remove_dir_all(&dir).unwrap();
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
