//! Saved snapshot files: the JSON schema of `dump --json` ([`SnapshotDoc`]), either one
//! document or a history `{"version":1,"snapshots":[...]}`. A loaded file is untrusted: it is
//! bounded (size, nesting, counts, string lengths) before it is parsed, and never panics us.

use std::fmt::Write as _;
use std::fs::{OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::tracer::OpenRegularError;
use crate::tracer::snapshot::schema::{OLDEST_VERSION, SnapshotDoc, VERSION, rfc3339};
use crate::tracer::text::{inert, inert_bounded, to_json_inert};

/// The largest file we read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The deepest nesting of JSON arrays and objects we accept.
pub const MAX_DEPTH: usize = 64;
/// The most snapshots in a history.
pub const MAX_SNAPSHOTS: usize = 1024;
/// The most threads in one snapshot.
pub const MAX_THREADS: usize = 100_000;
/// The most frames in one thread.
pub const MAX_FRAMES: usize = 10_000;
/// The longest string (and object key), in bytes.
pub const MAX_STRING_BYTES: usize = 64 << 10;
/// The most links in one wait chain or cycle (the tracer cuts a chain at 12).
pub const MAX_CHAIN_LINKS: usize = 64;
/// The most holders of one link (the clients queued on a socket, a pipe's other ends).
pub const MAX_HOLDERS: usize = 1024;
/// The most wait cycles in one snapshot.
pub const MAX_WAIT_CYCLES: usize = 1024;

/// Longest key or found value quoted in a message.
const SHOWN_CHARS: usize = 64;

/// Why a snapshot file could not be read or written. Every message is one line,
/// "`<path>: <what is wrong>`", with the path (and anything quoted from the file) made inert.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file does not exist.
    #[error("{path}: not found")]
    NotFound { path: String },

    /// `save` refuses to replace an existing file (or a symlink planted at the path).
    #[error("{path}: already exists; not overwritten")]
    Exists { path: String },

    /// The file is over [`MAX_FILE_BYTES`]; it was not read.
    #[error("{path}: file is larger than 256 MiB")]
    TooLarge { path: String, size: u64 },

    /// Not a regular file (a directory, a FIFO, a device).
    #[error("{path}: {what}")]
    NotRegular { path: String, what: &'static str },

    /// An I/O error other than the above.
    #[error("{path}: {what}: {source}")]
    Io {
        path: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },

    /// Not JSON: empty, truncated or malformed.
    #[error("{path}: {message}")]
    Json { path: String, message: String },

    /// A missing, invalid or newer schema version.
    #[error("{path}: {message}")]
    Version { path: String, message: String },

    /// Over a limit: nesting, snapshot/thread/frame counts, string length.
    #[error("{path}: {message}")]
    Limit { path: String, message: String },

    /// JSON of the wrong shape: a field of the wrong type, a missing field.
    #[error("{path}: {message}")]
    Schema { path: String, message: String },

    /// `save` was given no snapshot.
    #[error("{path}: no snapshot to save")]
    Nothing { path: String },
}

/// Reads a file: a single snapshot or a history. Returns the snapshots oldest first (sorted by
/// `taken_at_unix_ms`, stable).
pub fn load(path: &Path) -> Result<Vec<SnapshotDoc<'static>>, FileError> {
    let shown = show_path(path);
    let io_error = |what, source: io::Error| match source.kind() {
        io::ErrorKind::NotFound => FileError::NotFound {
            path: shown.clone(),
        },
        _ => FileError::Io {
            path: shown.clone(),
            what,
            source,
        },
    };
    let (file, meta) = crate::tracer::open_regular(path).map_err(|e| match e {
        OpenRegularError::Open(e) => io_error("cannot open", e),
        OpenRegularError::Stat(e) => io_error("cannot read", e),
        OpenRegularError::NotRegular { directory } => FileError::NotRegular {
            path: shown.clone(),
            what: if directory {
                "is a directory"
            } else {
                "not a regular file"
            },
        },
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: shown,
            size: meta.len(),
        });
    }
    // The file may grow after the check: read at most one byte past the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("cannot read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: shown,
            size: bytes.len() as u64,
        });
    }
    parse_shown(shown, &bytes)
}

