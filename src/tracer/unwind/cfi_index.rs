//! Search tables for modules that have call frame information but no `.eh_frame_hdr` (static
//! executables, whose `.eh_frame` is unindexed; C built without unwind tables and Go, which
//! have only `.debug_frame`), built once per module in the layout libunwind's remote table
//! search reads, and served to it from our memory at addresses no process can map.
//!
//! libunwind (1.6's `dwarf_search_unwind_table`) searches a table of (int32 start, int32 FDE)
//! pairs relative to a base (`segbase`), reading the table and the FDEs through our
//! `access_mem`. For `.eh_frame` the FDEs are the module's own, in the target's memory, and
//! only the table is ours. `.debug_frame` is not loaded by the program, so its entries are
//! rewritten in `.eh_frame` form ("zR" CIEs with pc-relative 64-bit FDE addresses, so the
//! image does not depend on where the module is loaded) and served with the table.
//!
//! Every image lives at a non-canonical address (bit 63 set, bits 47..62 not all set), which
//! no user-space mapping can have: its space's base (a multiple of 2^32) plus the run-time
//! address of the module's `.eh_frame` or lowest code. For `.debug_frame` that address is
//! also the table's base, so the int32 offsets from it keep their order and the pc-relative
//! FDE addresses hold wherever the module is loaded.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use gimli::{
    BaseAddresses, CallFrameInstruction, CieOrFde, CommonInformationEntry, EndianSlice,
    FrameDescriptionEntry, LittleEndian, Reader, UnwindSection,
};
use object::{Object, ObjectSection, ObjectSegment, SegmentFlags};

/// Where the images of tables over `.eh_frame` are placed: this plus the section's run-time
/// address.
pub(crate) const EH_FRAME_SPACE: u64 = 0x8000_0000_0000_0000;
/// Where converted `.debug_frame` images are placed: this plus the run-time address of the
/// module's lowest code.
pub(crate) const DEBUG_FRAME_SPACE: u64 = 0xa000_0000_0000_0000;
/// The end of the space images may occupy (still non-canonical).
pub(crate) const SYNTHETIC_END: u64 = 0xfff0_0000_0000_0000;

/// Most FDEs one table indexes (libc.so.6 has about 3 700, a large C++ library a few hundred
/// thousand).
const MAX_ENTRIES: usize = 1 << 21;
/// Most entries (CIEs and FDEs, taken or not) read from one section.
const MAX_READ: usize = 4 * MAX_ENTRIES;
/// Most distinct CIEs one section may use (compilers write one or a few per object file).
const MAX_CIES: usize = 1 << 14;
/// Largest `.debug_frame` converted (inflated size, if compressed; Go's are a few hundred KiB).
const MAX_DEBUG_FRAME: u64 = 64 << 20;

/// Where a table's FDEs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Records {
    /// The module's `.eh_frame`, at this module address, read from the target's memory.
    EhFrame(u64),
    /// In the image, after the table (converted `.debug_frame`).
    InImage,
}

/// One module's search table over an unindexed `.eh_frame` or a converted `.debug_frame`.
#[derive(Debug, Clone)]
pub(crate) struct CfiIndex {
    /// The table (`count` pairs of little-endian int32), then any converted records.
    image: Arc<[u8]>,
    count: u64,
    /// The module address that the image's first byte stands for, less its space's base.
    anchor: u64,
    records: Records,
}

/// A table placed for one process: what libunwind's `UNW_INFO_FORMAT_REMOTE_TABLE` needs, and
/// the image to serve at `image_at`.
#[derive(Debug, Clone)]
pub(crate) struct PlacedIndex {
    pub segbase: u64,
    pub table_data: u64,
    pub count: u64,
    pub image_at: u64,
    pub image: Arc<[u8]>,
}

