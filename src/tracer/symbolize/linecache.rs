//! Source lines remembered on disk between runs, per DWARF file: what DWARF said about each
//! address looked up. A cold `dump` spends most of its time inflating compressed debug
//! sections (17 ms for glibc's); the next `dump` of any process using that file reads a few
//! kilobytes instead.
//!
//! An entry is keyed by the identity of the file its DWARF came from (device, inode, size,
//! modification and change times), so a rebuilt or replaced file never meets another's
//! entries. The directory must be ours alone (see [`CacheDir::open`]), and only files named
//! as this module names them are ever removed from it.

use std::collections::BTreeMap;
use std::fs;

use serde::{Deserialize, Serialize};

use crate::tracer::model::Location;
pub(crate) use crate::tracer::symbolize::cachedir::CacheDir;
use crate::tracer::symbolize::filebytes::FileId;
use crate::tracer::symbolize::lines::LineFrame;
use crate::tracer::text;

/// Bumped whenever what a lookup returns, or the file's layout, changes, so old entries are
/// not reused.
const FORMAT: u32 = 2;

/// Most address ranges remembered per file. Reading a file back must stay much cheaper than the
/// DWARF load it saves (a full file, about 600 KB, parses in a few milliseconds), and busy
/// threads meet new addresses all the time: when full, what this run did not use goes.
const MAX_ENTRIES: usize = 4096;

/// Largest cache file read back or written (a bigger one is ignored and replaced).
const MAX_FILE: u64 = 4 << 20;

/// Largest answer remembered, in bytes of text: a real chain of inlined calls is a few KiB.
const MAX_ANSWER: usize = 16 << 10;

/// The text an answer holds (plus a little per frame).
fn weight(frames: &[LineFrame]) -> usize {
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    frames
        .iter()
        .map(|f| {
            16 + len(&f.name) + len(&f.raw_name) + f.location.as_ref().map_or(0, |l| l.file.len())
        })
        .sum()
}

/// After the first save, new entries are written at most this often (and when the cache is
/// dropped): a live view of busy threads meets new addresses at every refresh.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Most files kept in the directory; the oldest go first.
const MAX_FILES: usize = 2_000;

/// The remembered lookups of one DWARF file.
#[derive(Debug)]
pub(crate) struct LineCache {
    dir: CacheDir,
    /// The file's name in `dir`.
    name: String,
    /// By start address: (end, what DWARF says for every address in start..end). Ranges do
    /// not overlap.
    entries: BTreeMap<u64, (u64, Vec<LineFrame>)>,
    /// Starts of the ranges looked up or added by this run: kept when the file is full.
    used: std::collections::HashSet<u64>,
    /// Entries added since the file was read or written.
    dirty: bool,
    /// The file existed when read (a new one may push an old one out of the directory).
    existed: bool,
    /// When the entries were last written by us.
    saved_at: Option<std::time::Instant>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    /// (start, end, frames)
    entries: Vec<(u64, u64, Vec<StoredFrame>)>,
}

#[derive(Serialize, Deserialize)]
struct StoredFrame {
    name: Option<String>,
    raw_name: Option<String>,
    /// (file, line, column)
    location: Option<(String, u32, Option<u32>)>,
}