/// Parses bytes (for tests and fuzzing); `name` is used in messages.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<SnapshotDoc<'static>>, FileError> {
    parse_shown(inert(name).into_owned(), bytes)
}

/// Writes one snapshot or a history (one doc → single-object form; several → history form) as
/// pretty JSON made inert by [`to_json_inert`]. The file is created with mode 0600 and
/// O_CREAT|O_EXCL|O_NOFOLLOW: an existing file, or a symlink planted at the path, is never
/// written through ([`FileError::Exists`]).
pub fn save(path: &Path, docs: &[SnapshotDoc]) -> Result<(), FileError> {
    let shown = show_path(path);
    let json = match docs {
        [] => return Err(FileError::Nothing { path: shown }),
        [one] => to_json_inert(one, true),
        many if many.len() > MAX_SNAPSHOTS => {
            return Err(FileError::Limit {
                path: shown,
                message: format!("too many snapshots ({} > {MAX_SNAPSHOTS})", many.len()),
            });
        }
        many => to_json_inert(
            &HistoryOut {
                version: VERSION,
                snapshots: many,
            },
            true,
        ),
    };
    let mut json = json.map_err(|e| FileError::Schema {
        path: shown.clone(),
        message: format!("cannot serialize: {}", inert(&e.to_string())),
    })?;
    json.push('\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => FileError::Exists {
                path: shown.clone(),
            },
            _ if e.raw_os_error() == Some(libc::ELOOP) => FileError::Exists {
                path: shown.clone(),
            },
            _ => FileError::Io {
                path: shown.clone(),
                what: "cannot create",
                source: e,
            },
        })?;
    // The umask may have taken bits away; it cannot have added any. Make it exactly 0600.
    let written = file
        .set_permissions(Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(json.as_bytes()))
        .and_then(|()| file.flush());
    if let Err(source) = written {
        drop(file);
        // We created the file exclusively a moment ago: do not leave half a document behind.
        let _ = std::fs::remove_file(path);
        return Err(FileError::Io {
            path: shown,
            what: "cannot write",
            source,
        });
    }
    Ok(())
}

/// A default file name `rstack-<pid>-<comm-or-name>-<YYYYMMDDTHHMMSSZ>.json`, made of
/// `[A-Za-z0-9._-]` only (anything else becomes `_`), the name part cut to 32 characters.
pub fn default_file_name(doc: &SnapshotDoc) -> String {
    let command = doc.command.trim();
    let name = match command.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
        // A process without a command line: "[comm]".
        Some(comm) => comm,
        None => {
            let argv0 = command.split_whitespace().next().unwrap_or("");
            argv0.rsplit('/').next().unwrap_or("")
        }
    };
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if safe.is_empty() {
        safe.push_str("process");
    }
    let when = UNIX_EPOCH
        .checked_add(Duration::from_millis(doc.taken_at_unix_ms))
        .unwrap_or(UNIX_EPOCH);
    // "2026-11-29T14:00:00.123Z" → "20261129T140000Z".
    let full = rfc3339(when);
    let stamp: String = full
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("rstack-{}-{safe}-{stamp}Z.json", doc.pid)
}

#[derive(Serialize)]
struct HistoryOut<'a, 'p> {
    version: u32,
    snapshots: &'a [SnapshotDoc<'p>],
}

#[derive(Deserialize)]
struct HistoryIn {
    snapshots: Vec<SnapshotDoc<'static>>,
}

fn show_path(path: &Path) -> String {
    inert(&path.to_string_lossy()).into_owned()
}

