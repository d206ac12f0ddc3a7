//! Which byte ranges of an ELF file a load needs: its headers, then the sections a symbol load
//! (symbol and string tables, notes, unwind data, debug links) or a DWARF load also reads. A
//! file that may not be mapped is read only there (see [`super::filebytes`]), not whole:
//! glibc's 1.9 MB and its debug file's 4.2 MB come down to their tables.

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};

/// What a load will read of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parts {
    /// Symbols, build-id and debug links, unwind tables: the symbol load.
    Symbols,
    /// All of those and the DWARF sections lines are looked up in.
    Dwarf,
}

/// What to read of a file, as far as the bytes read so far tell.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// These byte ranges (start, end), unclipped, perhaps overlapping.
    Ranges(Vec<(u64, u64)>),
    /// All of it: not ELF, or a Go binary (whose runtime tables are read from its data).
    Whole,
}

/// The first bytes read of any file: the ELF header, and most often its program headers.
pub(crate) const FIRST: u64 = 4096;

/// The ranges needed, judged from `image` (the file's layout, zeros where nothing was read
/// yet, its first [`FIRST`] bytes read): the first page; the header tables it names; the section names once those are read;
/// then each section `parts` wants. A caller reads what is new and asks again, until nothing
/// is: every step follows from bytes an earlier one read.
pub(crate) fn plan(image: &[u8], parts: Parts) -> Plan {
    // The class byte of the identification (EI_CLASS).
    let class = image.get(4).map(|&c| elf::FileClass(c));
    if class == Some(elf::ELFCLASS64) {
        plan_for::<elf::FileHeader64<Endianness>>(image, parts)
    } else if class == Some(elf::ELFCLASS32) {
        plan_for::<elf::FileHeader32<Endianness>>(image, parts)
    } else {
        Plan::Whole
    }
}

fn plan_for<Elf: FileHeader<Endian = Endianness>>(image: &[u8], parts: Parts) -> Plan {
    let Ok(header) = Elf::parse(image) else {
        return Plan::Whole;
    };
    let Ok(endian) = header.endian() else {
        return Plan::Whole;
    };
    let span = |start: u64, len: u64| (start, start.saturating_add(len));
    let table = |start: u64, count: u64, size: u16| span(start, count.saturating_mul(size.into()));
    let shoff: u64 = header.e_shoff(endian).into();
    let shentsize = header.e_shentsize(endian);
    let mut want = vec![
        (0, FIRST),
        table(
            header.e_phoff(endian).into(),
            header.e_phnum(endian).into(),
            header.e_phentsize(endian),
        ),
        // Section 0 may hold the real section count (extended numbering).
        table(shoff, 1, shentsize),
    ];
    if let Ok(count) = header.shnum(endian, image) {
        want.push(table(shoff, count.into(), shentsize));
    }
    if let Ok(segments) = header.program_headers(endian, image) {
        let needed = segments
            .iter()
            .filter(|p| [elf::PT_GNU_EH_FRAME, elf::PT_NOTE].contains(&p.p_type(endian)));
        want.extend(needed.map(|p| {
            let (start, len) = p.file_range(endian);
            span(start, len)
        }));
    }
    let Ok(headers) = header.section_headers(endian, image) else {
        return Plan::Ranges(want);
    };
    if let Ok(index) = header.shstrndx(endian, image)
        && let Some((start, len)) = headers
            .get(index as usize)
            .and_then(|s| s.file_range(endian))
    {
        want.push(span(start, len));
    }
    let Ok(sections) = header.sections(endian, image) else {
        return Plan::Ranges(want);
    };
    for section in sections.iter() {
        let name = sections.section_name(endian, section).unwrap_or_default();
        if is_go(name) {
            return Plan::Whole;
        }
        if wanted(parts, section.sh_type(endian), name)
            && let Some((start, len)) = section.file_range(endian)
        {
            want.push(span(start, len));
        }
    }
    Plan::Ranges(want)
}

/// Sections a symbol load reads by name (all of them small next to code and DWARF).
const SYMBOL_SECTIONS: [&[u8]; 6] = [
    b".eh_frame_hdr",
    b".eh_frame",
    b".debug_frame",
    b".zdebug_frame",
    b".gnu_debuglink",
    b".gnu_debugdata",
];

/// Section types a symbol load reads whole: symbol and string tables, notes (the build-id).
const SYMBOL_TYPES: [elf::SectionType; 5] = [
    elf::SHT_SYMTAB,
    elf::SHT_DYNSYM,
    elf::SHT_STRTAB,
    elf::SHT_SYMTAB_SHNDX,
    elf::SHT_NOTE,
];

