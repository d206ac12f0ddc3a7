//! Source lines and inline frames from DWARF, with the `addr2line` crate (gimli), cached with
//! the module's symbols, from the module's own DWARF or, when it has none, its separate
//! debuginfo (found like its symbols, see [`crate::tracer::symbolize::debuginfo`]).
//!
//! A stack touches a handful of a module's compilation units, and glibc's debug file has
//! about two thousand: where `.debug_aranges` says which unit holds an address, only that unit
//! is parsed (an `addr2line` context over just its bytes). A whole-module context is the
//! fallback for addresses the ranges do not cover and for units that refer outside themselves.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use object::{Object, ObjectSection};

use crate::tracer::model::Location;
use crate::tracer::symbolize::demangle::demangle;
use crate::tracer::symbolize::filebytes::{FileBytes, Inflater};
use crate::tracer::symbolize::symbols::MAX_NAME;
use crate::tracer::text;

type Reader = gimli::EndianReader<gimli::RunTimeEndian, FileBytes>;

type Context = addr2line::Context<Reader>;

/// A DWARF section: ready, or (zlib-compressed `.debug_info`, `.debug_abbrev` and
/// `.debug_line`, read from the front) inflated only as far as lookups reach.
enum Section {
    Ready(Reader),
    Lazy(RefCell<Inflater>),
}

/// Sections worth inflating lazily: big, and read from where a unit's offsets point.
const LAZY: [gimli::SectionId; 3] = [
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugLine,
];

/// Most bytes one module's compressed DWARF sections may claim to inflate to, together: a
/// 128 KiB zstd section can claim 4 GiB, and zlib expands up to 1032 times. Real modules stay
/// far below it (glibc's debug file claims 12 MiB of the sections read here).
pub(crate) const MAX_INFLATED: u64 = 256 << 20;

/// Most all modules of one tracer may claim together (their DWARF lives as long as it).
pub(crate) const MAX_INFLATED_TOTAL: u64 = 1 << 30;

/// Why a module's DWARF was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoLines {
    /// None, or none we could read.
    Missing,
    /// Its compressed sections claim more than [`MAX_INFLATED`], or more than is left of
    /// the tracer's [`MAX_INFLATED_TOTAL`].
    TooLarge { claimed: u64 },
}

/// The DWARF of one module, ready for lookups.
pub(crate) struct ModuleLines {
    sections: Vec<(gimli::SectionId, Section)>,
    endian: gimli::RunTimeEndian,
    /// From `.debug_aranges`: (begin, end, offset of the unit in `.debug_info`), by begin.
    aranges: Vec<(u64, u64, usize)>,
    /// A context per unit offset, built on first use (`None`: the unit cannot stand alone).
    units: RefCell<HashMap<usize, Option<Context>>>,
    /// The whole module's context, built only when needed (`None` inside: it failed).
    whole: RefCell<Option<Option<Context>>>,
    /// What the compressed sections claimed, charged to the tracer's budget at load (and
    /// given back when these lines are dropped).
    pub(crate) claimed: u64,
}

impl std::fmt::Debug for ModuleLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModuleLines")
    }
}

/// One function at an address: an inlined one (innermost first) or, last, the physical one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineFrame {
    /// The function's demangled name (made inert), when DWARF names it.
    pub name: Option<String>,
    /// Its linkage or DWARF name as recorded (made inert).
    pub raw_name: Option<String>,
    /// The address's line in this function (for outer functions: the inlined call's line).
    pub location: Option<Location>,
}

/// The sections lookups read. Locations of variables, macros and type units are never looked
/// at; skipping them saves inflating megabytes (glibc's `.debug_loclists` alone is 3 MiB).
pub(crate) const SECTIONS: [gimli::SectionId; 10] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugAranges,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
];