fn parse_shown(path: String, bytes: &[u8]) -> Result<Vec<SnapshotDoc<'static>>, FileError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path,
            size: bytes.len() as u64,
        });
    }
    if bytes.trim_ascii().is_empty() {
        return Err(FileError::Json {
            path,
            message: "empty file".into(),
        });
    }
    if too_deep(bytes) {
        return Err(FileError::Limit {
            path,
            message: format!("nested too deeply (more than {MAX_DEPTH} levels)"),
        });
    }

    // Pass 1: walk the document without building it, checking syntax, versions and limits.
    let mut probe = Probe::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = Seed {
        p: &mut probe,
        kind: Kind::Top,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = walked {
        return Err(json_error(path, &e));
    }
    if !probe.top_is_object {
        return Err(FileError::Schema {
            path,
            message: "expected a JSON object (a snapshot or a history of snapshots)".into(),
        });
    }
    if let Some(message) = version_problem(probe.top_version) {
        return Err(FileError::Version { path, message });
    }
    if let Some(message) = probe.version_issue {
        return Err(FileError::Version { path, message });
    }
    if let Some(message) = probe.limit_issue {
        return Err(FileError::Limit { path, message });
    }

    // Pass 2: build it; only type errors are left, named by their field path.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut docs = if probe.top_has_snapshots {
        let history: HistoryIn = typed(&path, &mut de)?;
        history.snapshots
    } else {
        vec![typed::<SnapshotDoc>(&path, &mut de)?]
    };
    if docs.is_empty() {
        return Err(FileError::Schema {
            path,
            message: "snapshots: the history holds no snapshot".into(),
        });
    }
    docs.sort_by_key(|d| d.taken_at_unix_ms);
    Ok(docs)
}

fn typed<T: de::DeserializeOwned>(
    path: &str,
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, FileError> {
    let value = serde_path_to_error::deserialize::<_, T>(&mut *de).map_err(|e| {
        let inner = e.inner();
        if inner.classify() != serde_json::error::Category::Data {
            return json_error(path.to_string(), inner);
        }
        let at = fmt_segments(e.path().iter().map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Seg::Index(*index),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => Seg::Key(shown_key(key)),
            serde_path_to_error::Segment::Unknown => Seg::Key("?".into()),
        }));
        let message = format!("{}{}", humanize(&bare_message(inner)), position(inner));
        FileError::Schema {
            path: path.to_string(),
            message: with_path(&at, &message),
        }
    })?;
    de.end().map_err(|e| json_error(path.to_string(), &e))?;
    Ok(value)
}

/// A syntax error (or anything serde_json reports outside the data model) as a message.
fn json_error(path: String, e: &serde_json::Error) -> FileError {
    use serde_json::error::Category;
    let at = position(e);
    let message = match e.classify() {
        Category::Eof => format!("truncated JSON{at}"),
        Category::Syntax => format!("malformed JSON{at}: {}", inert(&bare_message(e))),
        Category::Data => format!("{}{at}", humanize(&bare_message(e))),
        Category::Io => format!("cannot read: {}", inert(&bare_message(e))),
    };
    FileError::Json { path, message }
}

fn position(e: &serde_json::Error) -> String {
    if e.line() == 0 {
        String::new()
    } else {
        format!(" at line {} column {}", e.line(), e.column())
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(bare) => bare.to_string(),
        None => full,
    }
}

/// Rewrites serde's "invalid type: string \"x\", expected u64" as "expected a number, found
/// string \"x\"", with the found value (text from the file) inert and cut short.
fn humanize(msg: &str) -> String {
    let parts = msg
        .strip_prefix("invalid type: ")
        .map(|rest| (rest, true))
        .or_else(|| {
            msg.strip_prefix("invalid value: ")
                .map(|rest| (rest, false))
        });
    let Some((rest, is_type)) = parts else {
        return inert_bounded(msg, 200);
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return inert_bounded(msg, 200);
    };
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
            if is_type && found.starts_with("floating point") =>
        {
            "a whole number".to_string()
        }
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
            if is_type =>
        {
            "a number".to_string()
        }
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" => format!("a whole number from 0 to {}", u64::MAX),
        "i64" => format!("a whole number from {} to {}", i64::MIN, i64::MAX),
        "a sequence" => "an array".to_string(),
        other if other.starts_with("struct ") => "an object".to_string(),
        other => inert_bounded(other, SHOWN_CHARS),
    };
    format!(
        "expected {expected}, found {}",
        inert_bounded(found, SHOWN_CHARS)
    )
}

