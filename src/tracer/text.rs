//! Untrusted text made inert.
//!
//! Thread names, command lines, symbol names and paths come from other processes. Everything
//! that leaves the tracer (and the inspector) goes through [`inert`] (or [`from_bytes`] for raw
//! bytes), so no control character, invisible or bidi format character, or line separator
//! (Unicode categories Cc, Cf, Zl, Zp) reaches a terminal or file. Part of the tracer, which
//! imports nothing from the rest of the crate.

pub(crate) mod json;
mod unsafe_chars;

use std::borrow::Cow;
use std::fmt::Write;

use unsafe_chars::UNSAFE_RANGES;

/// True for characters that must never be written raw: those of Unicode categories Cc (C0,
/// DEL, C1), Cf (zero-width and bidi controls, BOM, tags), Zl and Zp, which drive a terminal
/// or make text read differently from what it is (`ma\u{200b}in` would show as `main`).
pub fn is_unsafe(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        // The table's ASCII part, as checked at compile time below.
        return c < 0x20 || c == 0x7f;
    }
    let i = UNSAFE_RANGES.partition_point(|&(_, hi)| hi < c);
    UNSAFE_RANGES.get(i).is_some_and(|&(lo, _)| lo <= c)
}

/// The first byte of `c`'s UTF-8 encoding.
const fn lead_byte(c: u32) -> u8 {
    match c {
        0..0x80 => c as u8,
        0x80..0x800 => 0xc0 | (c >> 6) as u8,
        0x800..0x10000 => 0xe0 | (c >> 12) as u8,
        _ => 0xf0 | (c >> 18) as u8,
    }
}

/// `LEAD[b]`: some unsafe character's UTF-8 encoding starts with byte `b`.
const LEAD: [bool; 256] = {
    let mut lead = [false; 256];
    let mut i = 0;
    while i < UNSAFE_RANGES.len() {
        let (mut c, hi) = UNSAFE_RANGES[i];
        while c <= hi {
            lead[lead_byte(c) as usize] = true;
            c += 1;
        }
        i += 1;
    }
    lead
};

// The tests for single bytes (`b < 0x20 || b == 0x7f`, in `is_unsafe` and `is_lead`) are the
// table's ASCII part.
const _: () = {
    let mut b = 0;
    while b < 0x80 {
        assert!(LEAD[b] == (b < 0x20 || b == 0x7f));
        b += 1;
    }
};

