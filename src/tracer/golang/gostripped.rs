//! What a stripped Go binary (no `.symtab`) still tells about its runtime's variables:
//! candidates for `runtime.allgs` from the RIP-relative operands of the functions that use it
//! (found by `.gopclntab`), and `runtime.waitReasonStrings` found in its data by its contents.

use object::{Object, ObjectSection, SectionKind};

use crate::tracer::golang::gopclntab::GoTable;

/// The functions whose code reads `allgs` (runtime/proc.go): `allgadd` appends to it,
/// `forEachG` ranges over it; both load its pointer and its length.
const USERS: [&[u8]; 2] = [b"runtime.allgadd", b"runtime.forEachG"];
/// Most bytes of one function decoded (each of [`USERS`] is a few hundred).
const MAX_CODE: usize = 4096;
/// Most RIP-relative targets kept from one function's code.
const MAX_TARGETS: usize = 512;
/// Most `allgs` candidates handed to the live check.
pub const MAX_CANDIDATES: usize = 16;
/// Most bytes of data sections scanned, and of read-only sections searched, for the
/// wait-reason names.
const MAX_SCAN: u64 = 256 << 20;
/// Most places of the second wait reason's text tried.
const MAX_TEXTS: usize = 16;
/// Most entries of a `[N]string` table read (Go has about 50 wait reasons).
const MAX_ENTRIES: u64 = 256;
/// Longest wait reason accepted in a table.
const MAX_NAME: u64 = 128;

/// Addresses in the binary's writable data that `runtime.allgs` may be, best first: each an
/// 8-aligned target of the code of [`USERS`] whose next word (the slice's length) is a target
/// too. Which one holds the goroutines only the live process can tell.
pub fn allgs_candidates(file: &object::File<'_>, table: &GoTable) -> Vec<u64> {
    let mut targets = Vec::new();
    for f in table.functions() {
        let Some(name) = table.name(f) else { continue };
        if !USERS.contains(&name) {
            continue;
        }
        let size = (f.end - f.entry).min(MAX_CODE as u64);
        if let Some(code) = code_at(file, f.entry, size) {
            targets.extend(rip_targets(code, f.entry));
        }
    }
    let writable = writable_ranges(file);
    let in_data = |a: u64| writable.iter().any(|&(lo, hi)| lo <= a && a < hi);
    let mut out: Vec<u64> = targets
        .iter()
        .copied()
        .filter(|&t| t.is_multiple_of(8) && in_data(t))
        .filter(|&t| t.checked_add(8).is_some_and(|len| targets.contains(&len)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(MAX_CANDIDATES);
    out
}

/// `size` bytes of the file's code at module address `address`.
fn code_at<'a>(file: &object::File<'a>, address: u64, size: u64) -> Option<&'a [u8]> {
    let section = file
        .sections()
        .find(|s| s.address() <= address && address - s.address() < s.size())?;
    section.data_range(address, size).ok().flatten()
}

/// The module address ranges of the writable data (`.data`, `.bss`, `.noptr*`).
fn writable_ranges(file: &object::File<'_>) -> Vec<(u64, u64)> {
    file.sections()
        .filter(|s| matches!(s.kind(), SectionKind::Data | SectionKind::UninitializedData))
        .filter_map(|s| Some((s.address(), s.address().checked_add(s.size())?)))
        .collect()
}

/// The addresses that x86-64 instructions in `code` (at module address `address`) reach
/// RIP-relatively (ModRM mod=00 rm=101, then a 32-bit displacement), for the instruction
/// forms Go emits to load, store, compare or take the address of a variable. Every byte
/// offset is tried, not a linear decoding: a false match only adds a candidate the caller
/// filters out. At most [`MAX_TARGETS`].
pub fn rip_targets(code: &[u8], address: u64) -> Vec<u64> {
    let code = &code[..code.len().min(MAX_CODE)];
    let mut out = Vec::new();
    // The same instruction matches from each of its prefixes: once is enough.
    let mut last_end = None;
    for start in 0..code.len() {
        if out.len() == MAX_TARGETS {
            break;
        }
        let at = address.wrapping_add(start as u64);
        if let Some((target, len)) = rip_operand(&code[start..], at)
            && last_end != Some(start + len)
        {
            last_end = Some(start + len);
            out.push(target);
        }
    }
    out
}