fn wanted(parts: Parts, kind: elf::SectionType, name: &[u8]) -> bool {
    let tables = SYMBOL_TYPES.contains(&kind);
    tables || SYMBOL_SECTIONS.contains(&name) || (parts == Parts::Dwarf && is_dwarf(name))
}

/// The DWARF sections lines are read from (see [`super::lines`]), plain or GNU-compressed.
fn is_dwarf(name: &[u8]) -> bool {
    let plain = name
        .strip_prefix(b".zdebug_")
        .map(|rest| [b".debug_", rest].concat());
    let name = plain.as_deref().unwrap_or(name);
    super::lines::SECTIONS
        .iter()
        .any(|id| id.name().as_bytes() == name)
}

/// A Go binary: its goroutine layout and stripped names come from sections of all kinds.
fn is_go(name: &[u8]) -> bool {
    matches!(
        name,
        b".gopclntab" | b".data.rel.ro.gopclntab" | b".go.buildinfo" | b".gosymtab"
    )
}

#[cfg(test)]
mod tests {
    use super::{FIRST, Parts, Plan, plan};

    /// Reads `file` the way `filebytes` does: ask, read what is new, until nothing is.
    fn sparse(file: &[u8], parts: Parts) -> (Vec<u8>, usize) {
        let mut image = vec![0u8; file.len()];
        let mut read = vec![false; file.len()];
        for round in 0..8 {
            let ranges = match (round, plan(&image, parts)) {
                (0, _) => vec![(0, FIRST)],
                (_, Plan::Whole) => vec![(0, file.len() as u64)],
                (_, Plan::Ranges(r)) => r,
            };
            let mut new = false;
            for (start, end) in ranges {
                let end = end.min(file.len() as u64) as usize;
                for i in (start as usize).min(end)..end {
                    new |= !read[i];
                    read[i] = true;
                    image[i] = file[i];
                }
            }
            if !new {
                break;
            }
        }
        (image, read.iter().filter(|&&r| r).count())
    }

    #[test]
    fn only_tables_are_read_and_they_parse_as_the_whole_file() {
        use object::{Object, ObjectSection, ObjectSymbol};
        let path = "/lib/x86_64-linux-gnu/libc.so.6";
        let file = std::fs::read(path).unwrap();
        let (image, read) = sparse(&file, Parts::Symbols);
        assert!(
            read * 4 < file.len(),
            "{read} of {} bytes read for symbols",
            file.len()
        );
        let whole = object::File::parse(&*file).unwrap();
        let part = object::File::parse(&*image).unwrap();
        let names = |f: &object::File<'_>| {
            f.dynamic_symbols()
                .map(|s| (s.address(), s.name().unwrap_or("").to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&part), names(&whole));
        assert_eq!(part.build_id().unwrap(), whole.build_id().unwrap());
        assert_eq!(
            part.gnu_debuglink().unwrap(),
            whole.gnu_debuglink().unwrap()
        );
        let eh = |f: &object::File<'_>| {
            f.section_by_name(".eh_frame")
                .unwrap()
                .data()
                .unwrap()
                .to_vec()
        };
        assert_eq!(eh(&part), eh(&whole));
        // Code is not read.
        let text = part.section_by_name(".text").unwrap().data().unwrap();
        assert!(text.iter().all(|&b| b == 0));
    }

    #[test]
    fn hostile_headers_stay_inside_the_file() {
        // Not ELF: all of it (bounded by the caller).
        assert_eq!(plan(b"hello", Parts::Symbols), Plan::Whole);
        assert_eq!(plan(&[], Parts::Symbols), Plan::Whole);
        let file = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let mut elf = file[..FIRST as usize].to_vec();
        elf.resize(64 << 10, 0);
        // Section headers far past the end, each claiming a huge size: the plan names them,
        // reading clips them to the file and they add nothing.
        elf[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes()[..]);
        elf[0x3c..0x3e].copy_from_slice(&0xffffu16.to_le_bytes());
        let (image, read) = sparse(&elf, Parts::Dwarf);
        assert!(read <= elf.len());
        assert_eq!(&image[..4], b"\x7fELF");
        // Section headers inside, but every section claims the whole address space.
        let elf = crate::tracer::symbolize::filebytes::tests::huge_sections();
        let Plan::Ranges(ranges) = plan(&elf, Parts::Dwarf) else {
            panic!("an ELF file is planned");
        };
        assert!(ranges.contains(&(1, u64::MAX)), "{ranges:?}");
        let (_, read) = sparse(&elf, Parts::Dwarf);
        assert!(read <= elf.len());
    }
}
