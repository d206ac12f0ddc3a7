//! Our own symbol tables: per module (ELF file or vDSO image), the function symbols of
//! `.symtab` and `.dynsym`, sorted for binary search, cached for the life of the tracer and
//! keyed by the file's identity, so a refresh costs no ELF parsing.
//!
//! A module without `.symtab` (a stripped binary or library) gets the local function symbols
//! of its separate debuginfo merged in (see [`crate::tracer::symbolize::debuginfo`]); one for which none is found
//! is reported as missing debuginfo.
//!
//! Files are opened through `/proc/PID/map_files/` (works for deleted or replaced binaries)
//! and then by path inside the target's root (works across mount namespaces, i.e.
//! containers), both by [`TargetFs`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

use crate::tracer::failures::{InflateLimit, ModuleNote, ModuleProblem};
use crate::tracer::golang::golayout::GoRuntime;
use crate::tracer::golang::gopclntab::{self, GoTable};
use crate::tracer::memory::{PAGE, RemoteMemory};
use crate::tracer::model::{Location, Module, Symbol};
use crate::tracer::procfs::maps::{Mapping, MappingKind, MemoryMaps};
use crate::tracer::procfs::targetfs::{Opened, TargetFs};
use crate::tracer::symbolize::cachedir::CacheRefused;
use crate::tracer::symbolize::debuginfo::{self, DebugLookup, DebugSource};
use crate::tracer::symbolize::demangle::demangle;
use crate::tracer::symbolize::elfparts::Parts;
use crate::tracer::symbolize::filebytes::{FileBytes, FileId};
use crate::tracer::symbolize::linecache::{CacheDir, LineCache};
use crate::tracer::symbolize::lines::{
    LineFrame, MAX_INFLATED, MAX_INFLATED_TOTAL, ModuleLines, NoLines,
};
use crate::tracer::symbolize::perfmap::{self, PerfMap, PerfMaps};
use crate::tracer::text;
use crate::tracer::unwind::cfi_index::{self, CfiIndex};

/// Largest vDSO image we copy out of a target (it is a page or two).
const MAX_VDSO: u64 = 1 << 20;

/// Longest symbol name we show, in characters: real C++ and Rust names stay far below it, and
/// a hostile module cannot make one frame print megabytes.
pub(crate) const MAX_NAME: usize = 8192;

/// Identity of a module's contents: same key, same symbols.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ModuleKey {
    File(FileId),
    Vdso {
        size: u64,
        head: [u8; 64],
    },
    /// A core's module whose file is not here: its path, for the one note about it.
    Missing(PathBuf),
}

/// One function symbol of a module, in the module's own address space.
#[derive(Debug)]
pub(crate) struct Entry {
    address: u64,
    size: u64,
    name: Box<str>,
}

/// The symbols and load segments of one module.
#[derive(Debug, Default)]
pub struct ModuleSymbols {
    /// PT_LOAD segments: (file offset, file size, virtual address).
    segments: Vec<(u64, u64, u64)>,
    entries: Vec<Entry>,
    /// The `.eh_frame_hdr` binary-search table, for the unwinder.
    eh: Option<EhFrameHdr>,
    /// Tables we built for what `.eh_frame_hdr` does not index (see [`cfi_index`]),
    /// consulted after it in this order.
    cfi: Vec<CfiIndex>,
    /// Demangled names, filled on first use (most symbols are never looked up).
    demangled: HashMap<usize, Arc<str>>,
    /// The note if the module has no symbols beyond `.dynsym` (files only).
    missing: Option<Arc<ModuleNote>>,
    /// DWARF for lines and inline frames: `None` until first needed, then what was found.
    lines: Option<Option<ModuleLines>>,
    /// The DWARF was looked up in during this trace (a line cache miss).
    lines_used: bool,
    /// The note if the module's DWARF was too large to load.
    lines_note: Option<Arc<ModuleNote>>,
    /// Where the separate debuginfo was found at symbol load, so the DWARF load does not
    /// search (and checksum) again.
    debug_source: Option<DebugSource>,
    /// The bytes of the file that holds the DWARF (the module's or its debug file), kept from
    /// the symbol load for the DWARF load in the same trace, so a big file is read once and
    /// its uncompressed sections are used in place. Dropped at the end of the trace.
    dwarf_bytes: Option<FileBytes>,
    /// The file that holds the module's DWARF, when lines were wanted at load.
    dwarf_id: Option<FileId>,
    /// Lookups remembered on disk for that file (loaded on the first lookup).
    remembered: Option<LineCache>,
    /// A Go binary's `.gopclntab`: its names when `.symtab` is stripped, its lines when DWARF
    /// is, and its frame sizes for walking goroutine stacks.
    go: Option<Arc<GoTable>>,
    /// What a Go binary says about its runtime's goroutines.
    go_runtime: Option<Arc<GoRuntime>>,
    /// A CPython runtime's exported data symbols, when the module holds `_PyRuntime`.
    python: Option<PythonSymbols>,
}

/// The data symbols of a module that holds a CPython runtime, in the module's own addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PythonSymbols {
    /// `_PyRuntime`.
    pub runtime: u64,
    /// `PyCode_Type`, to check that a code pointer is a code object (0 when absent).
    pub code_type: u64,
    /// `Py_Version` (3.11+: the runtime's `PY_VERSION_HEX`), when exported.
    pub version: Option<u64>,
}

/// The CPython symbols of `file`, if it holds `_PyRuntime` (in `.dynsym`, as every build
/// exports it, or `.symtab`); only data symbols are looked at, and only these three names.
fn python_symbols(file: &object::File<'_>) -> Option<PythonSymbols> {
    let mut found = PythonSymbols {
        runtime: 0,
        code_type: 0,
        version: None,
    };
    for s in file.dynamic_symbols().chain(file.symbols()) {
        if !s.is_definition() || s.kind() == SymbolKind::Text {
            continue;
        }
        match s.name_bytes() {
            Ok(b"_PyRuntime") => found.runtime = s.address(),
            Ok(b"PyCode_Type") => found.code_type = s.address(),
            Ok(b"Py_Version") => found.version = Some(s.address()),
            _ => {}
        }
    }
    (found.runtime != 0).then_some(found)
}