fn version_problem(version: Option<Ver>) -> Option<String> {
    match version {
        Some(Ver::Num(v)) if (u64::from(OLDEST_VERSION)..=u64::from(VERSION)).contains(&v) => None,
        Some(Ver::Num(v)) if v > u64::from(VERSION) => Some(format!(
            "schema version {v} is newer than this rstack-tui understands ({VERSION})"
        )),
        _ => Some("missing or invalid schema version".into()),
    }
}

/// True if arrays and objects nest deeper than [`MAX_DEPTH`] (brackets inside strings do not
/// count). serde_json stops at 128 levels too, but with a less clear message.
fn too_deep(bytes: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// One step of a path in a document: `threads[2].frames[0].ip`.
enum Seg {
    Key(String),
    Index(usize),
}

fn fmt_segments(segs: impl IntoIterator<Item = Seg>) -> String {
    fmt_segment_refs(segs.into_iter().collect::<Vec<_>>().iter())
}

fn fmt_segment_refs<'a>(segs: impl Iterator<Item = &'a Seg>) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

fn with_path(at: &str, message: &str) -> String {
    if at.is_empty() {
        message.to_string()
    } else {
        format!("{at}: {message}")
    }
}

/// A key from the file as shown in a path: inert and short.
fn shown_key(key: &str) -> String {
    inert_bounded(key, SHOWN_CHARS)
}

#[derive(Clone, Copy)]
enum Ver {
    Num(u64),
    Invalid,
}

/// What the first pass learned; problems are recorded (the first of each kind) rather than
/// raised, so a version problem wins over a limit found earlier in the file.
#[derive(Default)]
struct Probe {
    path: Vec<Seg>,
    top_is_object: bool,
    top_has_snapshots: bool,
    top_version: Option<Ver>,
    /// The value of the `version` field just walked.
    last_version: Option<Ver>,
    version_issue: Option<String>,
    limit_issue: Option<String>,
}

impl Probe {
    fn note_limit(&mut self, at_parent: bool, message: String) {
        if self.limit_issue.is_some() {
            return;
        }
        let len = self.path.len().saturating_sub(usize::from(at_parent));
        let at = fmt_segment_refs(self.path.iter().take(len));
        self.limit_issue = Some(with_path(&at, &message));
    }

    fn note_version(&mut self, message: String) {
        if self.version_issue.is_none() {
            let at = fmt_segment_refs(self.path.iter());
            self.version_issue = Some(with_path(&at, &message));
        }
    }

    fn check_string(&mut self, s: &str) {
        if s.len() > MAX_STRING_BYTES {
            self.note_limit(
                false,
                format!("string longer than 64 KiB ({} bytes)", s.len()),
            );
        }
    }
}

/// Where in the schema a value sits, as far as the limits care.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The whole file: a snapshot or a history.
    Top,
    /// A snapshot inside a history.
    Doc,
    Snapshots,
    Threads,
    Thread,
    Frames,
    /// A thread's `chain` or one of `wait_cycles`: an object with `links`.
    Chain,
    Links,
    Link,
    Holders,
    WaitCycles,
    Version,
    Any,
}

