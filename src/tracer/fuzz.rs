//! Hidden entry points for the mutation fuzzer (tests/hostile.rs, scripts/fuzz.sh): each runs
//! the real parsing code on bytes a hostile process could map — symbol tables and unwind-table
//! discovery, build-id/debuglink/MiniDebugInfo, DWARF lines — and a few lookups in the result.
//! Not an API: the caller only learns how much was found, so the work cannot be optimized away.

use object::{Object, ObjectSection, ObjectSymbol};

use crate::tracer::failures::ModuleProblem;
use crate::tracer::procfs::targetfs::TargetFs;
use crate::tracer::symbolize::debuginfo::{self, DebugLookup};
use crate::tracer::symbolize::filebytes::FileBytes;
use crate::tracer::symbolize::lines::ModuleLines;
use crate::tracer::symbolize::symbols::ModuleSymbols;

/// Largest MiniDebugInfo the fuzzer lets a mutated file decompress: the real cap allows more,
/// and a mutated length field must not turn every run into a 64 MiB allocation.
const FUZZ_MAX_XZ: usize = 4 << 20;

/// Addresses to look up in a module: its symbols' and sections' starts (where real lookups
/// land) and a few arbitrary ones.
fn probe_addresses(data: &[u8]) -> Vec<u64> {
    let mut addrs = vec![0, 1, 0x1000, u64::MAX, u64::MAX / 2];
    if let Ok(file) = object::File::parse(data) {
        addrs.extend(file.symbols().take(16).map(|s| s.address()));
        addrs.extend(file.dynamic_symbols().take(8).map(|s| s.address()));
        addrs.extend(file.sections().take(16).map(|s| s.address()));
    }
    addrs.extend(addrs.clone().iter().map(|a| a.wrapping_add(3)));
    addrs
}

/// Symbol tables, unwind-table header and load segments; then lookups and the bias of a
/// few plausible mappings. Returns how many lookups found a symbol.
#[doc(hidden)]
pub fn symbols(data: &[u8]) -> usize {
    let mut ms = ModuleSymbols::parse(data);
    let mut found = 0;
    for addr in probe_addresses(data) {
        if let Some((index, _)) = ms.lookup(addr) {
            found += 1;
            found += ms.demangled(index).len().min(1);
        }
        for offset in [0, 0x1000, addr & !0xfff] {
            found += usize::from(ms.bias(0x7f00_0000_0000, offset).is_some());
        }
    }
    found
}

/// Build-id, `.gnu_debuglink` and MiniDebugInfo parsing, and the whole separate-debuginfo
/// search (in directories that do not exist, so no real file is read). Returns the number of
/// facts found.
#[doc(hidden)]
pub fn debuginfo(data: &[u8]) -> usize {
    let Ok(file) = object::File::parse(data) else {
        return 0;
    };
    let mut found = 0;
    if let Ok(Some(id)) = file.build_id() {
        found += 1;
        if id.len() >= 2 {
            found += debuginfo::build_id_path(id).as_os_str().len().min(1);
        }
        let problem = ModuleProblem::NoDebuginfo {
            build_id: Some(id.to_vec()),
        };
        found += problem.to_string().len().min(1);
    }
    if let Ok(Some((name, crc))) = file.gnu_debuglink() {
        found += 1 + name.len().min(1) + usize::from(crc != 0);
    }
    if let Some(mini) = file.section_by_name(".gnu_debugdata")
        && let Ok(bytes) = mini.data()
        && let Some(inner) = debuginfo::decompress_xz(bytes, FUZZ_MAX_XZ)
    {
        found += 1 + symbols(&inner).min(1);
    }
    // /proc/0 does not exist: the search touches no real debug directory.
    let fs = TargetFs::new(0);
    let lookup = DebugLookup {
        fs: &fs,
        module_path: std::path::Path::new("/nonexistent/fuzz/module.so"),
        dirs: &[],
    };
    found += usize::from(debuginfo::find(&file, &lookup).is_some());
    found
}

/// DWARF loading (as for source lines) and frame lookups at the probe addresses. Returns the
/// number of frames found.
#[doc(hidden)]
pub fn lines(data: &[u8]) -> usize {
    let Ok(file) = object::File::parse(data) else {
        return 0;
    };
    // With the file's bytes, as a trace loads it: uncompressed sections in place, compressed
    // ones inflated as far as the lookups reach.
    let bytes = FileBytes::from(data.to_vec());
    let Ok(lines) = ModuleLines::load(
        &file,
        Some(&bytes),
        &mut crate::tracer::symbolize::lines::MAX_INFLATED_TOTAL.clone(),
    ) else {
        return 0;
    };
    probe_addresses(data)
        .into_iter()
        .map(|addr| lines.frames(addr).len())
        .sum()
}
