//! Source lines and inline frames from DWARF, with the `addr2line` crate (gimli). One
//! [`Context`] per module, built on the first lookup in it and cached with the module's
//! symbols, from the module's own DWARF or, when it has none, its separate debuginfo (found
//! like its symbols, see [`super::debuginfo`]).

use std::borrow::Cow;
use std::sync::Arc;

use object::{Object, ObjectSection};

use super::demangle::demangle;
use super::model::Location;
use crate::text;

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// The DWARF of one module, ready for lookups.
pub(super) struct ModuleLines {
    context: addr2line::Context<Reader>,
}

impl std::fmt::Debug for ModuleLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModuleLines")
    }
}

/// One function at an address: an inlined one (innermost first) or, last, the physical one.
#[derive(Debug)]
pub(super) struct LineFrame {
    /// The function's demangled name (made inert), when DWARF names it.
    pub name: Option<String>,
    /// Its linkage or DWARF name as recorded (made inert).
    pub raw_name: Option<String>,
    /// The address's line in this function (for outer functions: the inlined call's line).
    pub location: Option<Location>,
}

/// True when `file` carries DWARF debug info (a `.debug_info` section with content).
pub(super) fn has_dwarf(file: &object::File<'_>) -> bool {
    file.section_by_name(".debug_info")
        .or_else(|| file.section_by_name(".zdebug_info"))
        .is_some_and(|s| s.size() > 0)
}

impl ModuleLines {
    /// Loads the DWARF sections of `file` (copied out, so the file's bytes can be dropped).
    pub(super) fn load(file: &object::File<'_>) -> Option<ModuleLines> {
        if !has_dwarf(file) {
            return None;
        }
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
            // Locations of variables, macros and type units are never looked at; skipping
            // them saves inflating megabytes (glibc's .debug_loclists alone is 3 MiB).
            if matches!(
                id,
                gimli::SectionId::DebugLoc
                    | gimli::SectionId::DebugLocLists
                    | gimli::SectionId::DebugMacinfo
                    | gimli::SectionId::DebugMacro
                    | gimli::SectionId::DebugTypes
            ) {
                return Ok(gimli::EndianArcSlice::new(Arc::from(&[][..]), endian));
            }
            let data = file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or(Cow::Borrowed(&[]));
            Ok(gimli::EndianArcSlice::new(Arc::from(&*data), endian))
        };
        let dwarf = gimli::Dwarf::load(load).ok()?;
        let context = addr2line::Context::from_dwarf(dwarf).ok()?;
        Some(ModuleLines { context })
    }

    /// The functions at `vaddr` (the module's own address): the inlined ones innermost first,
    /// then the physical function. Empty when DWARF does not cover the address.
    pub(super) fn frames(&self, vaddr: u64) -> Vec<LineFrame> {
        // addr2line 0.27 computes `vaddr + 1` unchecked (a panic in debug builds), and a
        // hostile module's segment addresses can make a frame's address the very last one.
        if vaddr == u64::MAX {
            return Vec::new();
        }
        let Ok(mut iter) = self.context.find_frames(vaddr).skip_all_loads() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Ok(Some(frame)) = iter.next() {
            let raw = frame
                .function
                .as_ref()
                .and_then(|f| f.raw_name().ok().map(|n| n.into_owned()));
            let location = frame.location.and_then(|l| {
                Some(Location {
                    file: text::inert(l.file?).into_owned(),
                    line: l.line.filter(|&n| n > 0)?,
                    column: l.column.filter(|&c| c > 0),
                })
            });
            out.push(LineFrame {
                name: raw
                    .as_deref()
                    .map(|r| text::inert(&demangle(r)).into_owned()),
                raw_name: raw.as_deref().map(|r| text::inert(r).into_owned()),
                location,
            });
            if out.len() >= 256 {
                break;
            }
        }
        out
    }
}