/// A candidate function symbol with the keys that rank aliases at one address (see
/// [`elf_symbols`]): address, size, binding, leading underscores, name length, name.
type Ranked<'a> = (u64, u64, u8, usize, usize, Cow<'a, str>);

/// The function symbols of `file` (`.symtab` and `.dynsym`) and of its separate debug file,
/// ranked so that among aliases at one address the most telling name wins: global before
/// weak before local, then fewer leading underscores, then shorter.
fn elf_symbols<'data>(
    file: &object::File<'data>,
    debug_file: Option<&object::File<'data>>,
) -> Vec<Ranked<'data>> {
    let debug_symbols = debug_file.into_iter().flat_map(|f| f.symbols());
    file.symbols()
        .chain(file.dynamic_symbols())
        .chain(debug_symbols)
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
        .filter_map(|s| {
            // A name that is not UTF-8 is kept (escaped): dropping it would credit its
            // code to the symbol before it.
            let bytes = s.name_bytes().ok().filter(|n| !n.is_empty())?;
            let name = match std::str::from_utf8(bytes) {
                Ok(n) => Cow::Borrowed(n),
                Err(_) => Cow::Owned(text::from_bytes(bytes)),
            };
            let binding = if s.is_weak() {
                1
            } else if s.is_global() {
                0
            } else {
                2
            };
            let underscores = name.bytes().take_while(|&b| b == b'_').count();
            Some((
                s.address(),
                s.size(),
                binding,
                underscores,
                name.len(),
                name,
            ))
        })
        .collect()
}

/// The functions a Go binary's own table names, ranked as global symbols.
fn go_symbols<'n>(table: &GoTable) -> impl Iterator<Item = Ranked<'n>> {
    table.functions().filter_map(|f| {
        let name = text::from_bytes(table.name(f)?);
        let underscores = name.bytes().take_while(|&b| b == b'_').count();
        Some((
            f.entry,
            f.end - f.entry,
            0,
            underscores,
            name.len(),
            Cow::Owned(name),
        ))
    })
}

/// One entry per address, the best-ranked name of its aliases, sorted by address.
fn best_per_address(mut ranked: Vec<Ranked<'_>>) -> Vec<Entry> {
    ranked.sort_unstable();
    ranked.dedup_by_key(|e| e.0);
    ranked
        .into_iter()
        .map(|(address, size, _, _, _, name)| Entry {
            address,
            size,
            name: name.as_ref().into(),
        })
        .collect()
}

/// What a module keeps from its symbol load for its DWARF load (see
/// [`ModuleSymbols::dwarf_bytes`]).
struct KeptDwarf {
    bytes: Option<FileBytes>,
    id: Option<FileId>,
    debug_source: Option<DebugSource>,
}

impl KeptDwarf {
    /// The bytes and identity of the file that holds the DWARF: the module's own (`keep`)
    /// when it has DWARF, else the separate debug file `found` when that has it; and where
    /// the debug file was found in any case.
    fn choose(
        keep: Option<&FileBytes>,
        own_dwarf: bool,
        debug_dwarf: bool,
        found: Option<(FileBytes, DebugSource)>,
    ) -> KeptDwarf {
        let id = if own_dwarf {
            keep.and_then(FileBytes::id)
        } else if debug_dwarf {
            found.as_ref().and_then(|(bytes, _)| bytes.id())
        } else {
            None
        };
        let (debug_bytes, debug_source) = match found {
            Some((bytes, source)) => (debug_dwarf.then_some(bytes), Some(source)),
            None => (None, None),
        };
        let bytes = if own_dwarf {
            keep.cloned()
        } else {
            debug_bytes
        };
        KeptDwarf {
            bytes,
            id,
            debug_source,
        }
    }
}

