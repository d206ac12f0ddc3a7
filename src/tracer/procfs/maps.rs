//! The executable mappings of a process (`/proc/PID/maps`), to find which file an address
//! belongs to and where that file can be opened.

use std::path::PathBuf;

use procfs::process::{MMPermissions, MMapPath, Process as ProcProcess};

use crate::tracer::error::Result;
use crate::tracer::procfs::procinfo::proc_error;

/// One executable mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// Offset of `start` in the mapped file.
    pub offset: u64,
    pub inode: u64,
    pub kind: MappingKind,
}

/// What backs a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingKind {
    /// A file, by the path the target sees (possibly ending in " (deleted)").
    File(PathBuf),
    /// The kernel's vDSO, whose image is read from the target's memory.
    Vdso,
    /// Anonymous memory or another pseudo-file (JIT code, `[vsyscall]`, ...).
    Other(String),
}

impl Mapping {
    /// The name to show for the module.
    pub fn display_path(&self) -> String {
        match &self.kind {
            MappingKind::File(p) => {
                crate::tracer::text::from_bytes(p.as_os_str().as_encoded_bytes())
            }
            MappingKind::Vdso => "[vdso]".into(),
            MappingKind::Other(s) => crate::tracer::text::inert(s).into_owned(),
        }
    }
}

/// The executable mappings of one process, sorted by address.
#[derive(Debug, Clone, Default)]
pub struct MemoryMaps {
    maps: Vec<Mapping>,
    /// File-backed mappings nobody can write to (code, unwind tables): their bytes do not
    /// change while we look, so copies of them may be kept across threads.
    read_only: Vec<(u64, u64)>,
    /// Every mapping's range, sorted: where a thread's stack ends, for the stack copy.
    regions: Vec<(u64, u64)>,
}

impl MemoryMaps {
    /// Maps put together by another source than `/proc` (a core file's segments and file
    /// notes): the executable mappings, the read-only file ranges and every range.
    pub fn from_parts(
        mut maps: Vec<Mapping>,
        mut read_only: Vec<(u64, u64)>,
        mut regions: Vec<(u64, u64)>,
    ) -> MemoryMaps {
        maps.sort_by_key(|m| m.start);
        read_only.sort_unstable();
        regions.sort_unstable();
        MemoryMaps {
            maps,
            read_only,
            regions,
        }
    }

    /// Reads `/proc/PID/maps`, keeping the executable mappings.
    pub fn read(pid: i32) -> Result<MemoryMaps> {
        let proc = ProcProcess::new(pid).map_err(|e| proc_error(pid, "maps", e))?;
        let all = proc.maps().map_err(|e| proc_error(pid, "maps", e))?;
        let mut read_only: Vec<(u64, u64)> = all
            .iter()
            .filter(|m| {
                matches!(m.pathname, MMapPath::Path(_)) && !m.perms.contains(MMPermissions::WRITE)
            })
            .map(|m| m.address)
            .collect();
        read_only.sort_unstable();
        let mut regions: Vec<(u64, u64)> = all.iter().map(|m| m.address).collect();
        regions.sort_unstable();
        let mut maps: Vec<Mapping> = all
            .into_iter()
            .filter(|m| m.perms.contains(MMPermissions::EXECUTE))
            .map(|m| Mapping {
                start: m.address.0,
                end: m.address.1,
                offset: m.offset,
                inode: m.inode,
                kind: match m.pathname {
                    MMapPath::Path(p) => MappingKind::File(p),
                    MMapPath::Vdso => MappingKind::Vdso,
                    MMapPath::Anonymous => MappingKind::Other(String::new()),
                    other => MappingKind::Other(format!("{other:?}")),
                },
            })
            .collect();
        maps.sort_by_key(|m| m.start);
        Ok(MemoryMaps {
            maps,
            read_only,
            regions,
        })
    }

    /// The read-only file-backed ranges, sorted.
    pub fn read_only(&self) -> &[(u64, u64)] {
        &self.read_only
    }

    /// The range of the mapping (of any kind) that contains `addr`.
    pub fn region(&self, addr: u64) -> Option<(u64, u64)> {
        let i = self.regions.partition_point(|r| r.0 <= addr);
        let r = *self.regions.get(i.checked_sub(1)?)?;
        (addr < r.1).then_some(r)
    }

    /// Every executable mapping, by address.
    pub fn iter(&self) -> impl Iterator<Item = &Mapping> {
        self.maps.iter()
    }

    /// The mapping that contains `addr`.
    pub fn find(&self, addr: u64) -> Option<&Mapping> {
        let i = self.maps.partition_point(|m| m.start <= addr);
        let m = self.maps.get(i.checked_sub(1)?)?;
        (addr < m.end).then_some(m)
    }
}