impl CfiIndex {
    /// The table at run-time addresses for a module loaded with `bias`; `None` if a hostile
    /// module's addresses would put it outside the synthetic space.
    pub(crate) fn place(&self, bias: u64) -> Option<PlacedIndex> {
        let space = match self.records {
            Records::EhFrame(_) => EH_FRAME_SPACE,
            Records::InImage => DEBUG_FRAME_SPACE,
        };
        let image_at = space.wrapping_add(self.anchor).wrapping_add(bias);
        let end = image_at.checked_add(self.image.len() as u64)?;
        if image_at < space || end > SYNTHETIC_END {
            return None;
        }
        let segbase = match self.records {
            Records::EhFrame(eh_frame) => eh_frame.wrapping_add(bias),
            Records::InImage => image_at,
        };
        Some(PlacedIndex {
            segbase,
            table_data: image_at,
            count: self.count,
            image_at,
            image: self.image.clone(),
        })
    }

    #[cfg(test)]
    fn entries(&self) -> Vec<(i32, i32)> {
        self.image[..self.count as usize * 8]
            .chunks(8)
            .map(|c| {
                (
                    i32::from_le_bytes(c[..4].try_into().unwrap()),
                    i32::from_le_bytes(c[4..].try_into().unwrap()),
                )
            })
            .collect()
    }
}

/// The tables a module needs besides its `.eh_frame_hdr` (`has_hdr`): one over `.eh_frame`
/// when it has no header, and one over `.debug_frame` (its own, else `debug_file`'s) when it
/// has one, consulted after the others. A module with a header and no `.debug_frame` costs
/// two section-name lookups. A compressed `.debug_frame` is inflated only if what it claims
/// fits in `budget` (bytes the tracer may still inflate), which is then charged.
pub(crate) fn build<'d, 'f>(
    file: &'f object::File<'d>,
    has_hdr: bool,
    debug_file: Option<&'f object::File<'d>>,
    budget: &mut u64,
) -> Vec<CfiIndex> {
    let mut out = Vec::new();
    let debug_frame = file
        .section_by_name(".debug_frame")
        .or_else(|| debug_file?.section_by_name(".debug_frame"));
    if has_hdr && debug_frame.is_none() {
        return out;
    }
    if file.architecture() != object::Architecture::X86_64 || !file.is_little_endian() {
        return out;
    }
    let code = code_ranges(file);
    if !has_hdr && let Some(index) = from_eh_frame(file, &code) {
        out.push(index);
    }
    if let Some(index) = debug_frame.and_then(|s| from_debug_frame(&s, &code, budget)) {
        out.push(index);
    }
    out
}

/// The module's executable PT_LOAD ranges (module addresses), sorted.
fn code_ranges(file: &object::File<'_>) -> Vec<(u64, u64)> {
    const PF_X: u32 = 1;
    let mut code: Vec<(u64, u64)> = file
        .segments()
        .filter(|s| matches!(s.flags(), SegmentFlags::Elf { p_flags, .. } if p_flags.0 & PF_X != 0))
        .filter_map(|s| Some((s.address(), s.address().checked_add(s.size())?)))
        .collect();
    code.sort_unstable();
    code
}

/// True when `[start, start + len)` lies in one of `code`'s ranges.
fn in_code(code: &[(u64, u64)], start: u64, len: u64) -> bool {
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    len > 0 && code.iter().any(|&(lo, hi)| lo <= start && end <= hi)
}

/// `value - base` when it fits an int32 (libunwind's table entries).
fn rel32(value: u64, base: u64) -> Option<i32> {
    i32::try_from(value.wrapping_sub(base) as i64).ok()
}

/// Sorts (start, payload) entries by start, keeping the first at each start.
fn sorted_table<T>(entries: &mut Vec<(i32, T)>) {
    entries.sort_by_key(|e| e.0);
    entries.dedup_by_key(|e| e.0);
}

/// Appends the table: each entry's start and record as little-endian int32.
fn put_table(image: &mut Vec<u8>, entries: impl Iterator<Item = (i32, i32)>) {
    for (start, record) in entries {
        image.extend_from_slice(&start.to_le_bytes());
        image.extend_from_slice(&record.to_le_bytes());
    }
}