impl ModuleSymbols {
    /// No symbols, for a file that is not ELF or is malformed. A mapped file (`debug` gives
    /// its display path) is worth a note: its frames will have no names.
    fn unreadable(debug: Option<(&DebugLookup<'_>, &str)>, e: &object::Error) -> ModuleSymbols {
        let missing = debug.map(|(_, path)| {
            Arc::new(ModuleNote {
                module: path.to_string(),
                problem: ModuleProblem::UnreadableElf {
                    cause: text::inert(&e.to_string()).into_owned(),
                },
            })
        });
        ModuleSymbols {
            missing,
            ..ModuleSymbols::default()
        }
    }

    /// Parses an ELF image (a vDSO, a fuzzer's input). A file that is not ELF, or is
    /// malformed, yields no symbols. At most 4 MiB of compressed sections are inflated.
    pub fn parse(data: &[u8]) -> ModuleSymbols {
        let mut inflated = MAX_INFLATED_TOTAL - (4 << 20);
        ModuleSymbols::parse_with(data, None, None, &mut inflated)
    }

    /// Parses an ELF image and, if it has no `.symtab` and `debug` says where to look (and
    /// the module's display path), merges the function symbols of its separate debuginfo.
    /// With `keep`, the shared bytes of `data` itself, the file that holds the module's DWARF
    /// (`data`, or its separate debug file) is kept in `dwarf_bytes`. `inflated` counts what
    /// the tracer has inflated (see [`MAX_INFLATED_TOTAL`]), here a compressed `.debug_frame`.
    fn parse_with(
        data: &[u8],
        debug: Option<(&DebugLookup<'_>, &str)>,
        keep: Option<&FileBytes>,
        inflated: &mut u64,
    ) -> ModuleSymbols {
        let file = match object::File::parse(data) {
            Ok(file) => file,
            Err(e) => return ModuleSymbols::unreadable(debug, &e),
        };
        let has_symtab = file.symbol_table().is_some();
        let found = if has_symtab {
            None
        } else {
            debug.and_then(|(lookup, _)| debuginfo::find(&file, lookup))
        };
        let debug_file = found
            .as_ref()
            .and_then(|(d, _)| object::File::parse(&**d).ok());
        let segments = file
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (off, size, s.address())
            })
            .collect();
        let mut ranked = elf_symbols(&file, debug_file.as_ref());
        let go = GoTable::parse(&file).map(Arc::new);
        let go_runtime = go.as_ref().map(|t| Arc::new(GoRuntime::read(&file, t)));
        let python = python_symbols(&file);
        // A stripped Go binary still names every function in its own table.
        let go_names = !has_symtab && go.is_some();
        if let Some(table) = go.as_ref().filter(|_| go_names) {
            ranked.extend(go_symbols(table));
        }
        let entries = best_per_address(ranked);
        let eh = eh_frame_hdr(data);
        let mut left = MAX_INFLATED_TOTAL.saturating_sub(*inflated);
        let cfi = cfi_index::build(&file, eh.is_some(), debug_file.as_ref(), &mut left);
        *inflated = MAX_INFLATED_TOTAL.saturating_sub(left);
        let missing = match debug {
            Some((_, path)) if !has_symtab && debug_file.is_none() && !go_names => {
                let build_id = file.build_id().ok().flatten();
                Some(Arc::new(ModuleNote {
                    module: path.to_string(),
                    problem: ModuleProblem::NoDebuginfo {
                        build_id: build_id.filter(|id| id.len() >= 2).map(<[u8]>::to_vec),
                    },
                }))
            }
            _ => None,
        };
        let own_dwarf = keep.is_some() && crate::tracer::symbolize::lines::has_dwarf(&file);
        let debug_dwarf = keep.is_some()
            && debug_file
                .as_ref()
                .is_some_and(crate::tracer::symbolize::lines::has_dwarf);
        // `debug_file` borrows the bytes of `found`, which `KeptDwarf::choose` takes.
        drop(debug_file);
        let KeptDwarf {
            bytes: dwarf_bytes,
            id: dwarf_id,
            debug_source,
        } = KeptDwarf::choose(keep, own_dwarf, debug_dwarf, found);
        ModuleSymbols {
            segments,
            entries,
            eh,
            cfi,
            demangled: HashMap::new(),
            missing,
            lines: None,
            lines_used: false,
            lines_note: None,
            debug_source,
            dwarf_bytes,
            dwarf_id,
            remembered: None,
            go,
            go_runtime,
            python,
        }
    }

    /// The load bias of a mapping of this module that starts at `start` with file offset
    /// `offset`: run-time address minus the module's own address. The loader maps each PT_LOAD
    /// segment from its page-aligned file offset to its page-aligned address, so the segment
    /// whose aligned offset equals the mapping's offset tells the bias (the segment's address
    /// and offset may differ, as in lld-linked binaries).
    pub(crate) fn bias(&self, start: u64, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(off, _, _)| off & !(PAGE - 1) == offset)
            .or_else(|| {
                self.segments
                    .iter()
                    .find(|(off, size, _)| offset >= *off && offset - off < *size)
            })
            .map(|(off, _, vaddr)| {
                let vaddr_of_offset = vaddr.wrapping_add(offset).wrapping_sub(*off);
                start.wrapping_sub(vaddr_of_offset)
            })
    }

    /// The symbol containing virtual address `vaddr`: (index, entry).
    pub(crate) fn lookup(&self, vaddr: u64) -> Option<(usize, &Entry)> {
        let i = self
            .entries
            .partition_point(|e| e.address <= vaddr)
            .checked_sub(1)?;
        let e = &self.entries[i];
        // `address + size` may overflow with a hostile symbol size; the difference cannot.
        (e.size == 0 || vaddr - e.address < e.size).then_some((i, e))
    }

    /// Loads the module's DWARF into `lines` on first use: its own, or its separate
    /// debuginfo's.
    fn load_lines_once(&mut self, from: &mut DwarfFrom<'_>, mapping: &Mapping) {
        if self.lines.is_some() {
            return;
        }
        let MappingKind::File(path) = &mapping.kind else {
            self.lines = Some(None);
            return;
        };
        let mut left = MAX_INFLATED_TOTAL.saturating_sub(*from.inflated);
        let loaded = load_lines(
            from.fs,
            mapping,
            path,
            from.debug_dirs,
            self.debug_source.as_ref(),
            self.dwarf_bytes.take(),
            &mut left,
        );
        *from.inflated = MAX_INFLATED_TOTAL - left;
        if let Err(NoLines::TooLarge { claimed }) = loaded {
            self.lines_note = Some(Arc::new(too_large_note(
                mapping.display_path(),
                claimed,
                left,
            )));
        }
        self.lines = Some(loaded.ok());
    }

    /// What DWARF says about `vaddr` (see [`ModuleLines::frames`]): remembered on disk from
    /// an earlier run if `cache` is given and has it, else looked up (and remembered, with
    /// every address of `window` around it when given).
    fn line_frames(
        &mut self,
        from: &mut DwarfFrom<'_>,
        mapping: &Mapping,
        cache: Option<&CacheDir>,
        vaddr: u64,
        window: Option<(u64, u64)>,
    ) -> (Vec<LineFrame>, bool) {
        if self.remembered.is_none()
            && let (Some(dir), Some(id)) = (cache, self.dwarf_id)
        {
            self.remembered = Some(LineCache::load(dir, &id));
        }
        if let Some(hit) = self.remembered.as_mut().and_then(|r| r.get(vaddr)) {
            return (hit.clone(), true);
        }
        self.load_lines_once(from, mapping);
        // The DWARF and the remembered lookups, borrowed side by side. Nothing is remembered
        // when the load failed: it may have failed for a passing reason (out of files).
        let Some(Some(lines)) = &self.lines else {
            return (Vec::new(), false);
        };
        self.lines_used = true;
        let Some(remembered) = &mut self.remembered else {
            return (lines.frames(vaddr), false);
        };
        let (lo, hi) = window
            .filter(|&(lo, hi)| lo <= vaddr && vaddr < hi)
            .unwrap_or((vaddr, vaddr.saturating_add(1)));
        let found = remembered.remember(lo, hi, vaddr, |v| lines.frames(v));
        (found, false)
    }

    pub(crate) fn demangled(&mut self, index: usize) -> Arc<str> {
        let raw = &self.entries[index].name;
        let is_go = self.go.is_some();
        self.demangled
            .entry(index)
            .or_insert_with(|| {
                // Go shows assembly functions without the ELF symbol's ABI suffix.
                let name = if is_go {
                    Cow::Borrowed(gopclntab::go_name(raw))
                } else {
                    demangle(raw)
                };
                Arc::from(text::inert_bounded(&name, MAX_NAME))
            })
            .clone()
    }
}

