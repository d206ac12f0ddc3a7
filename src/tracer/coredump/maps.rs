//! A core's memory map in the shape the live path reads from `/proc/PID/maps`: its executable
//! segments with the file each maps (`NT_FILE`) and the file mappings it has no segment for,
//! the vDSO (an executable segment of no file that holds an ELF image), the read-only file
//! ranges and every segment's range.

use std::path::PathBuf;

use crate::tracer::procfs::maps::{Mapping, MappingKind, MemoryMaps};

use super::memory::moved_path;

use super::file::{Core, MappedFile};

const PF_X: u32 = 1;
const PF_W: u32 = 2;

/// The maps of `core`, modules found elsewhere by build-id (`moved`) at their new paths.
pub(crate) fn maps(core: &Core, moved: &[(PathBuf, PathBuf)]) -> MemoryMaps {
    let file_of = |start: u64| -> Option<&MappedFile> {
        core.files
            .iter()
            .find(|f| f.start <= start && start < f.end)
    };
    let mut executable = Vec::new();
    let mut read_only = Vec::new();
    let mut regions = Vec::new();
    for s in &core.segments {
        let end = s.vaddr.saturating_add(s.memsz);
        regions.push((s.vaddr, end));
        let file = file_of(s.vaddr);
        if file.is_some() && s.flags & PF_W == 0 {
            read_only.push((s.vaddr, end));
        }
        if s.flags & PF_X == 0 {
            continue;
        }
        let (offset, kind) = match file {
            Some(f) => (
                f.offset.saturating_add(s.vaddr - f.start),
                MappingKind::File(moved_path(moved, &f.path)),
            ),
            None if is_elf_image(core, s.vaddr) => (0, MappingKind::Vdso),
            None => (0, MappingKind::Other(String::new())),
        };
        executable.push(Mapping {
            start: s.vaddr,
            end,
            offset,
            // A core records no inode: a module's file is checked by its build-id instead.
            inode: 0,
            kind,
        });
    }
    // File mappings the core has no segment for at all (gcore leaves out a file's read-only
    // mappings, code among them: their bytes are the file's) are taken as code: a data
    // mapping is always dumped, so only code and read-only data are left, and a read-only
    // data range named as code costs nothing but a lookup that finds no symbol.
    for f in &core.files {
        if !regions.iter().any(|&(a, b)| a < f.end && f.start < b) {
            regions.push((f.start, f.end));
            read_only.push((f.start, f.end));
            executable.push(Mapping {
                start: f.start,
                end: f.end,
                offset: f.offset,
                inode: 0,
                kind: MappingKind::File(moved_path(moved, &f.path)),
            });
        }
    }
    MemoryMaps::from_parts(executable, read_only, regions)
}

fn is_elf_image(core: &Core, at: u64) -> bool {
    let mut magic = [0u8; 4];
    core.read_memory(at, &mut magic) && magic == *b"\x7fELF"
}
