//! Go's own symbol table, `.gopclntab`: names, file:line, inlined calls and frame sizes for
//! every PC of a Go binary, even one stripped with `-ldflags=-s -w`. The layouts of Go 1.18-1.19
//! and 1.20 on, as `debug/gosym` and `runtime/symtab.go` read them; every read bounded.

use object::{Object, ObjectSection};

const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;

/// Largest table we copy out of a module (real ones are a few MiB, Kubernetes' ~60 MiB).
const MAX_TABLE: u64 = 512 << 20;

/// `_func` fields, as offsets from the start of the struct (both layouts agree up to
/// `cuOffset`; 1.20 adds `startLine` after it).
const F_NAME: usize = 4;
const F_PCSP: usize = 16;
const F_PCFILE: usize = 20;
const F_PCLN: usize = 24;
const F_CU: usize = 32;

/// `_func.pcdata` and `_func.funcdata` slots of the inline tree (internal/abi/symtab.go).
const PCDATA_INL_TREE_INDEX: usize = 2;
const FUNCDATA_INL_TREE: usize = 3;

/// Most inlined calls expanded at one address (a loop in a hostile tree ends there).
const MAX_INLINE_DEPTH: usize = 64;

/// A parsed `.gopclntab`, with its bytes.
#[derive(Debug)]
pub struct GoTable {
    data: Box<[u8]>,
    /// 1.20 and later add `startLine` to `_func` and change the inline tree's entries.
    go120: bool,
    /// The bytes of `go:func.*` (where `_func.funcdata` offsets point) from its module
    /// address to the end of its section, when the module data that says where it is was
    /// found: for the inline trees.
    gofunc: Option<(u64, Box<[u8]>)>,
    /// The module's address of `.text`, which the table's entry offsets count from.
    text_start: u64,
    quantum: u64,
    nfunc: usize,
    funcnametab: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    /// Start of the function table (and the base of `_func` offsets).
    pcln: usize,
}

/// One function of the table.
#[derive(Debug, Clone, Copy)]
pub struct GoFunc {
    /// The module's address of its first instruction.
    pub entry: u64,
    /// Where the next function starts.
    pub end: u64,
    /// Offset of its `_func` in the table.
    off: usize,
}

impl GoTable {
    /// Finds and parses the table of an ELF file, if it has one in a layout we know.
    pub fn parse(file: &object::File<'_>) -> Option<GoTable> {
        let section = file
            .section_by_name(".gopclntab")
            .or_else(|| file.section_by_name(".data.rel.ro.gopclntab"))?;
        let text_start = file.section_by_name(".text")?.address();
        if section.size() > MAX_TABLE {
            return None;
        }
        let mut table = GoTable::from_bytes(section.data().ok()?.into(), text_start)?;
        table.gofunc = gofunc(file, section.address(), text_start);
        Some(table)
    }