/// Where modules' DWARF is loaded from, and what the tracer has inflated so far (see
/// [`MAX_INFLATED_TOTAL`]).
struct DwarfFrom<'a> {
    fs: &'a TargetFs,
    debug_dirs: &'a [PathBuf],
    inflated: &'a mut u64,
}

/// Where a module's `.eh_frame_hdr` search table lies, in the module's own addresses.
#[derive(Debug, Clone, Copy)]
struct EhFrameHdr {
    hdr_vaddr: u64,
    table_vaddr: u64,
    fde_count: u64,
}

/// Finds PT_GNU_EH_FRAME and reads its header. Only the layout libunwind can search is
/// accepted: a 4-byte eh_frame pointer, a udata4 count and a datarel sdata4 table.
fn eh_frame_hdr(data: &[u8]) -> Option<EhFrameHdr> {
    use object::elf::{FileHeader64, PT_GNU_EH_FRAME};
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = FileHeader64::<object::Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let phdr = header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .find(|p| p.p_type(endian) == PT_GNU_EH_FRAME)?;
    let off = phdr.p_offset(endian) as usize;
    let hdr = data.get(off..off.checked_add(12)?)?;
    let (version, ptr_enc, count_enc, table_enc) = (hdr[0], hdr[1], hdr[2], hdr[3]);
    // DW_EH_PE_udata4 = 0x03, DW_EH_PE_sdata4 = 0x0b, DW_EH_PE_datarel = 0x30.
    if version != 1
        || ptr_enc & 0x0f != 0x0b && ptr_enc & 0x0f != 0x03
        || count_enc != 0x03
        || table_enc != 0x3b
    {
        return None;
    }
    let fde_count = u32::from_le_bytes(hdr[8..12].try_into().ok()?) as u64;
    let hdr_vaddr = phdr.p_vaddr(endian);
    Some(EhFrameHdr {
        hdr_vaddr,
        // A hostile p_vaddr may sit at the top of the address space: wrap, like the bias.
        table_vaddr: hdr_vaddr.wrapping_add(12),
        fde_count,
    })
}

/// A module's unwind table placed at its run-time address: what libunwind's
/// `UNW_INFO_FORMAT_REMOTE_TABLE` needs to search it in the target's memory, or in an image
/// of ours that the unwinder serves at a synthetic address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwindTable {
    /// The executable mapping the table covers.
    pub start: u64,
    pub end: u64,
    /// Run-time address of `.eh_frame_hdr` (the table's data-relative base).
    pub segbase: u64,
    /// Run-time address of the search table.
    pub table_data: u64,
    /// Number of table entries.
    pub fde_count: u64,
    /// A table we built: its image (table, and any records), and the address it is read at.
    pub image: Option<(u64, Arc<[u8]>)>,
}

/// Resolves addresses of traced processes to modules and symbols.
#[derive(Debug, Default)]
pub struct Symbolizer {
    modules: HashMap<ModuleKey, ModuleSymbols>,
    /// Extra directories searched for debuginfo, each treated like `/usr/lib/debug`.
    debug_dirs: Vec<PathBuf>,
    /// Where lookups in DWARF are remembered between runs (`None`: nowhere).
    line_cache: Option<CacheDir>,
    /// The path `line_cache` was opened from.
    line_cache_path: Option<PathBuf>,
    /// Why that path is not used, until taken.
    line_cache_refused: Option<CacheRefused>,
    /// Addresses whose lines came from the disk cache, and from DWARF, since the last take.
    line_counts: (usize, usize),
    /// What the loaded modules' compressed DWARF claimed to inflate to, in all.
    inflated: u64,
    /// The targets' perf maps, each read again only when its file changed.
    perf_maps: PerfMaps,
}

/// A process's Go binary: its `.gopclntab`, what it says about the runtime, and where it is
/// loaded.
#[derive(Debug, Clone)]
pub struct GoModule {
    pub table: Arc<GoTable>,
    pub runtime: Arc<GoRuntime>,
    /// Run-time address minus the module's own.
    pub bias: u64,
}

/// What to resolve besides the module.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    /// The function symbol.
    pub symbols: bool,
    /// Source lines and inlined functions (only with `symbols`).
    pub lines: bool,
}

/// What a lookup found for one address.
#[derive(Clone)]
pub struct Resolved {
    pub module: Option<Module>,
    pub symbol: Option<Symbol>,
    /// With symbols requested: the note if the module has only exported symbols, or its
    /// frames no names or lines for another reason.
    pub missing_debuginfo: Option<Arc<ModuleNote>>,
    /// With lines requested: the source line of the address (of the call, for a frame with
    /// inlined functions), when DWARF covers it.
    pub location: Option<Location>,
    /// With lines requested: the functions inlined at the address, innermost first, each
    /// with its symbol (at the frame's `ip`, offset 0) and location.
    pub inlined: Vec<(Option<Symbol>, Option<Location>)>,
    /// The symbol came from the target's perf map (JIT code): the frame's kind is `Jit`. Its
    /// module is [`perfmap::MODULE`].
    pub jit: bool,
}