/// Inflates the compressed sections that are not inflated lazily (the small ones, and any
/// compressed with zstd), the biggest on a thread of its own when it is big.
fn inflate_all(
    mut sections: Vec<(gimli::SectionId, object::CompressedData<'_>)>,
) -> Vec<(gimli::SectionId, FileBytes)> {
    let inflate = |list: Vec<(gimli::SectionId, object::CompressedData<'_>)>| {
        list.into_iter()
            .map(|(id, data)| {
                let bytes = data.decompress().map(Cow::into_owned).unwrap_or_default();
                (id, FileBytes::from(bytes))
            })
            .collect::<Vec<_>>()
    };
    sections.sort_by_key(|(_, data)| std::cmp::Reverse(data.uncompressed_size));
    const WORTH_A_THREAD: u64 = 1 << 20;
    if sections.len() < 2 || sections[0].1.uncompressed_size < WORTH_A_THREAD {
        return inflate(sections);
    }
    let rest = sections.split_off(1);
    std::thread::scope(|scope| {
        let biggest = scope.spawn(|| inflate(sections));
        let mut out = inflate(rest);
        // A panic in the helper (it has none of its own) would be a bug: lose the section.
        out.extend(biggest.join().unwrap_or_default());
        out
    })
}

/// What the compressed sections read here claim to inflate to, in all (a lie is bounded
/// all the same: nothing inflates past its claim).
fn claimed_size(file: &object::File<'_>) -> u64 {
    SECTIONS
        .iter()
        .filter_map(|id| {
            file.section_by_name(id.name())?
                .compressed_file_range()
                .ok()
        })
        .filter(|r| r.format != object::CompressionFormat::None)
        .map(|r| r.uncompressed_size)
        .fold(0, u64::saturating_add)
}

/// True when `file` carries DWARF debug info (a `.debug_info` section with content).
pub(crate) fn has_dwarf(file: &object::File<'_>) -> bool {
    file.section_by_name(".debug_info")
        .or_else(|| file.section_by_name(".zdebug_info"))
        .is_some_and(|s| s.size() > 0)
}

impl ModuleLines {
    /// Loads the DWARF sections of `file`. `bytes`, when given, are the bytes `file` was parsed
    /// from: uncompressed sections are then used in place, and zlib-compressed `.debug_info`,
    /// `.debug_abbrev` and `.debug_line` inflated as far as lookups reach; without them every
    /// section is copied out (inflated whole).
    ///
    /// Nothing is inflated unless the sizes the compressed sections claim add up to no more
    /// than [`MAX_INFLATED`] and `budget` (what the tracer has left), which is then charged.
    pub(crate) fn load(
        file: &object::File<'_>,
        bytes: Option<&FileBytes>,
        budget: &mut u64,
    ) -> Result<ModuleLines, NoLines> {
        if !has_dwarf(file) {
            return Err(NoLines::Missing);
        }
        let claimed = claimed_size(file);
        if claimed > MAX_INFLATED.min(*budget) {
            return Err(NoLines::TooLarge { claimed });
        }
        *budget -= claimed;
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let mut sections = Vec::new();
        let mut compressed = Vec::new();
        for id in SECTIONS {
            let Some(section) = file.section_by_name(id.name()) else {
                continue;
            };
            let in_place = bytes
                .zip(section.compressed_file_range().ok())
                .and_then(|(b, r)| {
                    let start = usize::try_from(r.offset).ok()?;
                    let end = start.checked_add(usize::try_from(r.uncompressed_size).ok()?)?;
                    (r.format == object::CompressionFormat::None && end <= b.len())
                        .then(|| gimli::EndianReader::new(b.clone(), endian).range(start..end))
                });
            let lazy = bytes
                .zip(section.compressed_file_range().ok())
                .filter(|(_, r)| r.format == object::CompressionFormat::Zlib && LAZY.contains(&id))
                .and_then(|(b, r)| {
                    let start = usize::try_from(r.offset).ok()?;
                    let end = start.checked_add(usize::try_from(r.compressed_size).ok()?)?;
                    let size = usize::try_from(r.uncompressed_size).ok()?;
                    Inflater::new(b.clone(), start, end, size)
                });
            match (in_place, lazy) {
                (Some(reader), _) => {
                    if gimli::Reader::len(&reader) > 0 {
                        sections.push((id, Section::Ready(reader)));
                    }
                }
                (None, Some(inflater)) => sections.push((id, Section::Lazy(inflater.into()))),
                (None, None) => {
                    if let Ok(data) = section.compressed_data() {
                        compressed.push((id, data));
                    }
                }
            }
        }
        for (id, data) in inflate_all(compressed) {
            if !data.is_empty() {
                sections.push((id, Section::Ready(gimli::EndianReader::new(data, endian))));
            }
        }
        let mut lines = ModuleLines {
            sections,
            endian,
            aranges: Vec::new(),
            units: RefCell::default(),
            whole: RefCell::default(),
            claimed,
        };
        lines.aranges = lines.read_aranges();
        if lines.aranges.is_empty() {
            // rustc writes no .debug_aranges: read each unit's ranges from its root entry.
            lines.aranges = lines.unit_ranges();
        }
        Ok(lines)
    }

    fn find(&self, id: gimli::SectionId) -> Option<&Section> {
        self.sections.iter().find(|(s, _)| *s == id).map(|(_, s)| s)
    }

    /// A whole section (empty if the module has none).
    fn section(&self, id: gimli::SectionId) -> Reader {
        self.prefix(id, usize::MAX)
    }

    /// A section at least up to offset `upto` (all of it if it is not inflated lazily).
    fn prefix(&self, id: gimli::SectionId, upto: usize) -> Reader {
        match self.find(id) {
            Some(Section::Ready(r)) => r.clone(),
            Some(Section::Lazy(inflater)) => {
                gimli::EndianReader::new(inflater.borrow_mut().upto(upto), self.endian)
            }
            None => gimli::EndianReader::new(FileBytes::from(Vec::new()), self.endian),
        }
    }

    /// (inflated so far, whole size) of a lazily inflated section.
    #[cfg(test)]
    fn inflated(&self, id: gimli::SectionId) -> Option<(usize, usize)> {
        match self.find(id) {
            Some(Section::Lazy(inflater)) => Some(inflater.borrow().progress()),
            _ => None,
        }
    }

    /// A `Dwarf` over the module's sections.
    fn dwarf(&self) -> Option<gimli::Dwarf<Reader>> {
        gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> { Ok(self.section(id)) }).ok()
    }

    /// A `Dwarf` over one unit: `info` holds just that unit, `abbrev` and `line` reach past
    /// its tables; there are no `.debug_aranges`, whose offsets are the whole section's.
    fn unit_dwarf(
        &self,
        info: &Reader,
        abbrev: &Reader,
        line: &Reader,
    ) -> Option<gimli::Dwarf<Reader>> {
        use gimli::SectionId as S;
        gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
            Ok(match id {
                S::DebugInfo => info.clone(),
                S::DebugAbbrev => abbrev.clone(),
                S::DebugLine => line.clone(),
                S::DebugAranges => info.range(0..0),
                _ => self.section(id),
            })
        })
        .ok()
    }

    /// `.debug_abbrev` far enough to hold the whole table at `offset`.
    fn abbrev_prefix(&self, offset: usize) -> Reader {
        // A unit's table is a few KiB; grow what follows the offset until the table parses.
        let mut extra: usize = 16 << 10;
        loop {
            let want = offset.saturating_add(extra);
            let abbrev = self.prefix(gimli::SectionId::DebugAbbrev, want);
            let parsed = gimli::DebugAbbrev::from(abbrev.clone())
                .abbreviations(gimli::DebugAbbrevOffset(offset))
                .is_ok();
            // Short of `want`: the section ends there, there is no more to inflate.
            if parsed || gimli::Reader::len(&abbrev) < want || want == usize::MAX {
                return abbrev;
            }
            extra = extra.saturating_mul(2);
        }
    }

    /// Section `id` far enough to hold the whole unit (or line program) at `offset`, by the
    /// initial length field it starts with; all of it when that cannot be read.
    fn through_unit(&self, id: gimli::SectionId, offset: usize) -> Reader {
        use gimli::Reader as _;
        let head = self.prefix(id, offset.saturating_add(12));
        let end = (|| -> gimli::Result<usize> {
            let mut r = head.clone();
            r.skip(offset)?;
            let (length, size) = match r.read_u32()? {
                0xffff_ffff => (r.read_u64()?, 12),
                n => (u64::from(n), 4),
            };
            Ok(offset
                .saturating_add(size)
                .saturating_add(usize::try_from(length).unwrap_or(usize::MAX)))
        })();
        self.prefix(id, end.unwrap_or(usize::MAX))
    }

    fn read_aranges(&self) -> Vec<(u64, u64, usize)> {
        let aranges = gimli::DebugAranges::from(self.section(gimli::SectionId::DebugAranges));
        let mut out = Vec::new();
        let mut headers = aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = header.debug_info_offset().0;
            let mut entries = header.entries();
            while let Ok(Some(entry)) = entries.next() {
                let (begin, len) = (entry.address(), entry.length());
                if let Some(end) = begin.checked_add(len).filter(|_| len > 0) {
                    out.push((begin, end, unit));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Each unit's address ranges from its root entry's `DW_AT_low_pc`, `DW_AT_high_pc` and
    /// `DW_AT_ranges`: much cheaper than setting up every unit (which parses its line program
    /// header too). A unit whose ranges take more than this to read is left out, and its
    /// addresses go to the whole-module context.
    fn unit_ranges(&self) -> Vec<(u64, u64, usize)> {
        let Some(dwarf) = self.dwarf() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut headers = dwarf.debug_info.units();
        while let Ok(Some(header)) = headers.next() {
            let Some(offset) = header.debug_info_offset() else {
                continue;
            };
            let _ = Self::root_ranges(&dwarf, &header, offset.0, &mut out);
        }
        out.sort_unstable();
        out
    }

    fn root_ranges(
        dwarf: &gimli::Dwarf<Reader>,
        header: &gimli::UnitHeader<Reader>,
        offset: usize,
        out: &mut Vec<(u64, u64, usize)>,
    ) -> gimli::Result<()> {
        use gimli::AttributeValue as V;
        let abbreviations = dwarf.abbreviations(header)?;
        let mut entries = header.entries_raw(&abbreviations, None)?;
        let Some(abbrev) = entries.read_abbreviation()? else {
            return Ok(());
        };
        let (mut low, mut high, mut size, mut ranges) = (None, None, None, None);
        for spec in abbrev.attributes() {
            let attr = entries.read_attribute(*spec)?;
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_low_pc, V::Addr(a)) => low = Some(a),
                (gimli::DW_AT_high_pc, V::Addr(a)) => high = Some(a),
                (gimli::DW_AT_high_pc, V::Udata(n)) => size = Some(n),
                (gimli::DW_AT_ranges, V::RangeListsRef(r)) => {
                    ranges = Some(gimli::RangeListsOffset(r.0));
                }
                (gimli::DW_AT_ranges, V::SecOffset(r)) => ranges = Some(gimli::RangeListsOffset(r)),
                // Indexed forms need the unit's bases: left to the whole-module context.
                (gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges, _) => {
                    return Ok(());
                }
                _ => {}
            }
        }
        if let Some(ranges) = ranges {
            let mut iter = dwarf.ranges.ranges(
                ranges,
                header.encoding(),
                low.unwrap_or(0),
                &dwarf.debug_addr,
                gimli::DebugAddrBase(0),
            )?;
            while let Some(r) = iter.next()? {
                if r.begin < r.end {
                    out.push((r.begin, r.end, offset));
                }
            }
        } else if let Some(low) = low {
            let end = high.or_else(|| size.and_then(|n| low.checked_add(n)));
            if let Some(end) = end.filter(|&e| e > low) {
                out.push((low, end, offset));
            }
        }
        Ok(())
    }

    /// The unit whose ranges hold `vaddr`, by `.debug_aranges`.
    fn unit_of(&self, vaddr: u64) -> Option<usize> {
        let i = self.aranges.partition_point(|r| r.0 <= vaddr);
        // Ranges of different units may nest; look back over those that start before.
        self.aranges[..i]
            .iter()
            .rev()
            .take(8)
            .find(|r| vaddr < r.1)
            .map(|r| r.2)
    }

    /// A context over the single unit at `offset`, or `None` when it refers to other units
    /// (such references would not resolve in a context of its own bytes).
    fn unit_context(&self, offset: usize) -> Option<Context> {
        use gimli::SectionId as S;
        let info = self.through_unit(S::DebugInfo, offset);
        let header = gimli::DebugInfo::from(info.clone())
            .header_from_offset(gimli::DebugInfoOffset(offset))
            .ok()?;
        let end = offset.checked_add(header.length_including_self())?;
        if end > gimli::Reader::len(&info) {
            return None;
        }
        let info = info.range(offset..end);
        let abbrev = self.abbrev_prefix(header.debug_abbrev_offset().0);
        let no_lines = info.range(0..0);
        let dwarf = self.unit_dwarf(&info, &abbrev, &no_lines)?;
        let unit = dwarf.debug_info.units().next().ok()??;
        let abbreviations = dwarf.abbreviations(&unit).ok()?;
        let line = match Self::stmt_list(&unit, &abbreviations) {
            Some(at) => self.through_unit(S::DebugLine, at),
            None => no_lines,
        };
        let dwarf = self.unit_dwarf(&info, &abbrev, &line)?;
        // Abbreviation codes are numbered from 1, consecutively as compilers write them.
        for code in 1.. {
            let Some(abbrev) = abbreviations.get(code) else {
                break;
            };
            let outside = abbrev.attributes().iter().any(|spec| {
                matches!(
                    spec.form(),
                    gimli::DW_FORM_ref_addr
                        | gimli::DW_FORM_GNU_ref_alt
                        | gimli::DW_FORM_ref_sup4
                        | gimli::DW_FORM_ref_sup8
                        | gimli::DW_FORM_GNU_strp_alt
                        | gimli::DW_FORM_strp_sup
                )
            });
            if outside {
                return None;
            }
        }
        addr2line::Context::from_dwarf(dwarf).ok()
    }

    /// Where the unit's line program is (its root entry's `DW_AT_stmt_list`).
    fn stmt_list(
        unit: &gimli::UnitHeader<Reader>,
        abbreviations: &gimli::Abbreviations,
    ) -> Option<usize> {
        let mut entries = unit.entries_raw(abbreviations, None).ok()?;
        let abbrev = entries.read_abbreviation().ok()??;
        let mut at = None;
        for spec in abbrev.attributes() {
            let attr = entries.read_attribute(*spec).ok()?;
            if attr.name() == gimli::DW_AT_stmt_list {
                at = match attr.value() {
                    gimli::AttributeValue::DebugLineRef(o) => Some(o.0),
                    gimli::AttributeValue::SecOffset(o) => Some(o),
                    _ => None,
                };
            }
        }
        at
    }

    /// The functions at `vaddr` (the module's own address): the inlined ones innermost first,
    /// then the physical function. Empty when DWARF does not cover the address.
    pub(crate) fn frames(&self, vaddr: u64) -> Vec<LineFrame> {
        // addr2line 0.27 computes `vaddr + 1` unchecked (a panic in debug builds), and a
        // hostile module's segment addresses can make a frame's address the very last one.
        if vaddr == u64::MAX {
            return Vec::new();
        }
        if let Some(offset) = self.unit_of(vaddr) {
            let mut units = self.units.borrow_mut();
            let unit = units
                .entry(offset)
                .or_insert_with(|| self.unit_context(offset));
            if let Some(context) = unit {
                return Self::frames_in(context, vaddr);
            }
        }
        let mut whole = self.whole.borrow_mut();
        let whole = whole.get_or_insert_with(|| addr2line::Context::from_dwarf(self.dwarf()?).ok());
        match whole {
            Some(context) => Self::frames_in(context, vaddr),
            None => Vec::new(),
        }
    }

    fn frames_in(context: &Context, vaddr: u64) -> Vec<LineFrame> {
        let Ok(mut iter) = context.find_frames(vaddr).skip_all_loads() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Ok(Some(frame)) = iter.next() {
            let raw = frame
                .function
                .as_ref()
                .and_then(|f| f.raw_name().ok().map(|n| n.into_owned()));
            // DWARF strings are as long as the module likes: bounded here, before they are
            // kept (in the line cache too).
            let location = frame.location.and_then(|l| {
                Some(Location {
                    file: text::inert_bounded(l.file?, MAX_NAME),
                    line: l.line.filter(|&n| n > 0)?,
                    column: l.column.filter(|&c| c > 0),
                })
            });
            out.push(LineFrame {
                name: raw
                    .as_deref()
                    .map(|r| text::inert_bounded(&demangle(r), MAX_NAME)),
                raw_name: raw.as_deref().map(|r| text::inert_bounded(r, MAX_NAME)),
                location,
            });
            if out.len() >= 256 {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use object::{Object, ObjectSymbol};

    use super::{FileBytes, ModuleLines};

    /// glibc's separate debug file, found by its build-id (`scripts/deps.sh` installs it).
    fn glibc_debug_file() -> FileBytes {
        let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let libc = object::File::parse(libc.as_slice()).unwrap();
        let id = libc.build_id().unwrap().expect("glibc has a build-id");
        let path = std::path::Path::new("/usr/lib/debug")
            .join(crate::tracer::symbolize::debuginfo::build_id_path(id));
        crate::tracer::procfs::targetfs::open_host(&path)
            .and_then(FileBytes::read)
            .unwrap_or_else(|e| panic!("{}: {e} (is libc6-dbg installed?)", path.display()))
    }

    /// Per-unit lookups give what a whole-module context gives, on glibc's debug file (about
    /// two thousand units; `scripts/deps.sh` installs it), at a few hundred function addresses.
    /// Lookups remembered for a window of addresses answer, from the cache, exactly what
    /// DWARF answers for each address in it (glibc's functions are full of inlined calls).
    #[test]
    fn a_remembered_window_answers_like_dwarf_at_every_address() {
        use crate::tracer::symbolize::filebytes::FileId;
        use crate::tracer::symbolize::linecache::LineCache;
        use crate::tracer::symbolize::linecache::tests::TempCache;
        let bytes = glibc_debug_file();
        let debug = object::File::parse(&*bytes).unwrap();
        let lines = ModuleLines::load(&debug, Some(&bytes), &mut u64::MAX.clone()).unwrap();
        let tmp = TempCache::new("lines-window");
        let file = FileId {
            dev: 0,
            ino: 1,
            size: 2,
            mtime_ns: 3,
            ctime_ns: 4,
        };
        let mut cache = LineCache::load(&tmp.dir, &file);
        let functions: Vec<(u64, u64)> = debug
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 200)
            .step_by(50)
            .map(|s| (s.address(), s.size()))
            .collect();
        assert!(functions.len() > 20, "{}", functions.len());
        let mut ranges = 0;
        for &(start, size) in &functions {
            let vaddr = start + size / 2;
            let (lo, hi) = (vaddr - 64, vaddr + 64);
            let answer = cache.remember(lo, hi, vaddr, |v| lines.frames(v));
            let show = |f: &[super::LineFrame]| format!("{f:?}");
            assert_eq!(show(&answer), show(&lines.frames(vaddr)));
            for v in lo..hi {
                let got = cache
                    .get(v)
                    .unwrap_or_else(|| panic!("{v:#x} not remembered"));
                assert_eq!(show(got), show(&lines.frames(v)), "at {v:#x}");
            }
            ranges += 1;
        }
        assert_eq!(ranges, functions.len());
        drop(cache);
    }

    #[test]
    fn unit_contexts_answer_like_the_whole_module() {
        let bytes = glibc_debug_file();
        let debug = object::File::parse(&*bytes).unwrap();
        // With the file's bytes, its compressed sections are inflated only as far as needed.
        let lines = ModuleLines::load(&debug, Some(&bytes), &mut u64::MAX.clone()).unwrap();
        assert!(lines.aranges.len() > 1000, "{} ranges", lines.aranges.len());
        let info = gimli::SectionId::DebugInfo;
        let (filled, total) = lines.inflated(info).expect(".debug_info is compressed");
        assert_eq!(filled, 0, "inflated at load");
        let mut addresses: Vec<u64> = debug
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 8)
            .step_by(20)
            .map(|s| s.address() + 4)
            .collect();
        assert!(addresses.len() > 200, "{}", addresses.len());
        // Units in section order, so each is read from a partly inflated section; addresses
        // no unit covers (the whole-module fallback inflates everything) last.
        addresses.sort_by_key(|&a| lines.unit_of(a).unwrap_or(usize::MAX));
        let first = addresses[0];
        let got_first = lines.frames(first);
        let (filled, _) = lines.inflated(info).unwrap();
        assert!(
            filled < total / 2,
            "the first unit inflated {filled} of {total} bytes"
        );
        let got: Vec<_> = std::iter::once(got_first)
            .chain(addresses[1..].iter().map(|&a| lines.frames(a)))
            .collect();
        let whole =
            addr2line::Context::from_dwarf(lines.dwarf().unwrap()).expect("a whole context");
        let mut by_unit = 0;
        for (&a, got) in addresses.iter().zip(&got) {
            let want = ModuleLines::frames_in(&whole, a);
            let show = |f: &Vec<super::LineFrame>| format!("{f:?}");
            assert_eq!(show(got), show(&want), "at {a:#x}");
            by_unit += usize::from(lines.unit_of(a).is_some());
        }
        // Most lookups went through a unit of their own, not the whole-module fallback.
        assert!(
            by_unit * 10 > addresses.len() * 9,
            "{by_unit} of {}",
            addresses.len()
        );
        assert!(lines.whole.borrow().is_some() || by_unit == addresses.len());
    }
}
