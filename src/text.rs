//! Untrusted text made inert.
//!
//! Thread names, command lines, symbol names and paths come from other processes. Everything
//! that leaves the program goes through [`inert`] (or [`from_bytes`] for raw bytes), so no
//! escape sequence, control character (C0, DEL, C1) or bidi override reaches a terminal or file.

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never be written raw: C0 controls, DEL, C1 controls and the
/// bidirectional overrides that can make text read differently from what it is.
pub fn is_unsafe(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A quick test on the bytes: false means `s` holds no unsafe character. C0 and DEL are
/// single bytes; C1 characters start with 0xC2, and the bidi controls with 0xE2.
fn may_be_unsafe(s: &str) -> bool {
    // Whole chunks without an early exit, so the compiler can test 32 bytes at a time: a
    // 1000-thread JSON document is 7 MB.
    s.as_bytes().chunks(64).any(|chunk| {
        chunk.iter().fold(false, |found, &b| {
            found | (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
        })
    })
}

/// Returns `s` with every unsafe character replaced by a visible escape (`\x1b`, `\u{202e}`).
/// Safe text is returned borrowed, so the common case costs no allocation.
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

/// Serializes to JSON with DEL, C1 and bidi characters escaped as `\uXXXX` (serde_json escapes
/// only C0), so a JSON document is as inert as the text output.
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
    let mut buf = Vec::with_capacity(capacity);
    if pretty {
        serde_json::to_writer_pretty(&mut buf, value)?;
    } else {
        serde_json::to_writer(&mut buf, value)?;
    }
    // SAFETY: serde_json writes valid UTF-8 only (its own `to_string` relies on the same);
    // checking 6 MB again would cost milliseconds.
    let raw = unsafe { String::from_utf8_unchecked(buf) };
    // Pretty output's own newlines are the only unsafe characters serde_json writes outside
    // strings; they stay.
    let escape = |c: char| is_unsafe(c) && c != '\n';
    if !may_be_unsafe(&raw) || !raw.chars().any(escape) {
        return Ok(raw);
    }
    // Inside JSON strings a \uXXXX escape means the same character, and outside strings these
    // characters cannot occur, so the document's meaning is unchanged.
    let mut out = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        if escape(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Ok(out)
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
}