impl Resolved {
    /// The module alone: no symbol (none asked for, or none found) and so no source lines.
    fn module_only(module: Module, missing_debuginfo: Option<Arc<ModuleNote>>) -> Resolved {
        Resolved {
            module: Some(module),
            symbol: None,
            missing_debuginfo,
            location: None,
            inlined: Vec::new(),
            jit: false,
        }
    }
}

/// The functions inlined at an address, innermost first, each with its symbol and location.
type InlinedFrames = Vec<(Option<Symbol>, Option<Location>)>;

/// The addresses of a frame for a source-line lookup (see [`Symbolizer::resolve`]).
#[derive(Clone, Copy)]
struct SourceAt {
    /// The frame's address.
    ip: u64,
    /// The address that finds its function (one byte back for a return address).
    lookup_ip: u64,
    /// `lookup_ip` in the module's own address space.
    lookup_vaddr: u64,
}

impl ModuleSymbols {
    /// The source location of a frame and the functions inlined there, from the module's
    /// DWARF (or, without DWARF, a Go binary's own table); true when the lookup was answered
    /// by the line cache.
    fn source_at(
        &mut self,
        from: &mut DwarfFrom<'_>,
        mapping: &Mapping,
        cache: Option<&CacheDir>,
        at: SourceAt,
    ) -> (Option<Location>, InlinedFrames, bool) {
        let SourceAt {
            ip,
            lookup_ip,
            lookup_vaddr,
        } = at;
        // A running thread is seldom caught at the same address twice: for a frame's own
        // address (not a return address), remember the code around it in its function too,
        // so that the next run finds it there instead of loading the DWARF again.
        let window = (lookup_ip == ip)
            .then(|| self.lookup(lookup_vaddr).map(|(_, e)| (e.address, e.size)))
            .flatten()
            .filter(|&(_, size)| size > 0)
            .map(|(start, size)| {
                (
                    lookup_vaddr.saturating_sub(RUNNING_WINDOW).max(start),
                    lookup_vaddr
                        .saturating_add(RUNNING_WINDOW)
                        .min(start.saturating_add(size)),
                )
            });
        let (found, remembered) = self.line_frames(from, mapping, cache, lookup_vaddr, window);
        let (location, inlined) = split_line_frames(found, ip);
        // Without DWARF, a Go binary's own table still knows the lines and inlined calls.
        let (location, inlined) = match (&self.go, location) {
            (Some(go), None) if inlined.is_empty() => go_frames(go, lookup_vaddr, ip),
            (_, location) => (location, inlined),
        };
        (location, inlined, remembered)
    }
}

impl Symbolizer {
    pub fn new() -> Symbolizer {
        Symbolizer::default()
    }

    /// Drops the file bytes kept from this trace's symbol loads for DWARF loads that did not
    /// happen (modules in no stack), and saves newly remembered lookups.
    ///
    /// A module's DWARF that no lookup needed in this trace, while the line cache answered
    /// (every stack seen before), is dropped too: loaded again on the next miss. The DWARF of a
    /// module in which a running thread keeps meeting new addresses stays.
    pub fn end_trace(&mut self) {
        for m in self.modules.values_mut() {
            m.dwarf_bytes = None;
            if let Some(r) = &mut m.remembered {
                r.save();
                if !m.lines_used
                    && let Some(Some(lines)) = &m.lines
                {
                    self.inflated = self.inflated.saturating_sub(lines.claimed);
                    m.lines = None;
                }
            }
            m.lines_used = false;
        }
    }

    /// Remembers DWARF lookups in files under `dir` between runs (`None`: not at all). A
    /// directory that others could redirect or write to is not used, and says why once.
    pub fn set_line_cache(&mut self, dir: Option<&Path>) {
        if self.line_cache_path.as_deref() != dir {
            self.line_cache_path = dir.map(Path::to_path_buf);
            let opened = dir.map(CacheDir::open).transpose();
            self.line_cache_refused = opened.as_ref().err().cloned();
            self.line_cache = opened.ok().flatten();
            for m in self.modules.values_mut() {
                m.remembered = None;
            }
        }
    }

    /// Why the line cache directory is not used, if it was refused (once).
    pub fn take_line_cache_refused(&mut self) -> Option<CacheRefused> {
        self.line_cache_refused.take()
    }

    /// (from the disk cache, from DWARF): addresses whose lines were found each way since
    /// the last call.
    pub fn take_line_counts(&mut self) -> (usize, usize) {
        std::mem::take(&mut self.line_counts)
    }

    /// Number of modules whose symbols are cached.
    pub fn cached_modules(&self) -> usize {
        self.modules.len()
    }

    /// Sets the extra debuginfo directories used for modules loaded from now on (modules
    /// already cached keep what was found for them).
    pub fn set_debug_dirs(&mut self, dirs: &[PathBuf]) {
        if self.debug_dirs != dirs {
            self.debug_dirs = dirs.to_vec();
        }
    }

    /// The symbols of `mapping`'s module, loaded on first use (keyed through `keys`).
    fn module_of(&mut self, mapping: &Mapping, keys: &mut KeyCache) -> Option<&ModuleSymbols> {
        let key = keys.key_for(
            mapping,
            &mut self.modules,
            &self.debug_dirs,
            &mut self.inflated,
        )?;
        self.modules.get(&key)
    }

