//! JIT code named by the target's perf map (`/tmp/perf-PID.map`, written by node
//! `--perf-basic-prof`, the JVM's `Compiler.perfmap`, CPython 3.12 `-X perf`): found in the
//! target's own `/tmp` under the pid its namespace gives it, read bounded and parsed once per
//! change of the file, looked up by address with the later line winning.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::tracer::procfs::status::Status;
use crate::tracer::procfs::targetfs::TargetFs;
use crate::tracer::symbolize::symbols::MAX_NAME;
use crate::tracer::text;

/// Most bytes of a perf map read (a long-running node process writes a few MiB).
pub(crate) const MAX_BYTES: u64 = 64 << 20;
/// Most entries kept from one map.
pub(crate) const MAX_ENTRIES: usize = 1 << 20;
/// How many entries starting at or before an address are looked at for one that covers it:
/// a JIT's entries rarely nest, and a hostile map must not make a lookup slow.
const LOOK_BACK: usize = 64;
/// Perf maps of this many processes are kept between traces.
const MAX_KEPT: usize = 16;

/// The module name of a frame named by a perf map.
pub const MODULE: &str = "[perf-map]";

/// One line of a perf map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub start: u64,
    pub size: u64,
    /// Made inert and bounded.
    pub name: Arc<str>,
    /// The line's place among the map's valid lines: a later line wins over an earlier one
    /// for the same address (JITs reuse code space).
    seq: u32,
}

/// A parsed perf map: its entries sorted by start (then by line).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PerfMap {
    entries: Vec<Entry>,
    /// Lines that were not `START SIZE NAME` (or whose range overflows), skipped.
    pub skipped: usize,
    /// The file was longer than [`MAX_BYTES`] or had more than [`MAX_ENTRIES`] entries: the
    /// rest was not read.
    pub cut: bool,
}

impl PerfMap {
    /// Parses a perf map's bytes; a last line without its newline is taken only when the
    /// whole file was read (`complete`).
    pub(crate) fn parse(bytes: &[u8], complete: bool) -> PerfMap {
        let mut map = PerfMap::default();
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if let Some(last) = lines.pop()
            && complete
            && !last.is_empty()
        {
            lines.push(last);
        }
        for line in lines {
            if map.entries.len() >= MAX_ENTRIES {
                map.cut = true;
                break;
            }
            match parse_line(line) {
                Some((start, size, name)) => map.entries.push(Entry {
                    start,
                    size,
                    name,
                    seq: map.entries.len() as u32,
                }),
                None => map.skipped += 1,
            }
        }
        map.entries.sort_by_key(|e| (e.start, e.seq));
        map
    }

    /// The entry that covers `addr`: of those that do, the one written last.
    pub(crate) fn lookup(&self, addr: u64) -> Option<&Entry> {
        let end = self.entries.partition_point(|e| e.start <= addr);
        self.entries[end.saturating_sub(LOOK_BACK)..end]
            .iter()
            .filter(|e| addr - e.start < e.size)
            .max_by_key(|e| e.seq)
    }
}

/// `START SIZE NAME`: START and SIZE hex, `0x` optional; NAME the rest, spaces and all.
fn parse_line(line: &[u8]) -> Option<(u64, u64, Arc<str>)> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_start_matches([' ', '\t']);
    let (start, rest) = line.split_once([' ', '\t'])?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let (size, name) = rest.split_once([' ', '\t'])?;
    let name = name.trim_matches([' ', '\t', '\r']);
    let hex = |s: &str| {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(digits, 16).ok()
    };
    let (start, size) = (hex(start)?, hex(size)?);
    if name.is_empty() || size == 0 || start.checked_add(size).is_none() {
        return None;
    }
    Some((start, size, text::inert_bounded(name, MAX_NAME).into()))
}

/// What identifies one state of a map file: a change of any of these means read it again.
type FileState = (u64, u64, u64, i64, i64);