impl LineCache {
    /// The entries remembered for the DWARF file `id`; none if there is no such file or it
    /// cannot be read (a corrupt file is as good as none, and is replaced at the next save).
    pub(crate) fn load(dir: &CacheDir, id: &FileId) -> LineCache {
        let name = format!(
            "{PREFIX}{FORMAT}-{:016x}-{:x}-{:x}-{:x}-{}-{}{SUFFIX}",
            writer(),
            id.dev,
            id.ino,
            id.size,
            id.mtime_ns,
            id.ctime_ns
        );
        let read = dir.read(&name, MAX_FILE);
        let existed = read.is_some();
        let mut entries = BTreeMap::new();
        let stored = read
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|s| s.format == FORMAT);
        for (start, end, frames) in stored.into_iter().flat_map(|s| s.entries) {
            // Ranges are written sorted and disjoint; anything else is not ours: skip it.
            let after_last = entries
                .last_key_value()
                .is_none_or(|(_, (last_end, _)): (&u64, &(u64, _))| *last_end <= start);
            if start < end && after_last && entries.len() < MAX_ENTRIES {
                entries.insert(start, (end, frames.into_iter().map(restore).collect()));
            }
        }
        LineCache {
            dir: dir.clone(),
            name,
            entries,
            used: Default::default(),
            dirty: false,
            existed,
            saved_at: None,
        }
    }

    /// What DWARF said for `vaddr`, if a remembered range holds it.
    pub(crate) fn get(&mut self, vaddr: u64) -> Option<&Vec<LineFrame>> {
        let (&start, (end, frames)) = self.entries.range(..=vaddr).next_back()?;
        if vaddr >= *end {
            return None;
        }
        self.used.insert(start);
        Some(frames)
    }

    /// Remembers that every address in `start..end` gives `frames`. Ranges it overlaps came
    /// from the same DWARF and so say the same: they are merged into it (if they do not, the
    /// file was not ours, and the new range is left out).
    pub(crate) fn insert(&mut self, start: u64, end: u64, frames: &[LineFrame]) {
        if start >= end {
            return;
        }
        let overlapping: Vec<u64> = self
            .entries
            .range(..end)
            .rev()
            .take_while(|(_, (e, _))| *e > start)
            .map(|(&s, _)| s)
            .collect();
        let (mut start, mut end) = (start, end);
        for s in &overlapping {
            let (e, old) = &self.entries[s];
            if old.as_slice() != frames {
                return;
            }
            (start, end) = (start.min(*s), end.max(*e));
        }
        for s in overlapping {
            self.entries.remove(&s);
        }
        if self.entries.len() >= MAX_ENTRIES {
            let used = &self.used;
            self.entries.retain(|s, _| used.contains(s));
            self.dirty = true;
        }
        if self.entries.len() < MAX_ENTRIES {
            self.entries.insert(start, (end, frames.to_vec()));
            self.used.insert(start);
            self.dirty = true;
        }
    }

    /// Looks up every address of `lo..hi` with `lookup` and remembers the runs of equal
    /// answers as ranges: exact, since each address was looked up. Returns the answer for
    /// `vaddr` (which `lo..hi` holds).
    pub(crate) fn remember(
        &mut self,
        lo: u64,
        hi: u64,
        vaddr: u64,
        mut lookup: impl FnMut(u64) -> Vec<LineFrame>,
    ) -> Vec<LineFrame> {
        let answer = lookup(vaddr);
        // A hostile module's DWARF can make one answer megabytes (256 inlined frames with
        // 8 KiB names): neither kept nor multiplied by looking up its neighbours.
        if weight(&answer) > MAX_ANSWER {
            return answer;
        }
        let mut runs: Vec<(u64, u64, Vec<LineFrame>)> = Vec::new();
        let mut open = false;
        for v in lo..hi {
            let frames = if v == vaddr {
                answer.clone()
            } else {
                lookup(v)
            };
            if weight(&frames) > MAX_ANSWER {
                open = false;
                continue;
            }
            match runs.last_mut() {
                Some(last) if open && last.2 == frames => last.1 = v + 1,
                _ => runs.push((v, v + 1, frames)),
            }
            open = true;
        }
        for (start, end, frames) in runs {
            self.insert(start, end, &frames);
        }
        answer
    }

    /// Writes the entries if any were added, unless the last write was less than
    /// [`SAVE_EVERY`] ago (see [`LineCache::save_now`]).
    pub(crate) fn save(&mut self) {
        if self.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
            self.save_now();
        }
    }

    /// Writes the entries if any were added (see [`CacheDir::replace`]). Errors (a full disk,
    /// a read-only home) only cost the next run its head start.
    pub(crate) fn save_now(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.saved_at = Some(std::time::Instant::now());
        // A BTreeMap iterates in order: the ranges go out sorted, as `load` wants them.
        let entries: Vec<(u64, u64, Vec<StoredFrame>)> = self
            .entries
            .iter()
            .map(|(&start, (end, frames))| (start, *end, frames.iter().map(store).collect()))
            .collect();
        let Ok(json) = serde_json::to_vec(&Stored {
            format: FORMAT,
            entries,
        }) else {
            return;
        };
        if json.len() as u64 > MAX_FILE {
            return;
        }
        if !self.existed {
            prune(&self.dir);
            self.existed = true;
        }
        self.dir.replace(&self.name, &json);
    }
}

impl Drop for LineCache {
    fn drop(&mut self) {
        self.save_now();
    }
}

/// What this module's files are called: `lines-<format>-<hex and decimal fields>.json`.
const PREFIX: &str = "lines-";
const SUFFIX: &str = ".json";

/// True for the names of the files this module writes, of any format (an older build's files
/// are ours too), and for their temporary files: nothing else is ever removed.
fn is_ours(name: &str) -> bool {
    let fields = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX));
    let lines = fields.is_some_and(|f| {
        f.split_once('-').is_some_and(|(format, rest)| {
            !format.is_empty()
                && format.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        })
    });
    lines || CacheDir::is_temp(name)
}

/// Removes the oldest of our files when the directory holds too many (one more is coming).
/// Only regular files named as ours count and go; anything else in the directory is left.
fn prune(dir: &CacheDir) {
    let mut files: Vec<(i64, String)> = dir
        .files()
        .into_iter()
        .filter(|(name, _)| is_ours(name))
        .map(|(name, mtime)| (mtime, name))
        .collect();
    if files.len() < MAX_FILES {
        return;
    }
    files.sort_unstable();
    for (_, name) in files
        .iter()
        .take(files.len() + 1 - MAX_FILES + MAX_FILES / 10)
    {
        dir.remove(name);
    }
}