    /// Loads the modules of every executable mapping (before any thread is stopped, so the
    /// stop is not spent parsing ELF) and returns their unwind tables at run-time addresses:
    /// per mapping, the module's `.eh_frame_hdr` first, then the tables we built for it.
    pub fn unwind_tables(&mut self, maps: &MemoryMaps, keys: &mut KeyCache) -> Vec<UnwindTable> {
        let mut tables = Vec::new();
        for mapping in maps.iter() {
            let Some(ms) = self.module_of(mapping, keys) else {
                continue;
            };
            let Some(bias) = ms.bias(mapping.start, mapping.offset) else {
                continue;
            };
            if let Some(eh) = ms.eh {
                tables.push(UnwindTable {
                    start: mapping.start,
                    end: mapping.end,
                    segbase: eh.hdr_vaddr.wrapping_add(bias),
                    table_data: eh.table_vaddr.wrapping_add(bias),
                    fde_count: eh.fde_count,
                    image: None,
                });
            }
            for placed in ms.cfi.iter().filter_map(|c| c.place(bias)) {
                tables.push(UnwindTable {
                    start: mapping.start,
                    end: mapping.end,
                    segbase: placed.segbase,
                    table_data: placed.table_data,
                    fde_count: placed.count,
                    image: Some((placed.image_at, placed.image)),
                });
            }
        }
        tables
    }

    /// The first module of `maps` that is a Go binary, if any.
    pub fn go_module(&mut self, maps: &MemoryMaps, keys: &mut KeyCache) -> Option<GoModule> {
        maps.iter().find_map(|mapping| {
            let ms = self.module_of(mapping, keys)?;
            Some(GoModule {
                table: ms.go.clone()?,
                runtime: ms.go_runtime.clone()?,
                bias: ms.bias(mapping.start, mapping.offset)?,
            })
        })
    }

    /// The module of `maps` that holds a CPython runtime (a `libpython3.*` first, as a pyenv
    /// `python` links one, else any, e.g. a static interpreter): its path as the target sees
    /// it, its CPython symbols and its load bias.
    pub fn python_module(
        &mut self,
        maps: &MemoryMaps,
        keys: &mut KeyCache,
    ) -> Option<(PathBuf, PythonSymbols, u64)> {
        let mut found: Option<(PathBuf, PythonSymbols, u64)> = None;
        for mapping in maps.iter() {
            let MappingKind::File(path) = &mapping.kind else {
                continue;
            };
            if found.as_ref().is_some_and(|(p, _, _)| p == path) {
                continue;
            }
            let Some(ms) = self.module_of(mapping, keys) else {
                continue;
            };
            let (Some(py), Some(bias)) = (ms.python, ms.bias(mapping.start, mapping.offset)) else {
                continue;
            };
            let libpython = path
                .file_name()
                .is_some_and(|n| n.as_bytes().starts_with(b"libpython3"));
            if found.is_none() || libpython {
                found = Some((path.clone(), py, bias));
            }
            if libpython {
                break;
            }
        }
        found
    }

    /// Resolves `ip` in `mapping` of the process of `keys`. `lookup_ip` is the address used to find
    /// the function (for a return address, one byte before it, inside the call instruction).
    /// With `want.symbols` false only the module is resolved; with `want.lines` also the
    /// source line and the inlined functions (from the module's DWARF, loaded on first use).
    pub fn resolve(
        &mut self,
        mapping: &Mapping,
        ip: u64,
        lookup_ip: u64,
        want: Want,
        keys: &mut KeyCache,
    ) -> Resolved {
        let Want { symbols, lines } = want;
        let path = mapping.display_path();
        let key = keys.key_for(
            mapping,
            &mut self.modules,
            &self.debug_dirs,
            &mut self.inflated,
        );
        let module_syms = key.as_ref().and_then(|k| self.modules.get_mut(k));
        let file_offset = |a: u64| a - mapping.start + mapping.offset;
        let Some(ms) = module_syms else {
            let module = Module {
                path,
                offset: file_offset(ip),
            };
            return Resolved::module_only(module, None);
        };
        let Some(bias) = ms.bias(mapping.start, mapping.offset) else {
            let module = Module {
                path,
                offset: file_offset(ip),
            };
            return Resolved::module_only(module, ms.missing.clone().filter(|_| symbols));
        };
        let vaddr = ip.wrapping_sub(bias);
        let module = Module {
            path,
            offset: vaddr,
        };
        if !symbols {
            return Resolved::module_only(module, None);
        }
        let lookup_vaddr = lookup_ip.wrapping_sub(bias);
        let (location, inlined) = if lines {
            let mut from = DwarfFrom {
                fs: &keys.fs,
                debug_dirs: &self.debug_dirs,
                inflated: &mut self.inflated,
            };
            let at = SourceAt {
                ip,
                lookup_ip,
                lookup_vaddr,
            };
            let (location, inlined, remembered) =
                ms.source_at(&mut from, mapping, self.line_cache.as_ref(), at);
            if remembered {
                self.line_counts.0 += 1;
            } else {
                self.line_counts.1 += 1;
            }
            (location, inlined)
        } else {
            (None, Vec::new())
        };
        let missing_debuginfo = ms.missing.clone().or_else(|| ms.lines_note.clone());
        let Some((index, entry)) = ms.lookup(lookup_vaddr) else {
            return Resolved::module_only(module, missing_debuginfo);
        };
        let (address, size) = (entry.address, entry.size);
        let raw_name = text::inert_bounded(&entry.name, MAX_NAME);
        let name = ms.demangled(index).to_string();
        let offset = vaddr.wrapping_sub(address);
        let symbol = Some(Symbol {
            name,
            raw_name,
            offset,
            address: ip.wrapping_sub(offset),
            size,
        });
        Resolved {
            module: Some(module),
            symbol,
            missing_debuginfo,
            location,
            inlined,
            jit: false,
        }
    }