/// Indexes the module's own `.eh_frame` (in its loaded image, so only the table is ours).
fn from_eh_frame(file: &object::File<'_>, code: &[(u64, u64)]) -> Option<CfiIndex> {
    let section = file.section_by_name(".eh_frame")?;
    let data = section.data().ok()?;
    let eh_vaddr = section.address();
    // An image larger than 2 GiB cannot be addressed by int32 offsets.
    if data.is_empty() || data.len() > i32::MAX as usize {
        return None;
    }
    let mut bases = BaseAddresses::default().set_eh_frame(eh_vaddr);
    if let Some(text) = file.section_by_name(".text") {
        bases = bases.set_text(text.address());
    }
    if let Some(got) = file.section_by_name(".got") {
        bases = bases.set_got(got.address());
    }
    let mut eh_frame = gimli::EhFrame::new(data, LittleEndian);
    eh_frame.set_address_size(8);
    let mut entries: Vec<(i32, i32)> = Vec::new();
    for_each_fde_in_code(&eh_frame, &bases, code, |fde| {
        let start = rel32(fde.initial_address(), eh_vaddr);
        if let (Some(start), Some(record)) = (start, i32::try_from(fde.offset()).ok()) {
            entries.push((start, record));
        }
        if entries.len() >= MAX_ENTRIES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    sorted_table(&mut entries);
    if entries.is_empty() {
        return None;
    }
    let mut image = Vec::with_capacity(entries.len() * 8);
    put_table(&mut image, entries.iter().copied());
    Some(CfiIndex {
        image: image.into(),
        count: entries.len() as u64,
        anchor: eh_vaddr,
        records: Records::EhFrame(eh_vaddr),
    })
}

/// Gives `each` every FDE of `section` that lies within the module's `code`, its CIE parsed
/// once per offset, until `each` breaks; at most [`MAX_READ`] entries are read.
fn for_each_fde_in_code<'d, S>(
    section: &S,
    bases: &BaseAddresses,
    code: &[(u64, u64)],
    mut each: impl FnMut(FrameDescriptionEntry<EndianSlice<'d, LittleEndian>>) -> ControlFlow<()>,
) where
    S: UnwindSection<EndianSlice<'d, LittleEndian>>,
{
    let mut cies = CieCache::default();
    let mut iter = section.entries(bases);
    let mut read = 0;
    while let Ok(Some(entry)) = iter.next() {
        read += 1;
        if read > MAX_READ {
            break;
        }
        let CieOrFde::Fde(partial) = entry else {
            continue;
        };
        let Ok(fde) = partial.parse(|s, b, o| cies.get(s, b, o)) else {
            continue;
        };
        if in_code(code, fde.initial_address(), fde.len()) && each(fde).is_break() {
            break;
        }
    }
}

/// CIEs parsed once per offset (a hostile section could otherwise make every FDE re-read a
/// long one), at most [`MAX_CIES`] of them: an FDE whose CIE would be one more is refused.
#[derive(Default)]
struct CieCache<'d> {
    parsed: HashMap<usize, gimli::Result<CommonInformationEntry<EndianSlice<'d, LittleEndian>>>>,
}

impl<'d> CieCache<'d> {
    fn get<S>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        offset: S::Offset,
    ) -> gimli::Result<CommonInformationEntry<EndianSlice<'d, LittleEndian>>>
    where
        S: UnwindSection<EndianSlice<'d, LittleEndian>>,
    {
        let key = gimli::UnwindOffset::into(offset);
        if self.parsed.len() >= MAX_CIES && !self.parsed.contains_key(&key) {
            return Err(gimli::Error::TooManyIterations);
        }
        self.parsed
            .entry(key)
            .or_insert_with(|| section.cie_from_offset(bases, offset))
            .clone()
    }
}

/// One FDE of `.debug_frame` chosen for the image.
struct Chosen<'d> {
    start: u64,
    len: u64,
    cie: usize,
    instructions: &'d [u8],
}

/// A CIE of `.debug_frame` as the image needs it.
struct CieParts<'d> {
    code_align: u64,
    data_align: i64,
    return_register: u16,
    instructions: &'d [u8],
}

/// The CIEs of `.debug_frame` by offset, as the image needs them (`None`: left out).
type CieTable<'d> = HashMap<usize, Option<CieParts<'d>>>;

