//! The ELF parts of a core: its header (a 64-bit little-endian x86_64 core, else refused),
//! and its program headers: the memory segments (`PT_LOAD`) and the note segments (`PT_NOTE`).

use super::file::CoreError;

/// `ET_CORE`, `EM_X86_64`, `PT_LOAD`, `PT_NOTE`.
const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
pub(super) const PT_LOAD: u32 = 1;
pub(super) const PT_NOTE: u32 = 4;
/// `e_phnum`'s escape: the real count is in section header 0's `sh_info`.
const PN_XNUM: u16 = 0xffff;
/// Most program headers read (a kernel core has one per mapping: 65 530 by default at most).
pub(super) const MAX_PHDRS: usize = 1 << 20;

/// The header fields a core reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub phoff: u64,
    pub phnum: usize,
    pub shoff: u64,
    /// `e_phnum` was `PN_XNUM`: the count comes from section header 0.
    pub extended: bool,
}

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Phdr {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// Parses the 64-byte ELF header: a core for x86_64, or why not.
pub(super) fn header(b: &[u8]) -> Result<Header, CoreError> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err(CoreError::NotElf);
    }
    if b[4] != 2 || b[5] != 1 {
        return Err(CoreError::WrongArch(format!(
            "{}-bit {}-endian ELF",
            if b[4] == 1 { 32 } else { 64 },
            if b[5] == 2 { "big" } else { "little" }
        )));
    }
    let ty = u16_at(b, 16);
    if ty != ET_CORE {
        return Err(CoreError::NotCore(ty));
    }
    let machine = u16_at(b, 18);
    if machine != EM_X86_64 {
        return Err(CoreError::WrongArch(format!("ELF machine {machine}")));
    }
    let phentsize = u16_at(b, 54);
    let phnum = u16_at(b, 56);
    if phentsize != 56 {
        return Err(CoreError::Malformed(format!(
            "program header size {phentsize}, not 56"
        )));
    }
    Ok(Header {
        phoff: u64_at(b, 32),
        phnum: usize::from(phnum),
        shoff: u64_at(b, 40),
        extended: phnum == PN_XNUM,
    })
}

/// Section header 0's `sh_info`: the program header count of a core with `PN_XNUM`.
pub(super) fn extended_count(section0: &[u8]) -> Result<usize, CoreError> {
    if section0.len() < 64 {
        return Err(CoreError::Truncated("section header 0".into()));
    }
    Ok(u32_at(section0, 44) as usize)
}

/// Parses `n` program headers of 56 bytes each.
pub(super) fn phdrs(b: &[u8]) -> Vec<Phdr> {
    b.chunks_exact(56)
        .map(|p| Phdr {
            kind: u32_at(p, 0),
            flags: u32_at(p, 4),
            offset: u64_at(p, 8),
            vaddr: u64_at(p, 16),
            filesz: u64_at(p, 32),
            memsz: u64_at(p, 40),
        })
        .collect()
}

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(super) fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(class: u8, ty: u16, machine: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = class;
        b[5] = 1;
        b[16..18].copy_from_slice(&ty.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&3u16.to_le_bytes());
        b
    }

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            header(&elf(2, 4, 62)),
            Ok(Header {
                phoff: 64,
                phnum: 3,
                shoff: 0,
                extended: false
            })
        );
        assert_eq!(header(b"\x7fELF"), Err(CoreError::NotElf));
        assert_eq!(header(&[0u8; 64]), Err(CoreError::NotElf));
        assert_eq!(header(&elf(2, 2, 62)), Err(CoreError::NotCore(2)));
        assert!(matches!(
            header(&elf(1, 4, 3)),
            Err(CoreError::WrongArch(_))
        ));
        assert!(matches!(
            header(&elf(2, 4, 183)),
            Err(CoreError::WrongArch(_))
        ));
        let mut odd = elf(2, 4, 62);
        odd[54] = 40;
        assert!(matches!(header(&odd), Err(CoreError::Malformed(_))));
        assert_eq!(u64_at(&[1, 2], 0), 0);
    }
}