/// This build of rstack-tui: entries written by another build (whose lookups may differ)
/// are not read. Without a `FORMAT` bump a changed lookup would otherwise be served stale.
fn writer() -> u64 {
    static WRITER: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *WRITER.get_or_init(|| {
        let id = fs::metadata("/proc/self/exe").map(|m| FileId::of(&m)).ok();
        // FNV-1a: stable across Rust releases, unlike the std hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("{}{id:?}", env!("CARGO_PKG_VERSION")).bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    })
}

fn store(f: &LineFrame) -> StoredFrame {
    StoredFrame {
        name: f.name.clone(),
        raw_name: f.raw_name.clone(),
        location: f
            .location
            .as_ref()
            .map(|l| (l.file.clone(), l.line, l.column)),
    }
}

/// Back from disk, made inert again: the file is ours, but its text came from the target.
fn restore(f: StoredFrame) -> LineFrame {
    let inert = |s: String| text::inert(&s).into_owned();
    LineFrame {
        name: f.name.map(inert),
        raw_name: f.raw_name.map(inert),
        location: f.location.map(|(file, line, column)| Location {
            file: inert(file),
            line,
            column,
        }),
    }
}

#[cfg(test)]
pub(in crate::tracer) mod tests {
    use super::{CacheDir, LineCache};
    use crate::tracer::model::Location;
    use crate::tracer::symbolize::filebytes::FileId;
    use crate::tracer::symbolize::lines::LineFrame;

    fn frame(name: &str) -> LineFrame {
        LineFrame {
            name: Some(name.into()),
            raw_name: Some(name.into()),
            location: Some(Location {
                file: "a.c".into(),
                line: 7,
                column: None,
            }),
        }
    }

    fn id(ino: u64) -> FileId {
        FileId {
            dev: 1,
            ino,
            size: 2,
            mtime_ns: 3,
            ctime_ns: 4,
        }
    }

    /// A private cache directory under /tmp, removed when dropped.
    pub(in crate::tracer) struct TempCache {
        path: std::path::PathBuf,
        pub dir: CacheDir,
    }

    impl TempCache {
        pub(in crate::tracer) fn new(name: &str) -> TempCache {
            let path =
                std::env::temp_dir().join(format!("linecache-{name}-{}", std::process::id()));
            let dir = CacheDir::open(&path).expect("a private directory under /tmp");
            TempCache { path, dir }
        }
    }

    impl Drop for TempCache {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                std::fs::remove_dir_all(&self.path).unwrap();
            }
        }
    }

    fn entries_on_disk(dir: &CacheDir, ino: u64) -> usize {
        LineCache::load(dir, &id(ino)).entries.len()
    }

    #[test]
    fn first_save_at_once_later_ones_at_most_every_minute_and_on_drop() {
        let tmp = TempCache::new("unit");
        let dir = &tmp.dir;
        let mut cache = LineCache::load(dir, &id(10));
        cache.insert(0x10, 0x11, &[frame("f")]);
        cache.save();
        assert_eq!(entries_on_disk(dir, 10), 1);
        cache.insert(0x20, 0x21, &[frame("g")]);
        cache.save();
        assert_eq!(entries_on_disk(dir, 10), 1, "saved again within a minute");
        drop(cache);
        assert_eq!(entries_on_disk(dir, 10), 2, "not saved on drop");
        // Another file's identity finds none of these.
        assert_eq!(entries_on_disk(dir, 11), 0);
    }

    #[test]
    fn a_full_file_keeps_what_this_run_used() {
        let tmp = TempCache::new("full");
        let dir = &tmp.dir;
        let mut cache = LineCache::load(dir, &id(20));
        let long = frame("std::collections::hash::map::HashMap<K,V,S>::insert_with_a_long_name");
        for v in 0..super::MAX_ENTRIES as u64 {
            cache.insert(v * 2, v * 2 + 1, &[long.clone(), frame("outer")]);
        }
        drop(cache);
        let started = std::time::Instant::now();
        let mut cache = LineCache::load(dir, &id(20));
        // Not a timed test: the figure shows what a full file costs a run.
        eprintln!("a full file read back in {:?}", started.elapsed());
        assert_eq!(cache.entries.len(), super::MAX_ENTRIES);
        assert!(cache.get(14).is_some());
        cache.insert(1 << 40, (1 << 40) + 1, &[frame("new")]);
        // Full: only what this run used (14, and the new one) is kept.
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.get(14).is_some() && cache.get(1 << 40).is_some());
        drop(cache);
        assert_eq!(entries_on_disk(dir, 20), 2);
    }

    #[test]
    fn ranges_answer_for_every_address_inside_and_merge() {
        let tmp = TempCache::new("ranges");
        let dir = &tmp.dir;
        let mut cache = LineCache::load(dir, &id(30));
        cache.insert(100, 110, &[frame("f")]);
        cache.insert(120, 121, &[frame("g")]);
        assert!(cache.get(99).is_none() && cache.get(110).is_none());
        assert_eq!(cache.get(105).unwrap()[0].name.as_deref(), Some("f"));
        // Overlapping and agreeing: merged into one range.
        cache.insert(108, 115, &[frame("f")]);
        assert_eq!(cache.entries.len(), 2);
        assert_eq!(cache.get(114).unwrap()[0].name.as_deref(), Some("f"));
        // Overlapping and disagreeing (not from the same DWARF): left out.
        cache.insert(119, 125, &[frame("h")]);
        assert_eq!(cache.get(120).unwrap()[0].name.as_deref(), Some("g"));
        assert!(cache.get(122).is_none());
        drop(cache);
        let mut cache = LineCache::load(dir, &id(30));
        assert_eq!(cache.get(100).unwrap()[0].name.as_deref(), Some("f"));
        assert_eq!(cache.get(114).unwrap()[0].name.as_deref(), Some("f"));
        assert!(cache.get(115).is_none());
        drop(cache);
    }

    #[test]
    fn huge_answers_are_neither_kept_nor_multiplied() {
        let tmp = TempCache::new("huge");
        let dir = &tmp.dir;
        let mut cache = LineCache::load(dir, &id(40));
        let huge = vec![frame(&"x".repeat(8192)); 8];
        let mut lookups = 0;
        let got = cache.remember(0, 128, 64, |_| {
            lookups += 1;
            huge.clone()
        });
        assert_eq!(got.len(), 8);
        assert_eq!(lookups, 1, "the neighbours of a huge answer were looked up");
        assert!(cache.get(64).is_none());
        // Huge neighbours of a small answer are left out; the small ones kept, not merged
        // across the gaps.
        let got = cache.remember(200, 210, 205, |v| {
            if v % 2 == 0 {
                huge.clone()
            } else {
                vec![frame("small")]
            }
        });
        assert_eq!(got[0].name.as_deref(), Some("small"));
        assert!(cache.get(204).is_none() && cache.get(206).is_none());
        assert!(cache.get(203).is_some() && cache.get(205).is_some());
        let got = cache.remember(300, 310, 305, |v| {
            if v == 301 {
                huge.clone()
            } else {
                vec![frame("small")]
            }
        });
        assert_eq!(got[0].name.as_deref(), Some("small"));
        assert!(cache.get(301).is_none());
        assert!(cache.get(300).is_some() && cache.get(302).is_some() && cache.get(309).is_some());
        drop(cache);
    }

    #[test]
    fn only_our_names_are_ours() {
        let tmp = TempCache::new("names");
        let cache = LineCache::load(&tmp.dir, &id(1));
        assert!(super::is_ours(&cache.name), "{}", cache.name);
        drop(cache);
        for ours in [
            "lines-1-0123abcdef-1-2-3-4-5.json",
            "lines-2-ffffffffffffffff-fd00-1a2b-10-5-1712345678123456789.json",
            "lines-2-a--5.json",
            ".tmp-4242-9f",
        ] {
            assert!(super::is_ours(ours), "{ours}");
        }
        for not in [
            "lines-2-.json",
            "lines--1-2.json",
            "lines-x-1-2.json",
            "lines-2-1-2.json.bak",
            "lines-2-g-1.json",
            "status",
            "lines-2-1.jsonx",
            ".tmp-1-",
            "info.list",
        ] {
            assert!(!super::is_ours(not), "{not}");
        }
    }

    #[test]
    fn text_read_back_is_inert() {
        let tmp = TempCache::new("inert");
        let dir = &tmp.dir;
        let cache = LineCache::load(dir, &id(1));
        let file = tmp.path.join(&cache.name);
        drop(cache);
        std::fs::write(
            &file,
            "{\"format\":2,\"entries\":[[5,6,[{\"name\":\"a\\u001b[2Jb\\u009b\",\"raw_name\":\"\\u007f\",\
             \"location\":[\"x\\u0007.c\",3,null]}]]]}",
        )
        .unwrap();
        let mut cache = LineCache::load(dir, &id(1));
        let got = &cache.get(5).expect("the entry")[0];
        let all = format!(
            "{}{}{}",
            got.name.as_deref().unwrap(),
            got.raw_name.as_deref().unwrap(),
            got.location.as_ref().unwrap().file
        );
        assert!(
            !all.chars()
                .any(|c| c.is_control() || ('\u{80}'..='\u{9f}').contains(&c)),
            "{all:?}"
        );
        drop(cache);
    }
}