/// Converts `.debug_frame` into an image holding the table and the entries in `.eh_frame`
/// form. FDEs outside the module's code, or whose CIE has an augmentation or whose
/// instructions use `DW_CFA_set_loc` (an absolute address we would have to relocate), are
/// left out.
fn from_debug_frame(
    section: &object::Section<'_, '_>,
    code: &[(u64, u64)],
    budget: &mut u64,
) -> Option<CfiIndex> {
    let range = section.compressed_file_range().ok()?;
    let compressed = range.format != object::CompressionFormat::None;
    if range.uncompressed_size > MAX_DEBUG_FRAME || compressed && range.uncompressed_size > *budget
    {
        return None;
    }
    if compressed {
        *budget -= range.uncompressed_size;
    }
    let data = section.uncompressed_data().ok()?;
    let anchor = code.first()?.0;
    let (mut chosen, cie_parts) = choose_fdes(&data, code, anchor);
    sorted_table(&mut chosen);
    if chosen.is_empty() {
        return None;
    }
    debug_frame_image(&chosen, &cie_parts, anchor)
}

/// The FDEs of `.debug_frame` (`data`) that the image can hold, each with its offset from
/// `anchor` (unsorted), and the CIEs they were checked against (`None`: one left out).
fn choose_fdes<'d>(
    data: &'d [u8],
    code: &[(u64, u64)],
    anchor: u64,
) -> (Vec<(i32, Chosen<'d>)>, CieTable<'d>) {
    let mut debug_frame = gimli::DebugFrame::new(data, LittleEndian);
    debug_frame.set_address_size(8);
    let bases = BaseAddresses::default();
    let mut cie_parts: CieTable<'_> = HashMap::new();
    let mut chosen: Vec<(i32, Chosen<'_>)> = Vec::new();
    for_each_fde_in_code(&debug_frame, &bases, code, |fde| {
        let (start, len) = (fde.initial_address(), fde.len());
        let Some(rel) = rel32(start, anchor).filter(|r| *r >= 0 && len <= i32::MAX as u64) else {
            return ControlFlow::Continue(());
        };
        let cie = fde.cie();
        let cie_offset = cie.offset();
        let parts = cie_parts
            .entry(cie_offset)
            .or_insert_with(|| cie_parts_of(data, cie, &debug_frame, &bases));
        if parts.is_none() || set_loc_or_invalid(fde.instructions(&debug_frame, &bases)) {
            return ControlFlow::Continue(());
        }
        let Some(instructions) = fde_instructions(data, fde.offset()) else {
            return ControlFlow::Continue(());
        };
        chosen.push((
            rel,
            Chosen {
                start,
                len,
                cie: cie_offset,
                instructions,
            },
        ));
        if chosen.len() >= MAX_ENTRIES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    (chosen, cie_parts)
}

/// The image of the `chosen` FDEs, sorted by start: the table, then each CIE before the
/// first FDE that uses it, then the FDEs in table order.
fn debug_frame_image(
    chosen: &[(i32, Chosen<'_>)],
    cie_parts: &CieTable<'_>,
    anchor: u64,
) -> Option<CfiIndex> {
    let table_len = chosen.len() * 8;
    let mut records: Vec<u8> = Vec::new();
    let mut emitted: HashMap<usize, usize> = HashMap::new();
    let mut table = Vec::with_capacity(chosen.len());
    for (rel, fde) in chosen {
        let cie_at = match emitted.get(&fde.cie) {
            Some(&at) => at,
            None => {
                let Some(Some(parts)) = cie_parts.get(&fde.cie) else {
                    continue;
                };
                let at = table_len + records.len();
                put_cie(&mut records, parts);
                emitted.insert(fde.cie, at);
                at
            }
        };
        let fde_at = table_len + records.len();
        put_fde(&mut records, fde, fde_at, cie_at, anchor);
        let Ok(fde_at) = i32::try_from(fde_at) else {
            return None;
        };
        table.push((*rel, fde_at));
    }
    let mut image = Vec::with_capacity(table_len + records.len());
    put_table(&mut image, table.iter().copied());
    // Every chosen FDE's CIE was parsed, so the table has an entry for each and its length
    // is what the record offsets assumed.
    if image.len() != table_len {
        return None;
    }
    image.extend_from_slice(&records);
    if image.len() > i32::MAX as usize {
        return None;
    }
    Some(CfiIndex {
        image: image.into(),
        count: table.len() as u64,
        anchor,
        records: Records::InImage,
    })
}

/// True when the instructions use `DW_CFA_set_loc` or do not parse: such an entry is left
/// out rather than handed to libunwind.
fn set_loc_or_invalid(
    mut instructions: gimli::CallFrameInstructionIter<'_, EndianSlice<'_, LittleEndian>>,
) -> bool {
    loop {
        match instructions.next() {
            Ok(None) => return false,
            Ok(Some(CallFrameInstruction::SetLoc { .. })) | Err(_) => return true,
            Ok(Some(_)) => {}
        }
    }
}

/// What a `.debug_frame` CIE contributes to its converted form; `None` for one we do not
/// convert (an augmentation, another address size, `DW_CFA_set_loc`).
fn cie_parts_of<'d>(
    data: &'d [u8],
    cie: &CommonInformationEntry<EndianSlice<'d, LittleEndian>>,
    section: &gimli::DebugFrame<EndianSlice<'d, LittleEndian>>,
    bases: &BaseAddresses,
) -> Option<CieParts<'d>> {
    if cie.augmentation().is_some()
        || cie.address_size() != 8
        || set_loc_or_invalid(cie.instructions(section, bases))
    {
        return None;
    }
    let mut r = EndianSlice::new(data.get(cie.offset()..)?, LittleEndian);
    let (length, format) = r.read_initial_length().ok()?;
    let mut r = r.split(length).ok()?;
    r.read_offset(format).ok()?;
    let version = r.read_u8().ok()?;
    r.read_null_terminated_slice().ok()?;
    if version == 4 {
        // address_size and segment_selector_size.
        r.skip(2).ok()?;
    }
    r.read_uleb128().ok()?;
    r.read_sleb128().ok()?;
    if version == 1 {
        r.read_u8().ok()?;
    } else {
        r.read_uleb128().ok()?;
    }
    Some(CieParts {
        code_align: cie.code_alignment_factor(),
        data_align: cie.data_alignment_factor(),
        return_register: cie.return_address_register().0,
        instructions: r.slice(),
    })
}

/// The instruction bytes of the `.debug_frame` FDE at `offset` (its CIE has no augmentation
/// and 8-byte addresses).
fn fde_instructions(data: &[u8], offset: usize) -> Option<&[u8]> {
    let mut r = EndianSlice::new(data.get(offset..)?, LittleEndian);
    let (length, format) = r.read_initial_length().ok()?;
    let mut r = r.split(length).ok()?;
    r.read_offset(format).ok()?;
    r.skip(16).ok()?;
    Some(r.slice())
}

fn put_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// DW_EH_PE_pcrel | DW_EH_PE_sdata8: FDE addresses relative to where they are read, so the
/// image is the same wherever the module is loaded.
const FDE_ENCODING: u8 = 0x1c;

/// Appends an `.eh_frame` CIE: id 0, augmentation "zR" with [`FDE_ENCODING`].
fn put_cie(out: &mut Vec<u8>, cie: &CieParts<'_>) {
    let mut body = vec![0, 0, 0, 0];
    // Version 1 stores the return address register in a byte; 3 as a ULEB128.
    let small = cie.return_register <= 0xff;
    body.push(if small { 1 } else { 3 });
    body.extend_from_slice(b"zR\0");
    put_uleb(&mut body, cie.code_align);
    put_sleb(&mut body, cie.data_align);
    if small {
        body.push(cie.return_register as u8);
    } else {
        put_uleb(&mut body, cie.return_register.into());
    }
    put_uleb(&mut body, 1);
    body.push(FDE_ENCODING);
    body.extend_from_slice(cie.instructions);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Appends an `.eh_frame` FDE that starts at image offset `at`, for the CIE at `cie_at`.
fn put_fde(out: &mut Vec<u8>, fde: &Chosen<'_>, at: usize, cie_at: usize, anchor: u64) {
    let mut body = Vec::with_capacity(21 + fde.instructions.len());
    // The CIE pointer: from this field back to the CIE.
    body.extend_from_slice(&((at + 4 - cie_at) as u32).to_le_bytes());
    // The image's byte `o` is read at DEBUG_FRAME_SPACE + anchor + bias + o, and the
    // function starts at start + bias: the difference does not depend on the bias.
    let field = DEBUG_FRAME_SPACE
        .wrapping_add(anchor)
        .wrapping_add(at as u64 + 8);
    body.extend_from_slice(&fde.start.wrapping_sub(field).to_le_bytes());
    body.extend_from_slice(&fde.len.to_le_bytes());
    put_uleb(&mut body, 0);
    body.extend_from_slice(fde.instructions);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut out = Vec::new();
            put_uleb(&mut out, v);
            let mut r = EndianSlice::new(&out, LittleEndian);
            assert_eq!(r.read_uleb128().unwrap(), v);
            assert!(r.is_empty());
        }
        for v in [0i64, -1, -8, 63, 64, -64, -65, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_sleb(&mut out, v);
            let mut r = EndianSlice::new(&out, LittleEndian);
            assert_eq!(r.read_sleb128().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn converted_records_parse_as_eh_frame_at_their_place() {
        let cie = CieParts {
            code_align: 1,
            data_align: -8,
            return_register: 16,
            // DW_CFA_def_cfa rsp+8; DW_CFA_offset r16 at cfa-8.
            instructions: &[0x0c, 0x07, 0x08, 0x90, 0x01],
        };
        let fde = Chosen {
            start: 0x401000,
            len: 0x20,
            cie: 0,
            // DW_CFA_advance_loc 1; DW_CFA_def_cfa_offset 16.
            instructions: &[0x41, 0x0e, 0x10],
        };
        let anchor = 0x400000;
        let bias = 0x5555_0000_0000;
        let mut records = Vec::new();
        let table_len = 8;
        put_cie(&mut records, &cie);
        let fde_at = table_len + records.len();
        put_fde(&mut records, &fde, fde_at, table_len, anchor);
        let mut image = Vec::new();
        put_table(&mut image, [(0x1000, fde_at as i32)].into_iter());
        image.extend_from_slice(&records);
        let index = CfiIndex {
            image: image.into(),
            count: 1,
            anchor,
            records: Records::InImage,
        };
        let placed = index.place(bias).unwrap();
        assert_eq!(placed.image_at, DEBUG_FRAME_SPACE + anchor + bias);
        assert_eq!(placed.segbase, placed.image_at);
        assert_eq!(index.entries(), [(0x1000, fde_at as i32)]);
        // gimli reads the records as .eh_frame placed at image_at.
        let mut eh = gimli::EhFrame::new(&placed.image[table_len..], LittleEndian);
        eh.set_address_size(8);
        let bases = BaseAddresses::default().set_eh_frame(placed.image_at + table_len as u64);
        let fde = eh
            .fde_from_offset(
                &bases,
                gimli::EhFrameOffset(fde_at - table_len),
                gimli::EhFrame::cie_from_offset,
            )
            .unwrap();
        assert_eq!(fde.initial_address(), 0x401000 + bias);
        assert_eq!(fde.len(), 0x20);
        assert_eq!(fde.cie().data_alignment_factor(), -8);
        assert_eq!(fde.cie().return_address_register(), gimli::Register(16));
        // The run-time IP's offset from segbase is what the table holds.
        let ip = 0x401010 + bias;
        assert_eq!(ip.wrapping_sub(placed.segbase) as u32 as i32, 0x1010);
    }

    #[test]
    fn a_table_outside_the_synthetic_space_is_not_placed() {
        let index = CfiIndex {
            image: vec![0; 8].into(),
            count: 1,
            anchor: 0x7000_0000_0000_0000,
            records: Records::InImage,
        };
        assert!(index.place(0x7000_0000_0000_0000).is_none());
        assert!(index.place(0).is_none());
    }
}