/// Walks any JSON value without building it.
struct Seed<'a> {
    p: &'a mut Probe,
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Seed<'_> {
    fn scalar(self, version: Ver) {
        if self.kind == Kind::Version {
            self.p.last_version = Some(version);
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar(Ver::Invalid);
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar(Ver::Invalid);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Ver::Num(v));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar(Ver::Invalid);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.p.check_string(s);
        self.scalar(Ver::Invalid);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Ver::Invalid);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (child, limit) = match self.kind {
            Kind::Snapshots => (Kind::Doc, Some(("snapshots", MAX_SNAPSHOTS))),
            Kind::Threads => (Kind::Thread, Some(("threads", MAX_THREADS))),
            Kind::Frames => (Kind::Any, Some(("frames", MAX_FRAMES))),
            Kind::Links => (Kind::Link, Some(("chain links", MAX_CHAIN_LINKS))),
            Kind::Holders => (Kind::Any, Some(("holders", MAX_HOLDERS))),
            Kind::WaitCycles => (Kind::Chain, Some(("wait cycles", MAX_WAIT_CYCLES))),
            _ => (Kind::Any, None),
        };
        let p = self.p;
        let mut n = 0usize;
        loop {
            p.path.push(Seg::Index(n));
            let next = seq.next_element_seed(Seed {
                p: &mut *p,
                kind: child,
            });
            p.path.pop();
            match next? {
                Some(()) => n += 1,
                None => break,
            }
        }
        if let Some((what, max)) = limit
            && n > max
        {
            p.note_limit(true, format!("too many {what} ({n} > {max})"));
        }
        if self.kind == Kind::Version {
            p.last_version = Some(Ver::Invalid);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let kind = self.kind;
        let p = self.p;
        if kind == Kind::Top {
            p.top_is_object = true;
        }
        let mut saw_version = false;
        while let Some(key) = map.next_key_seed(KeySeed { p: &mut *p })? {
            let child = match (kind, key.as_str()) {
                (Kind::Top | Kind::Doc, "version") => Kind::Version,
                (Kind::Top, "snapshots") => Kind::Snapshots,
                (Kind::Top | Kind::Doc, "threads") => Kind::Threads,
                (Kind::Thread, "frames") => Kind::Frames,
                (Kind::Thread, "chain") => Kind::Chain,
                (Kind::Top | Kind::Doc, "wait_cycles") => Kind::WaitCycles,
                (Kind::Chain, "links") => Kind::Links,
                (Kind::Link, "holders") => Kind::Holders,
                _ => Kind::Any,
            };
            if kind == Kind::Top && child == Kind::Snapshots {
                p.top_has_snapshots = true;
            }
            p.last_version = None;
            p.path.push(Seg::Key(key));
            map.next_value_seed(Seed {
                p: &mut *p,
                kind: child,
            })?;
            if child == Kind::Version {
                saw_version = true;
                let version = p.last_version.take().unwrap_or(Ver::Invalid);
                if kind == Kind::Top {
                    p.top_version = Some(version);
                } else {
                    p.path.pop();
                    if let Some(message) = version_problem(Some(version)) {
                        p.note_version(message);
                    }
                    continue;
                }
            }
            p.path.pop();
        }
        if kind == Kind::Doc && !saw_version {
            p.note_version("missing or invalid schema version".into());
        }
        if kind == Kind::Version {
            p.last_version = Some(Ver::Invalid);
        }
        Ok(())
    }
}

