//! A core's notes: each thread's `NT_PRSTATUS` (tid, signal, registers), the process's
//! `NT_PRPSINFO` (pid, name, arguments) and `NT_FILE` (which file each mapping maps). Every
//! size is checked against the note's own bytes; a note that does not fit ends the parse and
//! is reported, the notes before it kept.

use super::elf::{u32_at, u64_at};
use crate::tracer::text;

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_FILE: u32 = 0x4649_4c45;
/// `struct elf_prstatus` on x86_64, and where its registers (`user_regs_struct`) start.
const PRSTATUS_SIZE: usize = 336;
const PR_REG: usize = 112;
/// Registers in `user_regs_struct`.
pub(super) const NREGS: usize = 27;
/// `struct elf_prpsinfo` on x86_64.
const PRPSINFO_SIZE: usize = 136;
/// Most threads and file mappings kept.
const MAX_THREADS: usize = 1 << 17;
const MAX_FILES: usize = 1 << 20;

/// What the notes hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Notes {
    /// (tid, signal, registers): the thread that dumped first, as the kernel writes them.
    pub threads: Vec<(u32, i32, [u64; NREGS])>,
    pub pid: Option<u32>,
    /// `pr_fname` (16 bytes) and `pr_psargs` (80), made inert.
    pub name: Option<String>,
    pub args: Option<String>,
    /// `pr_sname`: the state letter when dumped.
    pub state: Option<char>,
    /// (start, end, offset in bytes into the file, path as the process saw it).
    pub files: Vec<(u64, u64, u64, Vec<u8>)>,
    /// What did not parse.
    pub problems: Vec<String>,
}

/// Parses one `PT_NOTE` segment's bytes into `out`.
pub(super) fn parse(mut b: &[u8], out: &mut Notes) {
    while b.len() >= 12 {
        let namesz = u32_at(b, 0) as usize;
        let descsz = u32_at(b, 4) as usize;
        let kind = u32_at(b, 8);
        let name_end = 12usize.saturating_add(align4(namesz));
        let desc_end = name_end.saturating_add(align4(descsz));
        if namesz > b.len() || descsz > b.len() || desc_end > b.len() {
            out.problems.push(format!(
                "a note of type {kind:#x} is longer than its segment"
            ));
            return;
        }
        let name = &b[12..12 + namesz];
        let desc = &b[name_end..name_end + descsz];
        if name.starts_with(b"CORE") {
            match kind {
                NT_PRSTATUS => prstatus(desc, out),
                NT_PRPSINFO => prpsinfo(desc, out),
                NT_FILE => file_note(desc, out),
                _ => {}
            }
        }
        b = &b[desc_end..];
    }
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn prstatus(d: &[u8], out: &mut Notes) {
    if d.len() < PRSTATUS_SIZE {
        out.problems.push(format!(
            "a thread's NT_PRSTATUS is {} bytes, not {PRSTATUS_SIZE}",
            d.len()
        ));
        return;
    }
    if out.threads.len() >= MAX_THREADS {
        return;
    }
    let signal = i32::from(i16::from_le_bytes([d[12], d[13]]));
    let tid = u32_at(d, 32);
    let mut regs = [0u64; NREGS];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = u64_at(d, PR_REG + 8 * i);
    }
    out.threads.push((tid, signal, regs));
}

fn prpsinfo(d: &[u8], out: &mut Notes) {
    if d.len() < PRPSINFO_SIZE {
        out.problems.push(format!(
            "NT_PRPSINFO is {} bytes, not {PRPSINFO_SIZE}",
            d.len()
        ));
        return;
    }
    let cstr = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        text::inert_bounded(&text::from_bytes(&b[..end]), 256)
    };
    out.state = Some(d[1] as char).filter(char::is_ascii_alphabetic);
    out.pid = Some(u32_at(d, 24));
    out.name = Some(cstr(&d[40..56]));
    out.args = Some(cstr(&d[56..136]).trim_end().to_string());
}

