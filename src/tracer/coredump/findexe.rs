//! A core's module whose file is not at the path the core records (moved, or replaced by
//! another build since the dump), found by the build-id the core holds: under the root's
//! `/usr/lib/.build-id/` or `/usr/lib/debug/.build-id/` (where distributions link binaries
//! and debug files by build-id), a file with that build-id and its code (not a debug file,
//! whose code sections are empty).

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, SectionKind};

use super::buildid;
use super::file::Core;
use crate::tracer::procfs::targetfs::TargetFs;
use crate::tracer::symbolize::debuginfo;

/// Largest candidate looked at.
const MAX_CANDIDATE: u64 = 1 << 30;

/// Each module path of `core` that does not hold the build the core recorded, and the file
/// found for it by build-id inside `fs`'s root; `source` is the core's mounted id.
pub(crate) fn by_build_id(core: &Core, fs: &TargetFs, source: i32) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for f in &core.files {
        if f.offset != 0 || seen.contains(&f.path.as_path()) {
            continue;
        }
        seen.push(&f.path);
        let Some(recorded) = buildid::build_id_at(source, f.start) else {
            continue;
        };
        if head_build_id(fs, &f.path).is_some_and(|id| id == recorded) {
            continue;
        }
        if let Some(found) = candidates(&recorded)
            .into_iter()
            .find(|c| is_the_binary(fs, c, &recorded))
        {
            out.push((f.path.clone(), found));
        }
    }
    out
}

/// Where distributions link a build-id's binary (Fedora's `/usr/lib/.build-id`) or file.
fn candidates(id: &[u8]) -> Vec<PathBuf> {
    let rel = debuginfo::build_id_path(id);
    let bare = rel.with_extension("");
    let mut out = Vec::new();
    for dir in ["/usr/lib", "/usr/lib/debug"] {
        let base = Path::new(dir);
        // `build_id_path` is `.build-id/xx/rest.debug`: the binary's link has no suffix.
        out.push(base.join(&bare));
    }
    out
}

fn head_build_id(fs: &TargetFs, path: &Path) -> Option<Vec<u8>> {
    buildid::of_file(&fs.open(path).ok()?.file)
}

/// Whether `path` has build-id `id` and holds code (a debug file's `.text` is empty). Only
/// its headers are read, through a cache that reads what the parser asks for.
fn is_the_binary(fs: &TargetFs, path: &Path, id: &[u8]) -> bool {
    if head_build_id(fs, path).as_deref() != Some(id) {
        return false;
    }
    let Ok(opened) = fs.open(path) else {
        return false;
    };
    if opened.meta.len() > MAX_CANDIDATE {
        return false;
    }
    let cache = object::ReadCache::new(opened.file);
    object::File::parse(&cache).is_ok_and(|file| {
        file.section_by_name(".text")
            .is_some_and(|s| s.kind() == SectionKind::Text && s.size() > 0)
    })
}
