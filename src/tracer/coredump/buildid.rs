//! A module's build-id as the core holds it: the kernel (by `coredump_filter`'s ELF-headers
//! bit, on by default) and gcore dump the first page of each file mapping, where the ELF
//! header, program headers and the build-id note usually are.

use super::elf::{u16_at, u32_at, u64_at};
use crate::tracer::memory::RemoteMemory;

const PAGE: usize = 4096;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;

/// The build-id in the ELF image whose first page the mounted core `source` holds at `base`.
pub(crate) fn build_id_at(source: i32, base: u64) -> Option<Vec<u8>> {
    let mut page = vec![0u8; PAGE];
    let n = RemoteMemory::new(source).read_once(base, &mut page)?;
    page.truncate(n);
    build_id_in(&page)
}

/// The build-id of an ELF file on disk, from its first page.
pub(crate) fn of_file(file: &std::fs::File) -> Option<Vec<u8>> {
    let mut head = vec![0u8; PAGE];
    let n = super::file::read_at(file, 0, &mut head).ok()?;
    head.truncate(n);
    build_id_in(&head)
}

/// The build-id note of an ELF image's first bytes, from its program headers' notes.
fn build_id_in(b: &[u8]) -> Option<Vec<u8>> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return None;
    }
    let phoff = usize::try_from(u64_at(b, 32)).ok()?;
    let phnum = usize::from(u16_at(b, 56));
    for i in 0..phnum.min(256) {
        let at = phoff.checked_add(i.checked_mul(56)?)?;
        let ph = b.get(at..at.checked_add(56)?)?;
        if u32_at(ph, 0) != PT_NOTE {
            continue;
        }
        let off = usize::try_from(u64_at(ph, 8)).ok()?;
        let size = usize::try_from(u64_at(ph, 32)).ok()?;
        let Some(notes) = b.get(off..off.saturating_add(size).min(b.len())) else {
            continue;
        };
        if let Some(id) = gnu_build_id(notes) {
            return Some(id);
        }
    }
    None
}

fn gnu_build_id(mut n: &[u8]) -> Option<Vec<u8>> {
    while n.len() >= 12 {
        let namesz = u32_at(n, 0) as usize;
        let descsz = u32_at(n, 4) as usize;
        let kind = u32_at(n, 8);
        let name_end = 12usize.checked_add(namesz.checked_add(3)? & !3)?;
        let desc_end = name_end.checked_add(descsz.checked_add(3)? & !3)?;
        let name = n.get(12..12 + namesz.min(n.len().saturating_sub(12)))?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return n
                .get(name_end..name_end.checked_add(descsz)?)
                .map(<[u8]>::to_vec)
                .filter(|d| !d.is_empty() && d.len() <= 64);
        }
        n = n.get(desc_end..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_build_id_is_read_from_our_first_page() {
        // This test binary's own first page, read as a core's would be: the same id the file
        // has on disk.
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let on_disk = object::Object::build_id(&object::File::parse(&*exe).unwrap())
            .unwrap()
            .map(<[u8]>::to_vec);
        assert_eq!(build_id_in(&exe[..PAGE.min(exe.len())]), on_disk);
        assert_eq!(build_id_in(&[0u8; 64]), None);
        assert_eq!(build_id_in(b"\x7fELF"), None);
        // Every cut of the page parses to an id or to nothing.
        for cut in (0..PAGE.min(exe.len())).step_by(61) {
            let _ = build_id_in(&exe[..cut]);
        }
    }
}
