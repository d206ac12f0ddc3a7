//! JSON made inert as it is written: a `serde_json` formatter that escapes every unsafe
//! character inside strings as `\uXXXX` (serde_json escapes only C0), so a document needs no
//! second pass over its bytes.

use std::io;

use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use super::{is_unsafe, may_be_unsafe};

/// Writes `value` as compact or pretty (two-space) JSON into `out`, inert.
pub(crate) fn write<T: serde::Serialize + ?Sized, W: io::Write>(
    out: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        let mut ser = serde_json::Serializer::with_formatter(out, Inert(PrettyFormatter::new()));
        value.serialize(&mut ser)
    } else {
        let mut ser = serde_json::Serializer::with_formatter(out, Inert(CompactFormatter));
        value.serialize(&mut ser)
    }
}

/// A formatter like `F` whose string fragments (the runs serde_json does not escape itself)
/// have their unsafe characters escaped. Raw fragments (`RawValue`) pass as they are: the only
/// ones written are stacks this formatter wrote before.
struct Inert<F>(F);

/// Escapes the unsafe characters of `s`; inside a JSON string `\uXXXX` means the same
/// character. JSON escapes UTF-16 units: a character beyond the BMP is a surrogate pair
/// (`\u{e0001}` as `\udb40\udc01`; `\ue0001` would read back as U+E000 and "1").
fn write_escaped<W: ?Sized + io::Write>(w: &mut W, s: &str) -> io::Result<()> {
    if !may_be_unsafe(s) {
        return w.write_all(s.as_bytes());
    }
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if is_unsafe(c) {
            w.write_all(&s.as_bytes()[start..i])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
    }
    w.write_all(&s.as_bytes()[start..])
}

/// Passes the structural calls on to the wrapped formatter (the pretty one indents).
macro_rules! pass {
    ($($name:ident($($arg:ident: $t:ty),*)),* $(,)?) => {
        $(
            #[inline]
            fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $t)*) -> io::Result<()> {
                self.0.$name(w $(, $arg)*)
            }
        )*
    };
}

impl<F: Formatter> Formatter for Inert<F> {
    #[inline]
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_escaped(w, fragment)
    }

    pass!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        end_object_key(),
        begin_object_value(),
        end_object_value(),
    );
}
