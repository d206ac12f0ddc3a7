//! Separate debuginfo for stripped modules, found the way gdb and eu-stack find it: by
//! build-id under `/usr/lib/debug/.build-id/`, by `.gnu_debuglink` (name + CRC32) next to the
//! module or under `/usr/lib/debug/<dir>/`, or in the module's own MiniDebugInfo (an
//! xz-compressed ELF in `.gnu_debugdata`). Symbols come from its `.symtab`; its DWARF (lines,
//! inlined functions) is read by [`crate::tracer::symbolize::lines`] when the module has none of its own.
//!
//! Every path is looked up inside the target's root (resolved there by [`TargetFs`], so
//! containers work and their symlinks cannot lead out), then in the extra debug directories
//! of [`crate::tracer::TraceOptions::debug_dirs`], each of which stands for a `/usr/lib/debug`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};

use crate::tracer::procfs::targetfs::{self, Opened, TargetFs};
use crate::tracer::symbolize::elfparts::Parts;
use crate::tracer::symbolize::filebytes::FileBytes;

/// Largest MiniDebugInfo we decompress.
const MAX_MINI_DEBUGINFO: usize = 64 << 20;

/// Where to look for the debuginfo of one module.
pub(crate) struct DebugLookup<'a> {
    /// The target's file system, where the standard paths are taken.
    pub fs: &'a TargetFs,
    /// The module's path as the target sees it.
    pub module_path: &'a Path,
    /// Extra directories, each treated like `/usr/lib/debug`.
    pub dirs: &'a [PathBuf],
}

/// Where a module's extra symbols came from: a separate file (by build-id or debuglink), or
/// the MiniDebugInfo inside the module (which has symbols but no DWARF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DebugSource {
    BuildId(Place),
    DebugLink(Place),
    MiniDebugInfo,
}

/// A file's path in the target's file system, or in ours (an extra debug directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Target(PathBuf),
    Host(PathBuf),
}

impl Place {
    pub(crate) fn open(&self, fs: &TargetFs) -> io::Result<Opened> {
        match self {
            Place::Target(path) => fs.open(path),
            Place::Host(path) => targetfs::open_host(path),
        }
    }

    fn join(&self, relative: &Path) -> Place {
        match self {
            Place::Target(p) => Place::Target(p.join(relative)),
            Place::Host(p) => Place::Host(p.join(relative)),
        }
    }
}

impl DebugSource {
    /// The separate debug file, if the debuginfo came from one.
    pub(crate) fn file(&self) -> Option<&Place> {
        match self {
            DebugSource::BuildId(p) | DebugSource::DebugLink(p) => Some(p),
            DebugSource::MiniDebugInfo => None,
        }
    }
}

impl DebugLookup<'_> {
    /// The `/usr/lib/debug`-like directories: the target's own, then the extra ones.
    fn debug_roots(&self) -> Vec<Place> {
        let mut roots = vec![Place::Target(PathBuf::from("/usr/lib/debug"))];
        roots.extend(self.dirs.iter().cloned().map(Place::Host));
        roots
    }

    /// The module's directory as the target sees it (without a " (deleted)" suffix).
    fn module_dir(&self) -> Option<PathBuf> {
        let bytes = self.module_path.as_os_str().as_encoded_bytes();
        let bytes = bytes.strip_suffix(b" (deleted)").unwrap_or(bytes);
        let path = Path::new(OsStr::from_bytes(bytes));
        path.parent()
            .filter(|p| p.is_absolute())
            .map(Path::to_path_buf)
    }
}

/// Finds the separate debuginfo of the module `file` and returns its bytes: an ELF image
/// with a `.symtab` whose addresses are the module's.
pub(crate) fn find(
    file: &object::File<'_>,
    lookup: &DebugLookup<'_>,
) -> Option<(FileBytes, DebugSource)> {
    if let Some(id) = file.build_id().ok().flatten().filter(|id| id.len() >= 2) {
        let relative = build_id_path(id);
        for root in lookup.debug_roots() {
            let candidate = root.join(&relative);
            if let Some(data) = read_with_symtab(&candidate, lookup.fs) {
                return Some((data, DebugSource::BuildId(candidate)));
            }
        }
    }
    if let Some((name, crc)) = file.gnu_debuglink().ok().flatten() {
        let name = Path::new(OsStr::from_bytes(name));
        // Only a plain file name: a link must not climb out of the directories searched.
        if name.components().count() == 1
            && let Some(dir) = lookup.module_dir()
        {
            let relative_dir = dir.strip_prefix("/").unwrap_or(&dir).to_path_buf();
            let mut candidates = vec![
                Place::Target(dir.join(name)),
                Place::Target(dir.join(".debug").join(name)),
            ];
            candidates.extend(
                lookup
                    .debug_roots()
                    .into_iter()
                    .map(|r| r.join(&relative_dir.join(name))),
            );
            for candidate in candidates {
                let Ok(data) = candidate.open(lookup.fs).and_then(FileBytes::read) else {
                    continue;
                };
                if crc32(&data) == crc && has_symtab(&data) {
                    return Some((data, DebugSource::DebugLink(candidate)));
                }
            }
        }
    }
    let mini = file.section_by_name(".gnu_debugdata")?;
    let data = decompress_xz(mini.data().ok()?, MAX_MINI_DEBUGINFO)?;
    has_symtab(&data).then(|| (FileBytes::from(data), DebugSource::MiniDebugInfo))
}

/// `.build-id/xx/rest.debug` for a build-id.
pub(crate) fn build_id_path(id: &[u8]) -> PathBuf {
    let hex = hex(id);
    PathBuf::from(format!(".build-id/{}/{}.debug", &hex[..2], &hex[2..]))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_with_symtab(place: &Place, fs: &TargetFs) -> Option<FileBytes> {
    let data = FileBytes::read_parts(place.open(fs).ok()?, Parts::Symbols).ok()?;
    has_symtab(&data).then_some(data)
}

fn has_symtab(data: &[u8]) -> bool {
    object::File::parse(data).is_ok_and(|f| f.symbol_table().is_some())
}

/// Most memory the xz decoder may use (its dictionary): `xz -9` needs 65 MiB.
const MAX_XZ_MEMORY: u64 = 96 << 20;

/// Decompresses an xz stream, giving up (None) past `cap` bytes of output or when the
/// decoder would need more than [`MAX_XZ_MEMORY`]. It streams: nothing but the output so far
/// and the dictionary is held, whatever the stream claims.
pub(crate) fn decompress_xz(data: &[u8], cap: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let stream = xz2::stream::Stream::new_stream_decoder(MAX_XZ_MEMORY, 0).ok()?;
    let mut out = Vec::new();
    xz2::read::XzDecoder::new_stream(data, stream)
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= cap).then_some(out)
}

/// The CRC-32 of `.gnu_debuglink` (the zlib/IEEE one).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn build_id_paths() {
        assert_eq!(
            build_id_path(&[0x93, 0xac, 0x61]),
            PathBuf::from(".build-id/93/ac61.debug")
        );
    }
}