/// Reads an object key: checks its length, returns it short and inert for paths.
struct KeySeed<'a> {
    p: &'a mut Probe,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
        let key = shown_key(s);
        if s.len() > MAX_STRING_BYTES {
            self.p.path.push(Seg::Key(key.clone()));
            self.p.check_string(s);
            self.p.path.pop();
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert!(!too_deep(
            br#"{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#
        ));
        assert!(!too_deep(
            br#"{"a":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#
        ));
        assert!(!too_deep("[".repeat(MAX_DEPTH).as_bytes()));
        assert!(too_deep("[".repeat(MAX_DEPTH + 1).as_bytes()));
        assert!(too_deep("{\"a\":[".repeat(40).as_bytes()));
    }

    #[test]
    fn chains_and_wait_cycles_are_bounded_before_parsing() {
        let party = serde_json::json!({"pid": 1, "tid": 2, "name": "a"});
        let link = |holders: usize| {
            serde_json::json!({"waiter": party, "kind": "mutex", "object": "mutex 0x10",
                "holders": vec![party.clone(); holders]})
        };
        let doc = |threads: serde_json::Value, cycles: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({
                "version": 2, "pid": 1, "command": "x", "taken_at": "t",
                "taken_at_unix_ms": 0, "mode": "rolling", "elapsed_us": 0,
                "longest_stop_us": 0, "threads": threads, "wait_cycles": cycles}))
            .unwrap()
        };
        let thread = |chain: serde_json::Value| {
            serde_json::json!([{"tid": 2, "name": null, "state": "S", "wchan": null,
                "syscall": null, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0,
                "truncated": false, "error": null, "end_note": null, "frames": [],
                "chain": chain}])
        };
        let error = |bytes: Vec<u8>| parse("f.json", &bytes).unwrap_err().to_string();
        let long = thread(serde_json::json!({"links": vec![link(1); MAX_CHAIN_LINKS + 1]}));
        assert_eq!(
            error(doc(long, serde_json::json!([]))),
            "f.json: threads[0].chain: too many chain links (65 > 64)"
        );
        let crowded = thread(serde_json::json!({"links": [link(MAX_HOLDERS + 1)]}));
        assert_eq!(
            error(doc(crowded, serde_json::json!([]))),
            "f.json: threads[0].chain.links[0]: too many holders (1025 > 1024)"
        );
        let cycles = vec![serde_json::json!({"links": [link(1)]}); MAX_WAIT_CYCLES + 1];
        assert_eq!(
            error(doc(serde_json::json!([]), serde_json::json!(cycles))),
            "f.json: too many wait cycles (1025 > 1024)"
        );
        let cycle_links = serde_json::json!([{"links": vec![link(1); MAX_CHAIN_LINKS + 1]}]);
        assert_eq!(
            error(doc(serde_json::json!([]), cycle_links)),
            "f.json: wait_cycles[0]: too many chain links (65 > 64)"
        );
        let fine = thread(serde_json::json!({"links": [link(2)], "cycle": 0}));
        let docs = parse(
            "f.json",
            &doc(fine, serde_json::json!([{"links": [link(1)]}])),
        )
        .unwrap();
        let p = docs[0].to_process();
        assert_eq!(p.wait_cycles().len(), 1);
        assert_eq!(
            p.threads()[0]
                .facts()
                .chain
                .as_ref()
                .map(|c| c.links[0].holders.len()),
            Some(2)
        );
    }

    #[test]
    fn humanizes_type_errors() {
        assert_eq!(
            humanize("invalid type: string \"0x10\", expected u64"),
            "expected a number, found string \"0x10\""
        );
        assert_eq!(
            humanize("invalid type: floating point `1.5`, expected u64"),
            "expected a whole number, found floating point `1.5`"
        );
        assert_eq!(
            humanize("invalid type: map, expected struct ThreadDoc"),
            "expected an object, found map"
        );
        assert_eq!(humanize("missing field `tid`"), "missing field `tid`");
        let evil = humanize("invalid type: string \"\u{1b}[2J, expected \", expected a string");
        assert!(!evil.contains('\u{1b}'), "{evil}");
    }

    #[test]
    fn versions() {
        // Version 1 files (before frame kinds) still load.
        assert_eq!(version_problem(Some(Ver::Num(1))), None);
        assert_eq!(version_problem(Some(Ver::Num(2))), None);
        assert!(
            version_problem(Some(Ver::Num(3)))
                .unwrap()
                .contains("newer")
        );
        assert!(
            version_problem(Some(Ver::Num(0)))
                .unwrap()
                .contains("missing")
        );
        assert!(version_problem(None).unwrap().contains("missing"));
        assert!(
            version_problem(Some(Ver::Invalid))
                .unwrap()
                .contains("invalid")
        );
    }

    #[test]
    fn file_name_is_safe() {
        let mut doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 1, "pid": 42, "command": "/usr/bin/my server --x", "taken_at": "",
            "taken_at_unix_ms": 1_795_960_800_123u64, "mode": "rolling", "elapsed_us": 0,
            "longest_stop_us": 0, "threads": []
        }))
        .unwrap();
        assert_eq!(
            default_file_name(&doc),
            "rstack-42-my-20261129T140000Z.json"
        );
        doc.command = "[kworker/0:1\u{1b}]".into();
        assert_eq!(
            default_file_name(&doc),
            "rstack-42-kworker_0_1_-20261129T140000Z.json"
        );
        doc.command = format!("/bin/{}", "é".repeat(50)).into();
        doc.taken_at_unix_ms = u64::MAX;
        let name = default_file_name(&doc);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "{name}"
        );
        assert!(name.contains(&format!("-{}-", "_".repeat(32))), "{name}");
        doc.command = "".into();
        assert!(default_file_name(&doc).starts_with("rstack-42-process-"));
    }
}
