//! Where a Go binary's runtime keeps its goroutines: `runtime.allgs` and the status and
//! wait-reason names (`.symtab`, else candidates from its code and data), the `runtime.g`
//! field offsets (DWARF, else a table per Go version) and the Go version (`.go.buildinfo`).

use std::borrow::Cow;

use object::{Object, ObjectSection, ObjectSymbol};

use super::gopclntab::GoTable;
use crate::tracer::golang::gostripped;

/// Most DWARF we inflate to find three structures (a large Go binary's is ~100 MiB).
const MAX_DWARF: u64 = 256 << 20;

/// Field offsets in `runtime.g`, `runtime.gobuf` (inside `g.sched`) and `runtime.m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoLayout {
    pub goid: u64,
    pub status: u64,
    pub wait_reason: u64,
    pub wait_since: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub syscall_sp: u64,
    pub syscall_pc: u64,
    pub m: u64,
    pub m_procid: u64,
}

/// What a goroutine listing needs of one Go binary, in the module's own addresses.
#[derive(Debug, Clone, Default)]
pub struct GoRuntime {
    /// `runtime.allgs`, a `[]*g`.
    pub allgs: Option<u64>,
    /// Without `.symtab`: where `runtime.allgs` may be, for the live process to tell.
    pub allgs_candidates: Vec<u64>,
    /// `runtime.waitReasonStrings` and `runtime.gStatusStrings`: (address, count) of `[N]string`.
    pub wait_reasons: Option<(u64, u64)>,
    pub statuses: Option<(u64, u64)>,
    pub layout: Option<GoLayout>,
    /// Where `layout` came from: "DWARF" or "the go1.19 table".
    pub layout_from: Cow<'static, str>,
    /// e.g. "go1.19.8".
    pub version: Option<String>,
}

impl GoRuntime {
    /// Reads what `file` (a Go binary whose `.gopclntab` is `table`) says about its runtime.
    pub fn read(file: &object::File<'_>, table: &GoTable) -> GoRuntime {
        let mut rt = GoRuntime {
            version: build_version(file),
            ..GoRuntime::default()
        };
        for s in file.symbols() {
            let slot = match s.name_bytes() {
                Ok(b"runtime.allgs") => {
                    rt.allgs = Some(s.address());
                    continue;
                }
                Ok(b"runtime.waitReasonStrings") => &mut rt.wait_reasons,
                Ok(b"runtime.gStatusStrings") => &mut rt.statuses,
                _ => continue,
            };
            *slot = Some((s.address(), s.size() / 16));
        }
        // A stripped binary: the symbols' addresses are found from what uses them.
        if file.symbol_table().is_none() {
            rt.allgs_candidates = gostripped::allgs_candidates(file, table);
            rt.wait_reasons = gostripped::wait_reason_table(file);
        }
        if let Some(layout) = from_dwarf(file) {
            rt.layout = Some(layout);
            rt.layout_from = Cow::Borrowed("DWARF");
        } else if let Some(v) = &rt.version
            && let Some(layout) = for_version(v)
        {
            rt.layout = Some(layout);
            rt.layout_from = Cow::Owned(format!("the {} table", minor(v).unwrap_or(v)));
        }
        rt
    }
}

/// The Go version a binary was built with, from its `.go.buildinfo` (Go 1.18+ layout: the
/// version inline, after a 32-byte header).
pub fn build_version(file: &object::File<'_>) -> Option<String> {
    let data = file.section_by_name(".go.buildinfo")?.data().ok()?;
    if data.get(..14)? != b"\xff Go buildinf:" || data.get(15)? & 2 == 0 {
        return None;
    }
    let mut p = data.get(32..)?;
    let mut len = 0usize;
    for shift in (0..28).step_by(7) {
        let (&b, rest) = p.split_first()?;
        p = rest;
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    let v = std::str::from_utf8(p.get(..len.min(64))?).ok()?;
    (v.starts_with("go") && v.bytes().all(|b| b.is_ascii_graphic())).then(|| v.to_string())
}

/// "go1.19.8" -> "go1.19".
fn minor(version: &str) -> Option<&str> {
    let dots: Vec<usize> = version.match_indices('.').map(|(i, _)| i).collect();
    Some(match dots.get(1) {
        Some(&second) => &version[..second],
        None => version,
    })
}

/// `runtime.g` from Go 1.19 to 1.22 (go1.19.8, go1.21.13 and go1.22.10 read from DWARF;
/// go1.20, which no toolchain here builds, between two that agree).
const G_119: GoLayout = GoLayout {
    goid: 152,
    status: 144,
    wait_reason: 176,
    wait_since: 168,
    sched_sp: 56,
    sched_pc: 64,
    syscall_sp: 112,
    syscall_pc: 120,
    m: 48,
    m_procid: 72,
};

/// Go 1.23 and 1.24 (go1.23.9, go1.24.11): `g.syscallbp` moves the fields after it by 8.
const G_123: GoLayout = GoLayout {
    goid: 160,
    status: 152,
    wait_reason: 184,
    wait_since: 176,
    ..G_119
};

/// Go 1.25 to 1.27 (go1.25.5, go1.26.6, go1.27.3): `gobuf.ret` gone (from `g` and `m.morebuf`).
const G_125: GoLayout = GoLayout {
    syscall_sp: 104,
    syscall_pc: 112,
    m_procid: 64,
    ..G_119
};

/// The layout of each Go version supported without DWARF.
const TABLES: [(&str, GoLayout); 9] = [
    ("go1.19", G_119),
    ("go1.20", G_119),
    ("go1.21", G_119),
    ("go1.22", G_119),
    ("go1.23", G_123),
    ("go1.24", G_123),
    ("go1.25", G_125),
    ("go1.26", G_125),
    ("go1.27", G_125),
];

/// The table of a Go version ("go1.24.3"); none for another version.
fn for_version(version: &str) -> Option<GoLayout> {
    let minor = minor(version)?;
    TABLES.iter().find(|(v, _)| *v == minor).map(|(_, l)| *l)
}

/// The layout from the binary's DWARF: the member offsets of `runtime.g`, `runtime.gobuf`
/// and `runtime.m`.
pub fn from_dwarf(file: &object::File<'_>) -> Option<GoLayout> {
    use gimli::SectionId::{DebugAbbrev, DebugInfo, DebugStr};
    let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
        // Only what names and member offsets need: no line or location tables are inflated.
        let wanted = matches!(id, DebugAbbrev | DebugInfo | DebugStr);
        let Some(section) = file.section_by_name(id.name()).filter(|_| wanted) else {
            return Ok(Cow::Borrowed(&[]));
        };
        let claimed = section
            .compressed_file_range()
            .map(|r| r.uncompressed_size)
            .unwrap_or(0);
        if claimed > MAX_DWARF {
            return Err(gimli::Error::Io);
        }
        section.uncompressed_data().map_err(|_| gimli::Error::Io)
    };
    let sections = gimli::DwarfSections::load(load).ok()?;
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, gimli::LittleEndian));
    let [g, gobuf, m] = runtime_members(&dwarf);
    let (g, gobuf, m) = (g?, gobuf?, m?);
    let at =
        |list: &[(String, u64)], name: &str| list.iter().find(|(n, _)| n == name).map(|(_, o)| *o);
    let sched = at(&g, "sched")?;
    Some(GoLayout {
        goid: at(&g, "goid")?,
        status: at(&g, "atomicstatus")?,
        wait_reason: at(&g, "waitreason")?,
        wait_since: at(&g, "waitsince")?,
        sched_sp: sched.checked_add(at(&gobuf, "sp")?)?,
        sched_pc: sched.checked_add(at(&gobuf, "pc")?)?,
        syscall_sp: at(&g, "syscallsp")?,
        syscall_pc: at(&g, "syscallpc")?,
        m: at(&g, "m")?,
        m_procid: at(&m, "procid")?,
    })
}