/// The RIP-relative target and the length of the instruction at the start of `code` (at
/// `address`), if it is one of the known forms.
fn rip_operand(code: &[u8], address: u64) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut operand16 = false;
    // Prefixes: operand size, lock, rep; then at most one REX.
    while i < 2 && matches!(code.get(i), Some(0x66 | 0xf0 | 0xf2 | 0xf3)) {
        operand16 |= code[i] == 0x66;
        i += 1;
    }
    if matches!(code.get(i), Some(0x40..=0x4f)) {
        i += 1;
    }
    let imm = match *code.get(i)? {
        0x0f => {
            i += 1;
            match *code.get(i)? {
                0x10 | 0x11 | 0x6f | 0x7f | 0xb0 | 0xb1 | 0xb6 | 0xb7 | 0xbe | 0xbf | 0xc0
                | 0xc1 | 0xd6 => 0,
                0xba => 1,
                _ => return None,
            }
        }
        0x00..=0x03 | 0x08..=0x0b | 0x20..=0x23 | 0x28..=0x2b | 0x30..=0x33 | 0x38..=0x3b => 0,
        0x84..=0x8b | 0x8d | 0xfe | 0xff => 0,
        0x80 | 0x83 | 0xc6 => 1,
        0x81 | 0xc7 if operand16 => 2,
        0x81 | 0xc7 => 4,
        _ => return None,
    };
    let modrm = *code.get(i + 1)?;
    if modrm & 0xc7 != 0x05 {
        return None;
    }
    let disp = i32::from_le_bytes(code.get(i + 2..i + 6)?.try_into().ok()?);
    let end = i + 6 + imm;
    if code.len() < end {
        return None;
    }
    let target = (address.wrapping_add(end as u64)).wrapping_add(i64::from(disp) as u64);
    Some((target, end))
}

/// `runtime.waitReasonStrings`, a `[N]string` in the writable data whose entry 0 is `""` and
/// entry 1 `"GC assist marking"` (runtime2.go, the same from Go 1.10 to today): (address,
/// count), the count up to the first entry that is not a wait reason's name.
pub fn wait_reason_table(file: &object::File<'_>) -> Option<(u64, u64)> {
    let texts = text_places(file, b"GC assist marking");
    if texts.is_empty() {
        return None;
    }
    let read_only = read_only_ranges(file);
    let is_name = |ptr: u64, len: u64| {
        (1..=MAX_NAME).contains(&len)
            && read_only
                .iter()
                .any(|&(lo, hi)| lo <= ptr && ptr.checked_add(len).is_some_and(|e| e <= hi))
    };
    for section in file.sections() {
        if section.kind() != SectionKind::Data || section.size() > MAX_SCAN {
            continue;
        }
        let Ok(data) = section.data() else { continue };
        let word = |at: usize| -> u64 {
            data.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(u64::MAX, u64::from_le_bytes)
        };
        // Entry 1 at `at`: (pointer to the text, 17), after entry 0's zero length.
        let misaligned = (8 - section.address() % 8) % 8;
        let mut at = misaligned as usize + 16;
        while at + 16 <= data.len() {
            if word(at + 8) == 17 && texts.contains(&word(at)) && word(at - 8) == 0 {
                let start = section.address() + (at - 16) as u64;
                let mut count = 2;
                while count < MAX_ENTRIES {
                    let e = at + 16 * (count as usize - 1);
                    if !is_name(word(e), word(e + 8)) {
                        break;
                    }
                    count += 1;
                }
                return Some((start, count));
            }
            at += 8;
        }
    }
    None
}