/// `count`, `page_size`, `count` × (start, end, page offset), then `count` NUL-ended names.
fn file_note(d: &[u8], out: &mut Notes) {
    let count = u64_at(d, 0) as usize;
    let page = u64_at(d, 8);
    let table_end = count
        .checked_mul(24)
        .and_then(|t| t.checked_add(16))
        .filter(|&e| e <= d.len() && count <= MAX_FILES);
    let Some(table_end) = table_end else {
        out.problems.push(format!(
            "NT_FILE claims {count} mappings, more than it holds"
        ));
        return;
    };
    let mut names = &d[table_end..];
    for i in 0..count {
        let at = 16 + 24 * i;
        let (start, end) = (u64_at(d, at), u64_at(d, at + 8));
        let Some(offset) = u64_at(d, at + 16).checked_mul(page) else {
            out.problems.push("NT_FILE: an offset overflows".into());
            return;
        };
        // Each name ends with a NUL: one that does not is not a name.
        let Some(len) = names.iter().position(|&c| c == 0) else {
            out.problems
                .push(format!("NT_FILE names {i} of its {count} mappings"));
            return;
        };
        let name = &names[..len];
        names = &names[len + 1..];
        if start < end {
            out.files.push((start, end, offset, name.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&5u32.to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(b"CORE\0\0\0\0");
        n.extend_from_slice(desc);
        n.resize(n.len() + (4 - desc.len() % 4) % 4, 0);
        n
    }

    fn prstatus_desc(tid: u32, rip: u64) -> Vec<u8> {
        let mut d = vec![0u8; PRSTATUS_SIZE];
        d[12..14].copy_from_slice(&6i16.to_le_bytes());
        d[32..36].copy_from_slice(&tid.to_le_bytes());
        d[PR_REG + 16 * 8..PR_REG + 17 * 8].copy_from_slice(&rip.to_le_bytes());
        d
    }

    #[test]
    fn threads_process_and_files_are_read() {
        let mut psinfo = vec![0u8; PRPSINFO_SIZE];
        psinfo[1] = b'S';
        psinfo[24..28].copy_from_slice(&700u32.to_le_bytes());
        psinfo[40..45].copy_from_slice(b"app\x1b\0");
        psinfo[56..66].copy_from_slice(b"./app -x  ");
        let mut files = Vec::new();
        for v in [2u64, 4096, 0x1000, 0x2000, 0, 0x3000, 0x5000, 2] {
            files.extend_from_slice(&v.to_le_bytes());
        }
        files.extend_from_slice(b"/bin/app\0/lib/libc.so\0");
        let mut seg = note(NT_PRSTATUS, &prstatus_desc(701, 0x1234));
        seg.extend(note(NT_PRPSINFO, &psinfo));
        seg.extend(note(NT_FILE, &files));
        seg.extend(note(NT_PRSTATUS, &prstatus_desc(702, 0x5678)));
        let mut n = Notes::default();
        parse(&seg, &mut n);
        assert_eq!(n.problems, Vec::<String>::new());
        let tids: Vec<_> = n.threads.iter().map(|t| (t.0, t.1, t.2[16])).collect();
        assert_eq!(tids, [(701, 6, 0x1234), (702, 6, 0x5678)]);
        assert_eq!(n.pid, Some(700));
        assert_eq!(n.name.as_deref(), Some("app\\x1b"));
        assert_eq!(n.args.as_deref(), Some("./app -x"));
        assert_eq!(n.state, Some('S'));
        assert_eq!(
            n.files,
            [
                (0x1000, 0x2000, 0, b"/bin/app".to_vec()),
                (0x3000, 0x5000, 0x2000, b"/lib/libc.so".to_vec())
            ]
        );
    }

    #[test]
    fn malformed_notes_are_reported_not_trusted() {
        // A note longer than its segment; a short NT_PRSTATUS; an NT_FILE whose count
        // exceeds its bytes, and one with fewer names than mappings.
        let mut n = Notes::default();
        let mut long = note(NT_PRSTATUS, &prstatus_desc(1, 1));
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        parse(&long, &mut n);
        parse(&note(NT_PRSTATUS, &[0; 40]), &mut n);
        let mut huge = Vec::new();
        for v in [u64::MAX / 8, 4096] {
            huge.extend_from_slice(&v.to_le_bytes());
        }
        parse(&note(NT_FILE, &huge), &mut n);
        let mut nameless = Vec::new();
        for v in [1u64, 4096, 0x1000, 0x2000, 0] {
            nameless.extend_from_slice(&v.to_le_bytes());
        }
        parse(&note(NT_FILE, &nameless), &mut n);
        parse(&[0xff; 11], &mut n);
        assert!(n.threads.is_empty() && n.files.len() <= 1, "{n:?}");
        assert_eq!(n.problems.len(), 4, "{:?}", n.problems);
    }

    #[test]
    fn any_bytes_parse_without_panicking() {
        // A small deterministic fuzz: every prefix and byte flip of a valid segment.
        let mut seg = note(NT_PRSTATUS, &prstatus_desc(9, 9));
        let mut files = Vec::new();
        for v in [1u64, 4096, 0x1000, 0x2000, 0] {
            files.extend_from_slice(&v.to_le_bytes());
        }
        files.extend_from_slice(b"/x\0");
        seg.extend(note(NT_FILE, &files));
        for cut in 0..seg.len() {
            parse(&seg[..cut], &mut Notes::default());
        }
        for i in 0..seg.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut s = seg.clone();
                s[i] ^= flip;
                parse(&s, &mut Notes::default());
            }
        }
    }
}