/// The lead bytes of unsafe characters of two or more bytes (ten of them), as a list:
/// comparing each byte with each of them vectorizes, looking it up in [`LEAD`] does not.
const MULTI_LEADS: [u8; count_multi_leads()] = {
    let mut out = [0; count_multi_leads()];
    let (mut b, mut n) = (0x80, 0);
    while b < 256 {
        if LEAD[b] {
            out[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    out
};

const fn count_multi_leads() -> usize {
    let (mut b, mut n) = (0x80, 0);
    while b < 256 {
        n += LEAD[b] as usize;
        b += 1;
    }
    n
}

/// True when `b` may start an unsafe character: exactly the bytes [`LEAD`] marks.
#[inline(always)]
fn is_lead(b: u8) -> bool {
    let mut hit = (b < 0x20) | (b == 0x7f);
    let mut i = 0;
    while i < MULTI_LEADS.len() {
        hit |= b == MULTI_LEADS[i];
        i += 1;
    }
    hit
}

/// A quick test on the bytes: false means `s` holds no unsafe character (every one starts
/// with a byte [`is_lead`] flags).
fn may_be_unsafe(s: &str) -> bool {
    // Whole chunks without an early exit, so the compiler can test 16 or 32 bytes at a time: a
    // 1000-thread JSON document is 7 MB. A chunk of printable ASCII (most of them) is passed
    // by two compares a byte; only the others are compared with every lead byte.
    s.as_bytes().chunks(64).any(|chunk| {
        let rare = chunk
            .iter()
            .fold(false, |found, &b| found | !(0x20..0x7f).contains(&b));
        rare && chunk.iter().fold(false, |found, &b| found | is_lead(b))
    })
}

/// Returns `s` with every unsafe character replaced by a visible escape (`\x1b`, `\u{202e}`,
/// `\u{e0001}`). Safe text is returned borrowed, so the common case costs no allocation.
pub fn inert(s: &str) -> Cow<'_, str> {
    if !may_be_unsafe(s) || !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// Decodes bytes from another process: valid UTF-8 is kept, each invalid byte becomes `\xNN`,
/// and unsafe characters are escaped as in [`inert`].
pub fn from_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Like [`inert`], but also cuts the text to at most `max` characters (an ellipsis marks the
/// cut), for names that a hostile process may make enormous.
pub fn inert_bounded(s: &str, max: usize) -> String {
    let clean = inert(s);
    if clean.chars().count() <= max {
        return clean.into_owned();
    }
    let mut out: String = clean.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn push_char(out: &mut String, c: char) {
    if !is_unsafe(c) {
        out.push(c);
    } else if (c as u32) < 0x80 {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// Serializes to JSON with every unsafe character escaped as `\uXXXX` (serde_json escapes only
/// C0), so a JSON document is as inert as the text output.
pub fn to_json_inert<T: serde::Serialize>(value: &T, pretty: bool) -> serde_json::Result<String> {
    to_json_inert_sized(value, pretty, 0)
}

/// [`to_json_inert`] into a buffer of `capacity` bytes to start with (a big document then
/// grows without copying itself over and over).
pub fn to_json_inert_sized<T: serde::Serialize>(
    value: &T,
    pretty: bool,
    capacity: usize,
) -> serde_json::Result<String> {
    let mut buf = output_buffer(capacity);
    json::write(&mut buf, value, pretty)?;
    // SAFETY: serde_json writes valid UTF-8 only (its own `to_string` relies on the same), and
    // the escapes are ASCII; checking 6 MB again would cost milliseconds.
    Ok(unsafe { String::from_utf8_unchecked(buf) })
}

/// Writes [`to_json_inert`]'s document to `out` as it goes: a big document then never sits
/// whole in memory (give `out` a buffer, e.g. a `BufWriter`).
pub fn write_json_inert<T: serde::Serialize, W: std::io::Write>(
    out: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    json::write(out, value, pretty)
}

/// An empty buffer of `capacity` bytes. A big one (a 1000-thread document is 6-11 MB) asks for
/// transparent huge pages where they are given on request ("madvise", Debian's default): the
/// 1700 page faults of its first write in 4 KiB pages cost more than writing the document.
pub fn output_buffer(capacity: usize) -> Vec<u8> {
    const HUGE: usize = 2 << 20;
    let buf = Vec::with_capacity(capacity);
    if capacity >= 2 * HUGE {
        let start = (buf.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (buf.as_ptr() as usize + capacity) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside the allocation this Vec owns, none of it written
            // yet; MADV_HUGEPAGE changes how its pages are backed, not what they hold. A
            // refusal (no THP) leaves it as it was.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    buf
}

/// An error and its causes on one line, made inert.
pub fn error_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    inert(&line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_c0_del_c1_and_bidi() {
        assert_eq!(inert("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(inert("x\x7fy"), "x\\x7fy");
        assert_eq!(inert("x\u{9b}y"), "x\\u{9b}y");
        assert_eq!(inert("x\u{202e}y"), "x\\u{202e}y");
        assert!(matches!(inert("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_invisible_and_format_characters() {
        assert_eq!(inert("ma\u{200b}in"), "ma\\u{200b}in");
        assert_eq!(
            inert("\u{feff}a\u{2060}b\u{61c}c\u{2028}d\u{2029}e\u{ad}f\u{e0001}"),
            "\\u{feff}a\\u{2060}b\\u{61c}c\\u{2028}d\\u{2029}e\\u{ad}f\\u{e0001}"
        );
        assert_eq!(from_bytes("a\u{200d}b".as_bytes()), "a\\u{200d}b");
        // Visible text around them, in any script, stays as it is.
        for safe in [
            "…→│█",
            "线程",
            "😀👍🏽",
            "العربية",
            "Ελληνικά",
            "\u{a0}\u{ff}\u{fffd}",
        ] {
            assert!(matches!(inert(safe), Cow::Borrowed(_)), "{safe}");
        }
    }

    #[test]
    fn the_table_is_sorted_and_its_ranges_apart() {
        for pair in UNSAFE_RANGES.windows(2) {
            let ((lo, hi), (next, _)) = (pair[0], pair[1]);
            assert!(lo <= hi && hi + 1 < next, "{pair:x?}");
        }
        let last = UNSAFE_RANGES.last().unwrap();
        assert!(char::from_u32(last.1).is_some(), "{last:x?}");
    }

    /// A string with `c` at `at` in ASCII filler, across the scan's 64-byte chunks.
    fn embedded(c: char, at: usize) -> String {
        format!("{}{c}{}", "a".repeat(at), "z".repeat(70))
    }

    #[test]
    fn every_unsafe_character_is_flagged_by_the_byte_scan_and_escaped() {
        let mut walked = 0u32;
        for &(lo, hi) in UNSAFE_RANGES {
            for c in (lo..=hi).map(|u| char::from_u32(u).unwrap()) {
                let first = c.to_string().as_bytes()[0];
                assert!(LEAD[first as usize] && is_lead(first), "{c:?}");
                let escape = if (c as u32) < 0x80 {
                    format!("\\x{:02x}", c as u32)
                } else {
                    format!("\\u{{{:x}}}", c as u32)
                };
                for at in [0, 1, 62, 63, 64, 100] {
                    let s = embedded(c, at);
                    assert!(may_be_unsafe(&s), "{c:?} at {at}");
                    let clean = inert(&s);
                    assert_eq!(clean, format!("{}{escape}{}", &s[..at], "z".repeat(70)));
                    assert!(!clean.chars().any(is_unsafe), "{c:?}");
                }
                walked += 1;
            }
            // The table's edges are exact.
            for outside in [lo.checked_sub(1), Some(hi + 1)] {
                if let Some(c) = outside.and_then(char::from_u32)
                    && !UNSAFE_RANGES
                        .iter()
                        .any(|&(l, h)| (l..=h).contains(&(c as u32)))
                {
                    assert!(!is_unsafe(c), "{c:?}");
                }
            }
        }
        assert_eq!(
            walked,
            UNSAFE_RANGES.iter().map(|(l, h)| h - l + 1).sum::<u32>()
        );
        assert!(walked > 200, "{walked}");
    }

    #[test]
    fn the_byte_scan_flags_exactly_the_lead_bytes_and_passes_other_text() {
        for b in 0..=255u8 {
            assert_eq!(is_lead(b), LEAD[b as usize], "{b:#x}");
        }
        // No unsafe character anywhere gets past the scan.
        for c in (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| is_unsafe(c))
        {
            assert!(may_be_unsafe(c.encode_utf8(&mut [0; 4])), "{c:?}");
        }
        assert!(!may_be_unsafe(
            &"{\"name\": \"worker-7 ünïcode 线程\"}".repeat(50)
        ));
    }

    #[test]
    fn invalid_utf8_becomes_hex() {
        assert_eq!(from_bytes(b"ok\xff\xfe\x1b"), "ok\\xff\\xfe\\x1b");
        assert_eq!(from_bytes("é".as_bytes()), "é");
    }

    #[test]
    fn bounded_cuts_long_names() {
        let long = "a".repeat(1000);
        let cut = inert_bounded(&long, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn json_escapes_del_and_c1() {
        let json = to_json_inert(&"a\u{7f}b\u{85}c\u{1b}", false).unwrap();
        assert_eq!(json, "\"a\\u007fb\\u0085c\\u001b\"");
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, "a\u{7f}b\u{85}c\u{1b}");
    }

    #[test]
    fn json_escapes_format_characters_beyond_the_bmp_as_surrogate_pairs() {
        let name = "ma\u{200b}in\u{e0001}x\u{2028}";
        let json = to_json_inert(&name, false).unwrap();
        assert_eq!(json, r#""ma\u200bin\udb40\udc01x\u2028""#);
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, name);

        let doc = serde_json::json!({"threads": [{"name": name}, {"name": "\u{feff}\u{e007f}"}]});
        let pretty = to_json_inert(&doc, true).unwrap();
        assert!(
            !pretty.chars().any(|c| is_unsafe(c) && c != '\n'),
            "{pretty}"
        );
        assert!(pretty.contains(r#""\ufeff\udb40\udc7f""#), "{pretty}");
        let back: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(back, doc);
    }
}
