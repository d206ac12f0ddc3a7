//! The caller of code that no FDE covers in a module that has unwind info: a frameless leaf
//! (glibc's `clone3` ends its CFI before the system call, for the new thread's sake) keeps
//! its return address at the stack pointer. Taken only when the bytes before it are a call.
//!
//! gdb's amd64 fallback unwinder takes that word unchecked (a frameless function's CFA is
//! SP+8); we take it only when it is code of a mapped module right after a direct call to
//! the function that holds the PC, or after an indirect call, and serve libunwind one CIE
//! and FDE saying so (CFA = RSP+8, return address at CFA-8, other registers unchanged).

use crate::tracer::unwind::cfi_index::SYNTHETIC_END;

/// Where the image is read: just past the space of the built tables (no image ends after
/// [`SYNTHETIC_END`]), still non-canonical, its low 32 bits zero.
pub(super) const IMAGE_AT: u64 = SYNTHETIC_END;
/// The end of the image.
pub(super) const IMAGE_END: u64 = IMAGE_AT + IMAGE.len() as u64;

/// Longest distance from a function's start to a PC inside it taken for a leaf (glibc's
/// assembly leaves are a few dozen bytes).
const MAX_LEAF: u64 = 4096;

/// A one-entry search table in the layout of libunwind's remote tables (int32 start, int32
/// FDE offset, relative to the image), the CIE, and an FDE covering every address.
pub(super) const IMAGE: [u8; 64] = [
    // Table: start i32::MIN (any address is at or after it), FDE at 32.
    0x00, 0x00, 0x00, 0x80, 32, 0, 0, 0, //
    // CIE at 8: length 20, id 0, version 1, "zR", code align 1, data align -8, RA column
    // 16, augmentation data: FDE addresses udata8.
    20, 0, 0, 0, 0, 0, 0, 0, 1, b'z', b'R', 0, 1, 0x78, 16, 1, 0x04,
    // DW_CFA_def_cfa rsp+8; DW_CFA_offset rip at cfa-8; padding.
    0x0c, 7, 8, 0x90, 1, 0, 0, //
    // FDE at 32: length 28, CIE pointer 28 (back from this field to the CIE), from 0 for
    // u64::MAX bytes, no augmentation data, no instructions, padding.
    28, 0, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Whether `ret`, the word at the stack pointer of a frame at `pc` that no unwind info
/// covers, is a return address into that frame's caller: in `code` (executable mappings of
/// files, sorted) and right after a call. A direct call must go to a plausible start of the
/// function holding `pc`: at or before it, in the same mapping, not farther than a leaf,
/// and where `fde_at` (the range of the FDE covering an address, if any) shows no function
/// starting before it. `read` reads 8 bytes of code.
pub(super) fn is_return_address(
    pc: u64,
    ret: u64,
    code: &[(u64, u64)],
    read: &mut dyn FnMut(u64) -> Option<u64>,
    fde_at: &mut dyn FnMut(u64) -> Option<(u64, u64)>,
) -> bool {
    let mapping = |addr: u64| {
        let i = code.partition_point(|r| r.0 <= addr);
        (i > 0 && addr < code[i - 1].1).then(|| code[i - 1])
    };
    let Some(ret_in) = mapping(ret) else {
        return false;
    };
    // The 8 bytes before `ret`, all inside its mapping.
    let Some(before) = ret
        .checked_sub(8)
        .filter(|&at| at >= ret_in.0)
        .and_then(read)
    else {
        return false;
    };
    let bytes = before.to_le_bytes();
    if bytes[3] == 0xe8 {
        let rel = i32::from_le_bytes(bytes[4..].try_into().expect("4 bytes"));
        let target = ret.wrapping_add_signed(rel.into());
        if is_function_start_of(target, pc, &mapping, fde_at) {
            return true;
        }
    }
    (2..=8).any(|len| indirect_call_len(&bytes[8 - len..]) == Some(len))
}

/// Whether `target` can be the start of the function that holds `pc`: close before it in the
/// same mapping, and not inside an FDE that starts earlier or ends past `pc` (glibc's
/// `clone3` has CFI from its start up to the system call).
fn is_function_start_of(
    target: u64,
    pc: u64,
    mapping: &dyn Fn(u64) -> Option<(u64, u64)>,
    fde_at: &mut dyn FnMut(u64) -> Option<(u64, u64)>,
) -> bool {
    if target > pc || pc - target > MAX_LEAF || mapping(target) != mapping(pc) {
        return false;
    }
    match fde_at(target) {
        None => true,
        Some((start, end)) => start == target && end <= pc,
    }
}

/// The length of the indirect near call (`ff /2`, optionally after a REX prefix) that
/// `bytes` starts with, if they start with one.
fn indirect_call_len(bytes: &[u8]) -> Option<usize> {
    let rex = usize::from(bytes.first().is_some_and(|b| b & 0xf0 == 0x40));
    let (&op, rest) = bytes[rex..].split_first()?;
    let &modrm = rest.first()?;
    if op != 0xff || (modrm >> 3) & 7 != 2 {
        return None;
    }
    let (md, rm) = (modrm >> 6, modrm & 7);
    let sib = md != 3 && rm == 4;
    let disp = match md {
        0 if rm == 5 => 4,
        // A SIB byte with base 101 and mod 00: a 32-bit displacement, no base.
        0 if sib && rest.get(1).is_some_and(|s| s & 7 == 5) => 4,
        1 => 1,
        2 => 4,
        _ => 0,
    };
    Some(rex + 2 + usize::from(sib) + disp)
}

#[cfg(test)]
mod tests {
    use super::{IMAGE, indirect_call_len, is_return_address};

    #[test]
    fn indirect_calls_are_decoded_by_their_length() {
        // call *%rdx; call *%r8; call *(%rax); call *0x10(%rbx); call *0x1000(%rip);
        // call *0x18(%rsp) (SIB, disp8); call *0x601000(,%rax,8) (SIB, no base).
        let calls: [&[u8]; 7] = [
            &[0xff, 0xd2],
            &[0x41, 0xff, 0xd0],
            &[0xff, 0x10],
            &[0xff, 0x53, 0x10],
            &[0xff, 0x15, 0, 0x10, 0, 0],
            &[0xff, 0x54, 0x24, 0x18],
            &[0xff, 0x14, 0xc5, 0, 0x10, 0x60, 0],
        ];
        for call in calls {
            assert_eq!(indirect_call_len(call), Some(call.len()), "{call:x?}");
        }
        // jmp *%rax (ff /4), push (ff /6), and a lone REX.
        for other in [&[0xff, 0xe0][..], &[0xff, 0x30], &[0x48]] {
            assert_eq!(indirect_call_len(other), None, "{other:x?}");
        }
    }

    /// Code from 0x1000 to 0x3000; the caller's `call` at 0x1ffb..0x2000.
    fn check(before: [u8; 8], fde: Option<(u64, u64)>) -> bool {
        let code = [(0x1000, 0x3000)];
        let mut read = |at: u64| (at == 0x2000 - 8).then(|| u64::from_le_bytes(before));
        let mut fde_at = |_| fde;
        is_return_address(0x2819, 0x2000, &code, &mut read, &mut fde_at)
    }

    /// The 8 bytes before 0x2000 ending in `e8 rel32` to `target`.
    fn direct_call(target: u64) -> [u8; 8] {
        let rel = (target as i64 - 0x2000) as i32;
        let mut b = [0x90; 8];
        b[3] = 0xe8;
        b[4..].copy_from_slice(&rel.to_le_bytes());
        b
    }

    #[test]
    fn a_return_address_follows_a_call_to_the_function() {
        // A leaf without CFI at 0x2800, called directly.
        assert!(check(direct_call(0x2800), None));
        // clone3: CFI from its start to before the PC.
        assert!(check(direct_call(0x2800), Some((0x2800, 0x2817))));
        // A call to another function: before an FDE's start, inside one, after the PC, too
        // far before it.
        assert!(!check(direct_call(0x2800), Some((0x2700, 0x2817))));
        assert!(!check(direct_call(0x2800), Some((0x2800, 0x2900))));
        assert!(!check(direct_call(0x2820), None));
        assert!(!check(direct_call(0x1000), None));
        // An indirect call.
        assert!(check(
            [0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd2],
            None
        ));
        // Data: no call before it.
        assert!(!check([0; 8], None));
    }

    #[test]
    fn a_return_address_must_be_code() {
        let code = [(0x1000, 0x3000)];
        let b = u64::from_le_bytes(direct_call(0x2800));
        let mut read = |_| Some(b);
        let mut fde_at = |_| None;
        // Outside every mapping, and too close to a mapping's start for its call.
        for ret in [0x5000, 0x1004] {
            assert!(!is_return_address(
                0x2819,
                ret,
                &code,
                &mut read,
                &mut fde_at
            ));
        }
    }

    #[test]
    fn the_image_is_a_table_a_cie_and_an_fde() {
        let u32_at = |i: usize| u32::from_le_bytes(IMAGE[i..i + 4].try_into().unwrap());
        assert_eq!(u32_at(4), 32);
        // Each record's length field counts the rest of it.
        assert_eq!(u32_at(8) as usize + 4, 32 - 8);
        assert_eq!(u32_at(32) as usize + 4, IMAGE.len() - 32);
        // The FDE's CIE pointer leads back from itself to the CIE.
        assert_eq!(36 - u32_at(36) as usize, 8);
    }
}