/// The module addresses where `text` is in the read-only data; at most [`MAX_TEXTS`].
fn text_places(file: &object::File<'_>, text: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    for section in file.sections() {
        if !is_read_only(section.kind()) || section.size() > MAX_SCAN {
            continue;
        }
        let Ok(data) = section.data() else { continue };
        let mut from = 0;
        while out.len() < MAX_TEXTS
            && let Some(i) = find(&data[from..], text)
        {
            out.push(section.address() + (from + i) as u64);
            from += i + 1;
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_read_only(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::ReadOnlyData | SectionKind::ReadOnlyString
    )
}

fn read_only_ranges(file: &object::File<'_>) -> Vec<(u64, u64)> {
    file.sections()
        .filter(|s| is_read_only(s.kind()))
        .filter_map(|s| Some((s.address(), s.address().checked_add(s.size())?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// runtime.allgadd of go1.19 (as objdump shows it), from 0x43524f: the operands of
    /// `lea allglock`, `mov allgs+8`, `mov allgs`, `mov allgs+16`, `lea type`,
    /// `mov %rcx, allgs+16`, `cmpl $0, writeBarrier`, `mov %rax, allgs`.
    const ALLGADD_119: &[u8] = &[
        0x48, 0x8d, 0x05, 0x5a, 0xd3, 0x12, 0x00, // lea 0x12d35a(%rip),%rax
        0x90, 0x90, 0x90, 0x90, 0x90, // padding to 0x43525b
        0x48, 0x8b, 0x35, 0xf6, 0xe4, 0x0f, 0x00, // mov 0xfe4f6(%rip),%rsi
        0x90, 0x90, 0x90, 0x90, // to 0x435266
        0x48, 0x8b, 0x1d, 0xe3, 0xe4, 0x0f, 0x00, // mov 0xfe4e3(%rip),%rbx
        0x48, 0x8b, 0x3d, 0xec, 0xe4, 0x0f, 0x00, // mov 0xfe4ec(%rip),%rdi
        0x90, 0x90, 0x90, 0x90, 0x90, // to 0x435279
        0x48, 0x8d, 0x05, 0xe0, 0x6b, 0x05, 0x00, // lea 0x56be0(%rip),%rax
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x48,
        0x89, 0x0d, 0xcb, 0xe4, 0x0f, 0x00, // mov %rcx,0xfe4cb(%rip)
        0x83, 0x3d, 0xf4, 0xd4, 0x12, 0x00, 0x00, // cmpl $0x0,0x12d4f4(%rip)
        0x90, 0x90, // to 0x43529e
        0x48, 0x89, 0x05, 0xab, 0xe4, 0x0f, 0x00, // mov %rax,0xfe4ab(%rip)
    ];

    #[test]
    fn rip_targets_of_go119_allgadd() {
        let got = rip_targets(ALLGADD_119, 0x43524f);
        assert_eq!(
            got,
            [
                0x5625b0, 0x533758, 0x533750, 0x533760, 0x48be60, 0x533760, 0x562790, 0x533750
            ]
        );
    }

    #[test]
    fn rip_targets_are_bounded_on_hostile_code() {
        // Every offset a RIP-relative load: at most MAX_TARGETS, from at most MAX_CODE bytes.
        let code: Vec<u8> = [0x8b, 0x05, 0x8b, 0x05].repeat(1 << 16);
        let got = rip_targets(&code, u64::MAX - 8);
        assert_eq!(got.len(), MAX_TARGETS);
        assert!(rip_targets(&code[..5], 0).is_empty());
        assert!(rip_targets(&[], 0).is_empty());
    }

    #[test]
    fn immediates_and_prefixes_move_the_end() {
        // movl $1, 0x10(%rip) (c7 05 disp32 imm32): RIP is after the immediate.
        let mov_imm = [0xc7, 0x05, 0x10, 0, 0, 0, 1, 0, 0, 0];
        assert_eq!(
            rip_operand(&mov_imm, 0x1000),
            Some((0x1000 + 10 + 0x10, 10))
        );
        // movw $1, 0x10(%rip): a 16-bit immediate.
        let mov16 = [0x66, 0xc7, 0x05, 0x10, 0, 0, 0, 1, 0];
        assert_eq!(rip_operand(&mov16, 0x1000), Some((0x1000 + 9 + 0x10, 9)));
        // lock cmpxchg %rcx, -0x10(%rip).
        let cmpxchg = [0xf0, 0x48, 0x0f, 0xb1, 0x0d, 0xf0, 0xff, 0xff, 0xff];
        assert_eq!(rip_operand(&cmpxchg, 0x1000), Some((0x1000 + 9 - 0x10, 9)));
        assert_eq!(rip_targets(&cmpxchg, 0x1000), [0x1000 + 9 - 0x10]);
        // mov 0x10(%rax), %rcx: not RIP-relative.
        assert_eq!(rip_operand(&[0x48, 0x8b, 0x48, 0x10], 0x1000), None);
    }
}