    /// The perf map of the process of `keys` (read at most once per change of its file).
    pub fn perf_map(&mut self, keys: &KeyCache) -> Option<Arc<PerfMap>> {
        self.perf_maps.get(&keys.fs)
    }
}

/// `ip` in an anonymous `mapping`, named by the target's perf map `map` if a line covers
/// `lookup_ip` (see [`Symbolizer::resolve`]).
pub fn resolve_jit(map: &PerfMap, mapping: &Mapping, ip: u64, lookup_ip: u64) -> Option<Resolved> {
    let entry = map.lookup(lookup_ip)?;
    let offset = ip.wrapping_sub(entry.start);
    Some(Resolved {
        module: Some(Module {
            path: perfmap::MODULE.into(),
            offset: ip - mapping.start + mapping.offset,
        }),
        symbol: Some(Symbol {
            name: entry.name.to_string(),
            raw_name: entry.name.to_string(),
            offset,
            address: entry.start,
            size: entry.size,
        }),
        missing_debuginfo: None,
        location: None,
        inlined: Vec::new(),
        jit: true,
    })
}

/// Splits what DWARF says about an address into the physical frame's location and the
/// inlined functions (innermost first) with their symbols at `ip`.
fn split_line_frames(mut found: Vec<LineFrame>, ip: u64) -> (Option<Location>, InlinedFrames) {
    // DWARF names and paths are as long as the module likes: bound them like symbol names.
    let bound = |s: String| text::inert_bounded(&s, MAX_NAME);
    let bound_location = |l: Option<Location>| {
        l.map(|l| Location {
            file: bound(l.file),
            ..l
        })
    };
    let Some(physical) = found.pop() else {
        return (None, Vec::new());
    };
    let inlined = found
        .into_iter()
        .map(|f| {
            let symbol = f.name.map(bound).map(|name| Symbol {
                raw_name: f.raw_name.map(bound).unwrap_or_else(|| name.clone()),
                name,
                offset: 0,
                address: ip,
                size: 0,
            });
            (symbol, bound_location(f.location))
        })
        .collect();
    (bound_location(physical.location), inlined)
}

/// What `.gopclntab` says of a module address: the physical frame's file:line and the
/// functions inlined there, innermost first, each with its symbol at `ip`.
fn go_frames(go: &GoTable, vaddr: u64, ip: u64) -> (Option<Location>, InlinedFrames) {
    let bound = |b: &[u8]| text::inert_bounded(&text::from_bytes(b), MAX_NAME);
    let location = |l: Option<(&[u8], u32)>| {
        l.map(|(file, line)| Location {
            file: bound(file),
            line,
            column: None,
        })
    };
    let (inlined, physical) = go.inlined(vaddr);
    let inlined = inlined
        .into_iter()
        .map(|(name, at)| {
            let name = bound(name);
            let symbol = Symbol {
                raw_name: name.clone(),
                name,
                offset: 0,
                address: ip,
                size: 0,
            };
            (Some(symbol), location(at))
        })
        .collect();
    (location(physical), inlined)
}

/// How far around a frame's own address (in bytes, each way, within its function) lookups
/// are remembered: a spinning thread's loop usually fits.
const RUNNING_WINDOW: u64 = 64;

/// Per-trace memo from mapping start to module key, so each module is opened once per trace;
/// and the target's file system, where modules are opened.
#[derive(Debug)]
pub struct KeyCache {
    keys: HashMap<u64, Option<ModuleKey>>,
    fs: TargetFs,
    /// Source lines are wanted: keep a new module's DWARF file bytes for the DWARF load.
    keep_dwarf: bool,
}

impl KeyCache {
    /// An empty memo for process `pid`; `keep_dwarf`: source lines are wanted.
    pub fn new(pid: i32, keep_dwarf: bool) -> KeyCache {
        KeyCache {
            keys: HashMap::new(),
            fs: TargetFs::new(pid),
            keep_dwarf,
        }
    }

    /// An empty memo for a core file mounted as `source`, its files opened inside `root`.
    pub fn for_core(source: i32, root: &Path, keep_dwarf: bool) -> KeyCache {
        KeyCache {
            keys: HashMap::new(),
            fs: TargetFs::for_core(source, root),
            keep_dwarf,
        }
    }

    fn key_for(
        &mut self,
        mapping: &Mapping,
        modules: &mut HashMap<ModuleKey, ModuleSymbols>,
        debug_dirs: &[PathBuf],
        inflated: &mut u64,
    ) -> Option<ModuleKey> {
        self.keys
            .entry(mapping.start)
            .or_insert_with(|| {
                let keep = self.keep_dwarf;
                load(&self.fs, mapping, modules, debug_dirs, keep, inflated)
            })
            .clone()
    }
}

/// Identifies the module behind `mapping` and, if it is not cached yet, parses it.
fn load(
    fs: &TargetFs,
    mapping: &Mapping,
    modules: &mut HashMap<ModuleKey, ModuleSymbols>,
    debug_dirs: &[PathBuf],
    keep_dwarf: bool,
    inflated: &mut u64,
) -> Option<ModuleKey> {
    match &mapping.kind {
        MappingKind::File(path) => {
            let Some(opened) = open_module(fs, mapping, path) else {
                return missing_from_core(fs, mapping, path, modules);
            };
            let meta = &opened.meta;
            let key = ModuleKey::File(FileId::of(meta));
            if !modules.contains_key(&key) {
                let data = FileBytes::read_parts(opened, Parts::Symbols).ok()?;
                if let Some(wrong) = not_the_dumped_file(fs, mapping, &data) {
                    modules.insert(key.clone(), wrong);
                    return Some(key);
                }
                let lookup = DebugLookup {
                    fs,
                    module_path: path,
                    dirs: debug_dirs,
                };
                let display = mapping.display_path();
                let parsed = ModuleSymbols::parse_with(
                    &data,
                    Some((&lookup, &display)),
                    keep_dwarf.then_some(&data),
                    inflated,
                );
                modules.insert(key.clone(), parsed);
            }
            Some(key)
        }
        MappingKind::Vdso => {
            let size = (mapping.end - mapping.start).min(MAX_VDSO) as usize;
            let mut data = vec![0u8; size];
            let read = RemoteMemory::new(fs.pid()).read_once(mapping.start, &mut data)?;
            data.truncate(read);
            let mut head = [0u8; 64];
            let n = head.len().min(data.len());
            head[..n].copy_from_slice(&data[..n]);
            let key = ModuleKey::Vdso {
                size: data.len() as u64,
                head,
            };
            modules
                .entry(key.clone())
                .or_insert_with(|| ModuleSymbols::parse(&data));
            Some(key)
        }
        MappingKind::Other(_) => None,
    }
}

