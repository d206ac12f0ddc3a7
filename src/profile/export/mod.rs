//! A profile written in the formats the fleet tools read: pprof (`profile.proto`, gzipped),
//! folded stacks (flamegraph.pl, inferno) and speedscope JSON; the format named, or told by
//! the file's extension.

mod folded;
mod pprof;
mod proto;
mod speedscope;

use std::io::{self, Write};
use std::path::Path;

use super::Profile;

/// A profile file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `profile.proto`, gzipped (`.pb.gz`, `.pprof`).
    Pprof,
    /// `thread;outer;…;inner count` lines (`.folded`, `.txt`).
    Folded,
    /// speedscope's file format (`.speedscope.json`).
    Speedscope,
}

impl Format {
    /// The format `name` names (`pprof`, `folded`, `speedscope`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "pprof" => Some(Format::Pprof),
            "folded" | "collapsed" => Some(Format::Folded),
            "speedscope" => Some(Format::Speedscope),
            _ => None,
        }
    }

    /// The format a file's name tells, if it does.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".pb.gz") || name.ends_with(".pprof") || name.ends_with(".pb") {
            Some(Format::Pprof)
        } else if name.ends_with(".speedscope.json") || name.ends_with(".speedscope") {
            Some(Format::Speedscope)
        } else if name.ends_with(".folded") || name.ends_with(".collapsed") {
            Some(Format::Folded)
        } else {
            None
        }
    }
}

/// Writes `profile` to `out` in `format`.
pub fn write(profile: &Profile, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Folded => folded::write(profile, out),
        Format::Pprof => pprof::write(profile, out),
        Format::Speedscope => speedscope::write(profile, out),
    }
}