    /// Parses table bytes whose entry offsets count from `text_start`.
    pub fn from_bytes(data: Box<[u8]>, text_start: u64) -> Option<GoTable> {
        let magic = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
        if magic != MAGIC_118 && magic != MAGIC_120 {
            return None;
        }
        let (quantum, ptr) = (*data.get(6)? as u64, *data.get(7)? as usize);
        if ptr != 8 || quantum == 0 {
            return None;
        }
        let word = |i: usize| -> Option<usize> {
            let at = 8 + i * 8;
            usize::try_from(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?)).ok()
        };
        let nfunc = word(0)?;
        let (funcnametab, cutab, filetab, pctab, pcln) =
            (word(3)?, word(4)?, word(5)?, word(6)?, word(7)?);
        // The function table: nfunc + 1 pairs of u32, all inside the section.
        let ftab_end = nfunc.checked_add(1)?.checked_mul(8)?.checked_add(pcln)?;
        if ftab_end > data.len()
            || [funcnametab, cutab, filetab, pctab]
                .iter()
                .any(|&o| o > data.len())
        {
            return None;
        }
        Some(GoTable {
            data,
            go120: magic == MAGIC_120,
            gofunc: None,
            text_start,
            quantum,
            nfunc,
            funcnametab,
            cutab,
            filetab,
            pctab,
            pcln,
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(
            self.data.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    }

    /// The `i`th function table entry: (entry address, `_func` offset).
    fn ftab(&self, i: usize) -> Option<(u64, usize)> {
        let at = self.pcln + i * 8;
        let entry = self.text_start.wrapping_add(self.u32_at(at)? as u64);
        let off = self.pcln.checked_add(self.u32_at(at + 4)? as usize)?;
        Some((entry, off))
    }

    /// Every function, in address order.
    pub fn functions(&self) -> impl Iterator<Item = GoFunc> + '_ {
        (0..self.nfunc).filter_map(|i| {
            let (entry, off) = self.ftab(i)?;
            let (end, _) = self.ftab(i + 1)?;
            (end > entry).then_some(GoFunc { entry, end, off })
        })
    }

    /// The function holding module address `vaddr`.
    pub fn find(&self, vaddr: u64) -> Option<GoFunc> {
        let (first, _) = self.ftab(0)?;
        let (last, _) = self.ftab(self.nfunc)?;
        if vaddr < first || vaddr >= last {
            return None;
        }
        // The entries are sorted: the last one at or below vaddr.
        let (mut lo, mut hi) = (0, self.nfunc);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.ftab(mid)?.0 <= vaddr {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let (entry, off) = self.ftab(lo)?;
        let (end, _) = self.ftab(lo + 1)?;
        (entry <= vaddr && vaddr < end).then_some(GoFunc { entry, end, off })
    }

    /// The function's name as the table spells it (`runtime.gopark`, `main.(*T).m`).
    pub fn name(&self, f: GoFunc) -> Option<&[u8]> {
        let name_off = self.u32_at(f.off + F_NAME)? as usize;
        self.cstr(self.funcnametab.checked_add(name_off)?)
    }

    /// The NUL-terminated string at `at`, at most `MAX_NAME` bytes.
    fn cstr(&self, at: usize) -> Option<&[u8]> {
        let rest = self.data.get(at..)?;
        let rest = &rest[..rest.len().min(crate::tracer::symbolize::symbols::MAX_NAME)];
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..end])
    }

    /// The value of the pc-value table at `table` (an offset into `pctab`) for `vaddr` in `f`.
    fn pcvalue(&self, f: GoFunc, table: u32, vaddr: u64) -> Option<i64> {
        if table == 0 {
            return None;
        }
        let mut p = self.data.get(self.pctab.checked_add(table as usize)?..)?;
        let (mut pc, mut val) = (f.entry, -1i64);
        let mut first = true;
        loop {
            let uv = varint(&mut p)?;
            if uv == 0 && !first {
                return None;
            }
            first = false;
            let delta = if uv & 1 != 0 {
                !(uv >> 1) as i32
            } else {
                (uv >> 1) as i32
            };
            val = val.checked_add(delta as i64)?;
            pc = pc.checked_add(varint(&mut p)? as u64 * self.quantum)?;
            if vaddr < pc {
                return Some(val);
            }
            if pc >= f.end {
                return None;
            }
        }
    }

    /// Source file and line of module address `vaddr` (of the innermost inlined function
    /// there, as Go's own tables record it).
    pub fn location(&self, vaddr: u64) -> Option<(&[u8], u32)> {
        let f = self.find(vaddr)?;
        let line = self.pcvalue(f, self.u32_at(f.off + F_PCLN)?, vaddr)?;
        let fileno = self.pcvalue(f, self.u32_at(f.off + F_PCFILE)?, vaddr)?;
        let cu = self.u32_at(f.off + F_CU)? as usize;
        let slot = cu.checked_add(usize::try_from(fileno).ok()?)?;
        let at = self.cutab.checked_add(slot.checked_mul(4)?)?;
        let file_off = self.u32_at(at)?;
        if file_off == u32::MAX {
            return None;
        }
        let file = self.cstr(self.filetab.checked_add(file_off as usize)?)?;
        Some((file, u32::try_from(line).ok()?))
    }

    /// How far the stack pointer at `vaddr` in `f` is below the function's frame on entry
    /// (its return address), in bytes: the `pcsp` table.
    pub fn sp_delta(&self, f: GoFunc, vaddr: u64) -> Option<u64> {
        let v = self.pcvalue(f, self.u32_at(f.off + F_PCSP)?, vaddr)?;
        u64::try_from(v).ok()
    }
}