/// The perf maps read, by target pid, kept between traces.
#[derive(Debug, Default)]
pub(crate) struct PerfMaps {
    kept: HashMap<i32, (FileState, Arc<PerfMap>)>,
}

impl PerfMaps {
    /// The perf map of the target of `fs`, read again only when its file changed; `None`
    /// when it has none (or it is no regular file, or unreadable).
    pub(crate) fn get(&mut self, fs: &TargetFs) -> Option<Arc<PerfMap>> {
        let pid = fs.pid();
        let found = read_changed(fs, self.kept.get(&pid).map(|(s, _)| *s));
        match found {
            Found::Same => self.kept.get(&pid).map(|(_, m)| m.clone()),
            Found::None => {
                self.kept.remove(&pid);
                None
            }
            Found::New(state, map) => {
                if self.kept.len() >= MAX_KEPT && !self.kept.contains_key(&pid) {
                    self.kept.clear();
                }
                let map = Arc::new(map);
                self.kept.insert(pid, (state, map.clone()));
                Some(map)
            }
        }
    }
}

enum Found {
    Same,
    None,
    New(FileState, PerfMap),
}

/// Opens the map of `fs`'s target and reads it unless its state is `known`.
fn read_changed(fs: &TargetFs, known: Option<FileState>) -> Found {
    let Some(ns_pid) = Status::read(fs.pid()).ok().and_then(|s| s.ns_pid) else {
        return Found::None;
    };
    let Ok(opened) = fs.open_no_link(Path::new("/tmp"), &format!("perf-{ns_pid}.map")) else {
        return Found::None;
    };
    let m = &opened.meta;
    let state = (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    if known == Some(state) {
        return Found::Same;
    }
    let mut bytes = Vec::new();
    if opened.file.take(MAX_BYTES).read_to_end(&mut bytes).is_err() {
        return Found::None;
    }
    let complete = (bytes.len() as u64) < MAX_BYTES;
    let mut map = PerfMap::parse(&bytes, complete);
    map.cut |= !complete;
    Found::New(state, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writers_format_and_nothing_malformed() {
        let text = b"7fa0c29ed79b b py::foo:<string>\n\
            0x00007fd2b0f16280 0x00000000000000b8 void Spin.main(java.lang.String[])\n\
            7f181b7c5900 10c JS:^foo [eval]:1:13\n\
            zz 10 bad\n10 zz bad\n10 10\n10 0 empty\nffffffffffffff00 1000 overflow\n\
            \n  20 4 \x1b[31mred\x07  \n30 4 tail";
        let map = PerfMap::parse(text, true);
        assert_eq!(map.entries.len(), 5);
        assert_eq!(map.skipped, 6);
        let name = |a| map.lookup(a).map(|e| e.name.to_string());
        assert_eq!(
            name(0x7fa0c29ed79b + 10).as_deref(),
            Some("py::foo:<string>")
        );
        assert_eq!(name(0x7fa0c29ed79b + 11), None);
        assert_eq!(
            name(0x7fd2b0f16280).as_deref(),
            Some("void Spin.main(java.lang.String[])")
        );
        assert_eq!(name(0x7f181b7c5a00).as_deref(), Some("JS:^foo [eval]:1:13"));
        assert_eq!(name(0x21).as_deref(), Some("\\x1b[31mred\\x07"));
        assert_eq!(name(0x33).as_deref(), Some("tail"));
        // Read short of the end: the line cut off is not taken.
        assert_eq!(PerfMap::parse(b"30 4 tail", false).entries.len(), 0);
    }

    #[test]
    fn the_later_line_wins() {
        let map = PerfMap::parse(b"100 100 old\n100 10 new\n180 10 inner\n", true);
        let name = |a| map.lookup(a).map(|e| e.name.to_string());
        assert_eq!(name(0x105).as_deref(), Some("new"));
        assert_eq!(name(0x150).as_deref(), Some("old"));
        assert_eq!(name(0x185).as_deref(), Some("inner"));
        assert_eq!(name(0x200), None);
        assert_eq!(name(0xff), None);
    }
}
