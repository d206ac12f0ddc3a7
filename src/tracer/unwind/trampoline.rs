//! The caller of a CPython 3.12+ `-X perf` trampoline: a copy of a fixed stub in anonymous
//! executable memory, with no unwind info and no frame pointer, that a DWARF walk stops at.
//! Recognised by its bytes around the return address, it is unwound by a fixed rule.
//!
//! The stub is `sub $8,%rsp; call *%rcx; add $8,%rsp; ret` (perhaps after an `endbr64`):
//! while its callee runs, its frame's CFA is RSP+16 and the return address is at CFA-8, other
//! registers unchanged. We serve libunwind one CIE and FDE saying so, like [`super::frameless`].

use crate::tracer::unwind::frameless;

/// Where the image is read: right after the frameless fallback's image.
pub(super) const IMAGE_AT: u64 = frameless::IMAGE_END;
/// The end of the image.
pub(super) const IMAGE_END: u64 = IMAGE_AT + IMAGE.len() as u64;

/// The stub's code: `sub $8,%rsp; call *%rcx` then, where the call returns to, `add $8,%rsp;
/// ret`.
const STUB: [u8; 11] = [
    0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3,
];
/// Where in [`STUB`] its call returns to.
const RETURN_AT: usize = 6;

/// The frameless image with CFA = RSP+16 (see [`frameless::IMAGE`] for the layout).
pub(super) const IMAGE: [u8; 64] = {
    let mut image = frameless::IMAGE;
    // DW_CFA_def_cfa rsp+16 (the operand after the register number).
    assert!(image[25] == 0x0c && image[26] == 7 && image[27] == 8);
    image[27] = 16;
    image
};

/// Whether the frame libunwind looks up at `ip` (a return address, or one byte before it) is
/// a trampoline stub's, its callee running: the bytes around the return address are the
/// stub's. `read` reads 8 bytes of the target's memory.
pub(super) fn is_stub_frame(ip: u64, read: &mut dyn FnMut(u64) -> Option<u64>) -> bool {
    [ip, ip.wrapping_add(1)].into_iter().any(|ret| {
        let (Some(before), Some(after)) = (ret.checked_sub(8).and_then(&mut *read), read(ret))
        else {
            return false;
        };
        let (before, after) = (before.to_le_bytes(), after.to_le_bytes());
        before[8 - RETURN_AT..] == STUB[..RETURN_AT]
            && after[..STUB.len() - RETURN_AT] == STUB[RETURN_AT..]
    })
}

#[cfg(test)]
mod tests {
    use super::{IMAGE, STUB, is_stub_frame};

    #[test]
    fn the_stub_and_nothing_else() {
        // Code at 0x1000: padding, the stub at 0x1003 (returns to 0x1009), padding.
        let mut code = vec![0xccu8; 3];
        code.extend(STUB);
        code.extend([0xcc; 16]);
        let mut read = |a: u64| {
            let at = usize::try_from(a.checked_sub(0x1000)?).ok()?;
            Some(u64::from_le_bytes(code.get(at..at + 8)?.try_into().ok()?))
        };
        assert!(is_stub_frame(0x1009, &mut read));
        assert!(is_stub_frame(0x1008, &mut read));
        assert!(!is_stub_frame(0x100a, &mut read));
        assert!(!is_stub_frame(0x1007, &mut read));
        assert!(!is_stub_frame(0x1000, &mut read));
        assert_eq!(IMAGE[27], 16);
    }
}