/// The members of one struct type: names and offsets.
type Members = Vec<(String, u64)>;

/// The members of `runtime.g`, `runtime.gobuf` and `runtime.m` (in that order), as the
/// "runtime" units of `dwarf` declare them; at most 1024 each.
fn runtime_members(
    dwarf: &gimli::Dwarf<gimli::EndianSlice<'_, gimli::LittleEndian>>,
) -> [Option<Members>; 3] {
    let mut found: [Option<Members>; 3] = Default::default();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        // The entries alone: a full unit would parse its line program too.
        let Ok(abbrevs) = dwarf.abbreviations(&header) else {
            continue;
        };
        let mut entries = header.entries(&abbrevs);
        let string = |v: gimli::AttributeValue<_>| match v {
            gimli::AttributeValue::String(s) => Some(s),
            gimli::AttributeValue::DebugStrRef(o) => dwarf.debug_str.get_str(o).ok(),
            _ => None,
        };
        // Go's linker puts each type in the unit of its package: only "runtime" is read.
        let is_runtime = match entries.next_dfs() {
            Ok(Some(root)) => root
                .attr_value(gimli::DW_AT_name)
                .and_then(string)
                .is_some_and(|n| n.slice() == b"runtime"),
            _ => false,
        };
        if !is_runtime {
            continue;
        }
        let mut current: Option<(usize, Members)> = None;
        while let Ok(Some(entry)) = entries.next_dfs() {
            let depth = entry.depth();
            if depth <= 1
                && let Some((which, members)) = current.take()
            {
                found[which] = Some(members);
            }
            let name = || -> Option<String> {
                let v = entry.attr_value(gimli::DW_AT_name)?;
                let s = string(v)?;
                Some(String::from_utf8_lossy(&s).into_owned())
            };
            match entry.tag() {
                gimli::DW_TAG_structure_type if depth == 1 => {
                    let which = match name().as_deref() {
                        Some("runtime.g") => 0,
                        Some("runtime.gobuf") => 1,
                        Some("runtime.m") => 2,
                        _ => continue,
                    };
                    if found[which].is_none() {
                        current = Some((which, Vec::new()));
                    }
                }
                gimli::DW_TAG_member if depth == 2 => {
                    if let Some((_, members)) = &mut current
                        && members.len() < 1024
                        && let Some(n) = name()
                        && let Some(v) = entry.attr_value(gimli::DW_AT_data_member_location)
                        && let Some(off) = v.udata_value()
                    {
                        members.push((n, off));
                    }
                }
                _ => {}
            }
        }
        if let Some((which, members)) = current.take() {
            found[which] = Some(members);
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found
}

/// The layout of the Go binary at `path` from its DWARF, and from the table of its version:
/// for the test that holds the tables true.
#[doc(hidden)]
pub fn layouts_of(path: &std::path::Path) -> (Option<GoLayout>, Option<GoLayout>) {
    let Ok(data) = std::fs::read(path) else {
        return (None, None);
    };
    let Ok(file) = object::File::parse(&*data) else {
        return (None, None);
    };
    let table = build_version(&file).and_then(|v| for_version(&v));
    (from_dwarf(&file), table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_tables() {
        assert_eq!(minor("go1.19.8"), Some("go1.19"));
        assert_eq!(minor("go1.27"), Some("go1.27"));
        assert_eq!(for_version("go1.19.13"), Some(G_119));
        assert_eq!(for_version("go1.24.1"), Some(G_123));
        assert_eq!(for_version("go1.27"), Some(G_125));
        assert!(for_version("go1.18.1").is_none());
        assert!(for_version("go1.28").is_none());
    }
}