/// Reads the DWARF of the module behind `mapping`: from the file itself or, when it has
/// none, from its separate debuginfo. `bytes` are that file's, if the symbol load kept them.
fn load_lines(
    fs: &TargetFs,
    mapping: &Mapping,
    path: &Path,
    debug_dirs: &[PathBuf],
    known: Option<&DebugSource>,
    bytes: Option<FileBytes>,
    budget: &mut u64,
) -> Result<ModuleLines, NoLines> {
    // Kept bytes read in parts hold no DWARF yet: read those sections now, from the same file.
    if let Some(bytes) = bytes.and_then(|b| b.with_dwarf().ok())
        && let Ok(parsed) = object::File::parse(&*bytes)
        && crate::tracer::symbolize::lines::has_dwarf(&parsed)
    {
        return ModuleLines::load(&parsed, Some(&bytes), budget);
    }
    let data = open_module(fs, mapping, path)
        .and_then(|opened| FileBytes::read_parts(opened, Parts::Dwarf).ok())
        .ok_or(NoLines::Missing)?;
    let parsed = object::File::parse(&*data).map_err(|_| NoLines::Missing)?;
    if crate::tracer::symbolize::lines::has_dwarf(&parsed) {
        return ModuleLines::load(&parsed, Some(&data), budget);
    }
    let debug = match known {
        // Found when the symbols were loaded: read that file, do not search again.
        Some(source) => source
            .file()
            .and_then(|place| FileBytes::read_parts(place.open(fs).ok()?, Parts::Dwarf).ok()),
        None => {
            let lookup = DebugLookup {
                fs,
                module_path: path,
                dirs: debug_dirs,
            };
            debuginfo::find(&parsed, &lookup).and_then(|(bytes, _)| bytes.with_dwarf().ok())
        }
    }
    .ok_or(NoLines::Missing)?;
    let debug_file = object::File::parse(&*debug).map_err(|_| NoLines::Missing)?;
    ModuleLines::load(&debug_file, Some(&debug), budget)
}

/// The note for a module whose DWARF claims to inflate to more than we allow.
fn too_large_note(module: String, claimed: u64, left: u64) -> ModuleNote {
    let limit = if claimed > MAX_INFLATED {
        InflateLimit::PerFile {
            bytes: MAX_INFLATED,
        }
    } else {
        InflateLimit::TracerLeft { bytes: left }
    };
    ModuleNote {
        module,
        problem: ModuleProblem::DebugInfoTooLarge { claimed, limit },
    }
}

/// Opens the file behind a mapping: first as the target mapped it, then by its path inside
/// the target's root.
/// For a core's module: no symbols and a note when the file here has another build-id than
/// the one the core holds in the module's first page (a file updated since the dump). A core
/// without that page, or a file without a build-id, is taken as it is.
fn not_the_dumped_file(fs: &TargetFs, mapping: &Mapping, data: &[u8]) -> Option<ModuleSymbols> {
    if !crate::tracer::memory::is_mounted(fs.pid()) {
        return None;
    }
    let base = mapping.start.checked_sub(mapping.offset)?;
    let core = crate::tracer::coredump::build_id_at(fs.pid(), base)?;
    let file = object::File::parse(data)
        .ok()?
        .build_id()
        .ok()
        .flatten()?
        .to_vec();
    (file != core).then(|| ModuleSymbols {
        missing: Some(Arc::new(ModuleNote {
            module: mapping.display_path(),
            problem: ModuleProblem::BuildIdMismatch { file, core },
        })),
        ..ModuleSymbols::default()
    })
}

/// For a core's module whose file cannot be opened: a module of no symbols whose note says
/// how to give the file (a live process's mapped file is always there through `/proc`).
fn missing_from_core(
    fs: &TargetFs,
    mapping: &Mapping,
    path: &Path,
    modules: &mut HashMap<ModuleKey, ModuleSymbols>,
) -> Option<ModuleKey> {
    if !crate::tracer::memory::is_mounted(fs.pid()) {
        return None;
    }
    let key = ModuleKey::Missing(path.to_path_buf());
    modules.entry(key.clone()).or_insert_with(|| ModuleSymbols {
        missing: Some(Arc::new(ModuleNote {
            module: mapping.display_path(),
            problem: ModuleProblem::NotFound,
        })),
        ..ModuleSymbols::default()
    });
    Some(key)
}

fn open_module(fs: &TargetFs, mapping: &Mapping, path: &Path) -> Option<Opened> {
    if let Ok(opened) = fs.open_mapped(mapping.start, mapping.end) {
        return Some(opened);
    }
    let bytes = path.as_os_str().as_encoded_bytes();
    let bytes = bytes.strip_suffix(b" (deleted)").unwrap_or(bytes);
    let opened = fs
        .open(Path::new(std::ffi::OsStr::from_bytes(bytes)))
        .ok()?;
    // A path that now names another file (the binary was replaced) would give wrong symbols.
    // A core records no inode (0): its modules are checked by build-id instead.
    (mapping.inode == 0 || opened.meta.ino() == mapping.inode).then_some(opened)
}