impl GoTable {
    /// What Go's traceback shows at module address `vaddr`: the functions inlined there,
    /// innermost first, each with its name and its own file:line, then the file:line in the
    /// function that holds the code (at the call of the outermost inlined function).
    #[allow(clippy::type_complexity)]
    pub fn inlined(
        &self,
        vaddr: u64,
    ) -> (Vec<(&[u8], Option<(&[u8], u32)>)>, Option<(&[u8], u32)>) {
        let mut out = Vec::new();
        let mut pc = vaddr;
        if let (Some(f), Some((base, bytes))) = (self.find(vaddr), &self.gofunc) {
            let tree = self
                .funcdata(f, FUNCDATA_INL_TREE)
                .and_then(|off| bytes.get(usize::try_from(off.checked_sub(*base)?).ok()?..));
            let index_table = self.pcdata(f, PCDATA_INL_TREE_INDEX);
            if let (Some(tree), Some(index_table)) = (tree, index_table) {
                while out.len() < MAX_INLINE_DEPTH {
                    let Some(ix) = self
                        .pcvalue(f, index_table, pc)
                        .and_then(|i| usize::try_from(i).ok())
                    else {
                        break;
                    };
                    let Some((name_off, parent_pc)) = self.inlined_call(tree, ix) else {
                        break;
                    };
                    let Some(name) = self.cstr(self.funcnametab.saturating_add(name_off)) else {
                        break;
                    };
                    out.push((name, self.location(pc)));
                    pc = f.entry.wrapping_add(parent_pc);
                }
            }
        }
        (out, self.location(pc))
    }

    /// Entry `ix` of an inline tree: (name offset, parent pc offset from the entry).
    fn inlined_call(&self, tree: &[u8], ix: usize) -> Option<(usize, u64)> {
        let (size, name_at, parent_at) = if self.go120 { (16, 4, 8) } else { (20, 12, 16) };
        let e = tree.get(ix.checked_mul(size)?..)?.get(..size)?;
        let i32_at = |at: usize| i32::from_le_bytes(e[at..at + 4].try_into().unwrap_or_default());
        let name = usize::try_from(i32_at(name_at)).ok()?;
        let parent = u64::try_from(i32_at(parent_at)).ok()?;
        Some((name, parent))
    }

    /// Size of `_func` before its `pcdata` array.
    fn func_fixed(&self) -> usize {
        if self.go120 { 44 } else { 40 }
    }

    /// `_func.pcdata[i]`: a pc-value table offset.
    fn pcdata(&self, f: GoFunc, i: usize) -> Option<u32> {
        let npcdata = self.u32_at(f.off + 28)? as usize;
        (i < npcdata).then_some(())?;
        self.u32_at(f.off + self.func_fixed() + i * 4)
            .filter(|&t| t != 0)
    }

    /// `_func.funcdata[i]`, as a module address (`go:func.*` plus the offset).
    fn funcdata(&self, f: GoFunc, i: usize) -> Option<u64> {
        let fixed = self.func_fixed();
        let nfuncdata = *self.data.get(f.off + fixed - 1)? as usize;
        (i < nfuncdata).then_some(())?;
        let npcdata = self.u32_at(f.off + 28)? as usize;
        let at = f.off + fixed + npcdata.checked_mul(4)? + i * 4;
        let off = self.u32_at(at).filter(|&o| o != u32::MAX)?;
        Some(self.gofunc.as_ref()?.0.wrapping_add(off as u64))
    }
}

/// Finds the runtime's module data (it starts with the address of `.gopclntab` and holds
/// `.text`'s 22 words in) and returns its `gofunc`, the word after `rodata` (so in every
/// layout from Go 1.18 on), with the bytes from there to the end of its section.
fn gofunc(file: &object::File<'_>, pclntab: u64, text: u64) -> Option<(u64, Box<[u8]>)> {
    use object::SectionKind;
    let rodata = file.section_by_name(".rodata")?.address();
    for section in file.sections() {
        if !matches!(
            section.kind(),
            SectionKind::Data | SectionKind::ReadOnlyData
        ) || section.size() > MAX_TABLE
        {
            continue;
        }
        let Ok(data) = section.data() else { continue };
        let words: Vec<u64> = data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        for (i, _) in words.iter().enumerate().filter(|(_, w)| **w == pclntab) {
            let Some(md) = words.get(i..i + 64) else {
                continue;
            };
            if md[22] != text {
                continue;
            }
            let Some(j) = (32..60).rev().find(|&j| md[j] == rodata) else {
                continue;
            };
            let at = md[j + 1];
            let holder = file
                .sections()
                .find(|s| s.address() <= at && at - s.address() < s.size())?;
            let bytes = holder.data().ok()?;
            let from = usize::try_from(at - holder.address()).ok()?;
            return Some((at, bytes.get(from..)?.into()));
        }
    }
    None
}

