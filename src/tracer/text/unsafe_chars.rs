//! The characters [`super::inert`] escapes: every code point of Unicode general category Cc
//! (C0, DEL, C1), Cf (format: zero-width, bidi controls, BOM, tags), Zl and Zp (line and
//! paragraph separators), which control a terminal or hide and reorder text without showing.
//!
//! Generated from Unicode 15.1.0 (CPython 3.13.0's unicodedata) by this, run offline:
//!   python3.13 -c 'import unicodedata as u, itertools as i
//!   c = [p for p in range(0x110000) if u.category(chr(p)) in ("Cc", "Cf", "Zl", "Zp")]
//!   for _, g in i.groupby(enumerate(c), lambda e: e[1] - e[0]):
//!       g = list(g); print(f"    (0x{g[0][1]:x}, 0x{g[-1][1]:x}),")'

/// Inclusive ranges of code points, sorted, neither overlapping nor touching.
pub(super) const UNSAFE_RANGES: &[(u32, u32)] = &[
    (0x0, 0x1f),
    (0x7f, 0x9f),
    (0xad, 0xad),
    (0x600, 0x605),
    (0x61c, 0x61c),
    (0x6dd, 0x6dd),
    (0x70f, 0x70f),
    (0x890, 0x891),
    (0x8e2, 0x8e2),
    (0x180e, 0x180e),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x2064),
    (0x2066, 0x206f),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0001, 0xe0001),
    (0xe0020, 0xe007f),
];
