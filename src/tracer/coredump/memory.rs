//! A core's memory as the unwinder and the analyses read it: the bytes the core holds, and,
//! for file mappings it left out (gcore omits read-only code; the kernel keeps only a code
//! mapping's first page), the mapped file's bytes at the mapping's offset — the file opened
//! inside the root once, and only if its build-id is the one the core recorded for it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::buildid;
use super::file::Core;
use super::findexe;
use crate::tracer::memory::{self, MemorySource};
use crate::tracer::procfs::targetfs::TargetFs;

/// One file mapping of the core and its file, opened when first read.
struct Backing {
    start: u64,
    end: u64,
    offset: u64,
    path: PathBuf,
    file: OnceLock<Option<File>>,
}

/// The core's bytes, then its mapped files'.
pub(crate) struct CoreMemory {
    core: Arc<Core>,
    files: Vec<Backing>,
    fs: TargetFs,
    /// The mounted id of the core alone (for the build-ids the core holds).
    alone: memory::Mounted,
    moved: Vec<(PathBuf, PathBuf)>,
}

/// The path to read a module recorded at `path` from.
pub(crate) fn moved_path(moved: &[(PathBuf, PathBuf)], path: &Path) -> PathBuf {
    moved
        .iter()
        .find(|(from, _)| from == path)
        .map_or_else(|| path.to_path_buf(), |(_, to)| to.clone())
}

impl CoreMemory {
    /// `core`'s memory, its files looked for inside `root` (at the paths it records, else by
    /// the build-id it holds: see [`CoreMemory::moved`]).
    pub(crate) fn new(core: Arc<Core>, root: &Path) -> CoreMemory {
        let alone = memory::mount(core.clone());
        let fs = TargetFs::for_core(alone.id(), root);
        let moved = findexe::by_build_id(&core, &fs, alone.id());
        let mut files: Vec<Backing> = core
            .files
            .iter()
            .map(|f| Backing {
                start: f.start,
                end: f.end,
                offset: f.offset,
                path: moved_path(&moved, &f.path),
                file: OnceLock::new(),
            })
            .collect();
        files.sort_by_key(|b| b.start);
        CoreMemory {
            fs,
            core,
            files,
            alone,
            moved,
        }
    }

    /// The modules found by build-id elsewhere than the core says: (recorded, found).
    pub(crate) fn moved(&self) -> &[(PathBuf, PathBuf)] {
        &self.moved
    }

    /// The file of mapping `b`, if it can be opened and is the build the core recorded.
    fn file_of<'a>(&self, b: &'a Backing) -> Option<&'a File> {
        b.file
            .get_or_init(|| {
                let opened = self.fs.open(&b.path).ok()?;
                let base = b.start.checked_sub(b.offset);
                let recorded = base.and_then(|base| buildid::build_id_at(self.alone.id(), base));
                if let Some(recorded) = recorded
                    && buildid::of_file(&opened.file).is_some_and(|here| here != recorded)
                {
                    return None;
                }
                Some(opened.file)
            })
            .as_ref()
    }

    fn read_files(&self, addr: u64, buf: &mut [u8]) -> usize {
        let i = self.files.partition_point(|b| b.start <= addr);
        let Some(b) = i.checked_sub(1).map(|i| &self.files[i]) else {
            return 0;
        };
        if addr >= b.end {
            return 0;
        }
        let Some(file) = self.file_of(b) else {
            return 0;
        };
        let n = ((b.end - addr) as usize).min(buf.len());
        let Some(at) = b.offset.checked_add(addr - b.start) else {
            return 0;
        };
        super::file::read_at(file, at, &mut buf[..n]).unwrap_or(0)
    }
}

impl MemorySource for CoreMemory {
    fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let Some(at) = address.checked_add(done as u64) else {
                break;
            };
            let n = self.core.read_prefix(at, &mut buf[done..]);
            if n > 0 {
                done += n;
                continue;
            }
            // Not in the core: the mapped file, up to the next byte the core holds would be
            // simpler, but a file page is what the process had there either way.
            let n = self.read_files(at, &mut buf[done..]);
            if n == 0 {
                break;
            }
            done += n;
        }
        done
    }
}