/// An unsigned LEB128 of at most 32 bits.
fn varint(p: &mut &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for shift in (0..35).step_by(7) {
        let (&b, rest) = p.split_first()?;
        *p = rest;
        v |= ((b & 0x7f) as u32).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The name Go shows for an ELF symbol name: the ABI suffix the linker adds to assembly
/// functions (`runtime.futex.abi0`) removed.
pub fn go_name(raw: &str) -> &str {
    raw.strip_suffix(".abi0").unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of two functions: header, function table, `_func`s, names, a CU table, a
    /// file table and pc-value tables, laid out as Go 1.20's linker does.
    fn table() -> GoTable {
        let mut d = vec![0u8; 8 + 8 * 8];
        d[0..4].copy_from_slice(&MAGIC_120.to_le_bytes());
        d[6] = 1;
        d[7] = 8;
        let put = |d: &mut Vec<u8>, i: usize, v: usize| {
            d[8 + i * 8..16 + i * 8].copy_from_slice(&(v as u64).to_le_bytes())
        };
        put(&mut d, 0, 2);
        let names = d.len();
        d.extend_from_slice(b"main.a\0runtime.b\0");
        let cutab = d.len();
        d.extend_from_slice(&0u32.to_le_bytes());
        let filetab = d.len();
        d.extend_from_slice(b"/src/a.go\0");
        let pctab = d.len();
        d.push(0); // offset 0 means "no table"
        // value -1 + 11 (zigzag 22) until pc+4, then +2 (4) until pc+8, end.
        let line = d.len() - pctab;
        d.extend_from_slice(&[22, 4, 4, 4, 0]);
        // file 0: value -1 -> 0 (delta +1, zigzag 2) for 16 bytes.
        let file = d.len() - pctab;
        d.extend_from_slice(&[2, 16, 0]);
        let pcln = d.len();
        let ftab = [(0u32, 24u32), (8, 24 + 44), (16, 0)];
        for (entry, off) in ftab {
            d.extend_from_slice(&entry.to_le_bytes());
            d.extend_from_slice(&off.to_le_bytes());
        }
        for name in [0u32, 7] {
            let mut f = [0u8; 44];
            f[4..8].copy_from_slice(&name.to_le_bytes());
            f[16..20].copy_from_slice(&(line as u32).to_le_bytes());
            f[20..24].copy_from_slice(&(file as u32).to_le_bytes());
            f[24..28].copy_from_slice(&(line as u32).to_le_bytes());
            d.extend_from_slice(&f);
        }
        for (i, v) in [(3, names), (4, cutab), (5, filetab), (6, pctab), (7, pcln)] {
            put(&mut d, i, v);
        }
        GoTable::from_bytes(d.into(), 0x1000).unwrap()
    }

    #[test]
    fn finds_names_lines_and_frame_sizes() {
        let t = table();
        let f = t.find(0x1005).unwrap();
        assert_eq!((f.entry, f.end), (0x1000, 0x1008));
        assert_eq!(t.name(f), Some(&b"main.a"[..]));
        assert_eq!(t.location(0x1003), Some((&b"/src/a.go"[..], 10)));
        assert_eq!(t.location(0x1005), Some((&b"/src/a.go"[..], 12)));
        assert_eq!(t.sp_delta(f, 0x1005), Some(12));
        let g = t.find(0x1008).unwrap();
        assert_eq!(t.name(g), Some(&b"runtime.b"[..]));
        assert!(t.find(0x1010).is_none() && t.find(0xfff).is_none());
        assert_eq!(t.functions().count(), 2);
    }

    /// One function, `main.outer`, whose code is all `main.inner` inlined (inline tree entry
    /// 0 throughout), with the inline tree `tree` in `go:func.*`.
    fn inline_table(tree: Vec<u8>) -> GoTable {
        let mut d = vec![0u8; 8 + 8 * 8];
        d[0..4].copy_from_slice(&MAGIC_120.to_le_bytes());
        d[6] = 1;
        d[7] = 8;
        d[8] = 1;
        let mut offsets = vec![];
        offsets.push(d.len());
        d.extend_from_slice(b"main.outer\0main.inner\0");
        offsets.push(d.len());
        d.extend_from_slice(&0u32.to_le_bytes());
        offsets.push(d.len());
        d.extend_from_slice(b"/a.go\0");
        let pctab = d.len();
        offsets.push(pctab);
        d.push(0);
        let line = (d.len() - pctab) as u32;
        d.extend_from_slice(&[22, 16, 0]);
        let zero = (d.len() - pctab) as u32;
        d.extend_from_slice(&[2, 16, 0]);
        let pcln = d.len();
        offsets.push(pcln);
        for (entry, off) in [(0u32, 16u32), (16, 0)] {
            d.extend_from_slice(&entry.to_le_bytes());
            d.extend_from_slice(&off.to_le_bytes());
        }
        let mut f = vec![0u8; 72];
        let put =
            |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(&mut f, 16, line);
        put(&mut f, 20, zero);
        put(&mut f, 24, line);
        put(&mut f, 28, 3);
        f[43] = 4;
        put(&mut f, 44 + 8, zero);
        for i in 0..3 {
            put(&mut f, 56 + i * 4, u32::MAX);
        }
        put(&mut f, 68, 0);
        d.extend_from_slice(&f);
        for (i, v) in (3..8).zip(offsets) {
            d[8 + i * 8..16 + i * 8].copy_from_slice(&(v as u64).to_le_bytes());
        }
        let mut t = GoTable::from_bytes(d.into(), 0x1000).unwrap();
        t.gofunc = Some((0x9000, tree.into()));
        t
    }

    /// A Go 1.20 inline tree entry.
    fn inlined_call(name_off: i32, parent_pc: i32) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e[4..8].copy_from_slice(&name_off.to_le_bytes());
        e[8..12].copy_from_slice(&parent_pc.to_le_bytes());
        e
    }

    #[test]
    fn inlined_calls_expand_innermost_first_and_a_looping_tree_is_bounded() {
        let file = (&b"/a.go"[..], 10);
        // The call's parent pc is past the function: the walk ends after one inlined frame.
        let t = inline_table(inlined_call(11, 16));
        let (inlined, physical) = t.inlined(0x1004);
        assert_eq!(inlined, vec![(&b"main.inner"[..], Some(file))]);
        assert_eq!(physical, None);
        // An entry whose parent is itself loops: cut at MAX_INLINE_DEPTH.
        let t = inline_table(inlined_call(11, 0));
        assert_eq!(t.inlined(0x1004).0.len(), MAX_INLINE_DEPTH);
        // A tree cut short, a name offset past the table, a negative parent: nothing read out
        // of bounds, at most the physical frame.
        for tree in [
            vec![0u8; 7],
            inlined_call(1 << 30, 16),
            inlined_call(11, -5),
        ] {
            let t = inline_table(tree);
            let (inlined, physical) = t.inlined(0x1004);
            assert!(inlined.len() <= 1 && physical.is_none_or(|p| p == file));
        }
    }

    #[test]
    fn hostile_tables_are_refused_or_answer_nothing() {
        let t = table();
        // Every truncation of a valid table parses to nothing or answers within bounds.
        for len in 0..t.data.len() {
            if let Some(cut) = GoTable::from_bytes(t.data[..len].into(), 0x1000) {
                for a in 0x0ff0..0x1020 {
                    let _ = cut.location(a);
                    if let Some(f) = cut.find(a) {
                        let _ = (cut.name(f), cut.sp_delta(f, a));
                    }
                }
            }
        }
        // A function count past the section is refused.
        let mut d = t.data.to_vec();
        d[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(GoTable::from_bytes(d.into(), 0x1000).is_none());
        assert_eq!(go_name("runtime.futex.abi0"), "runtime.futex");
        assert_eq!(go_name("main.main"), "main.main");
    }
}
