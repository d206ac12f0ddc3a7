//! What a frame's detail view reads from files when it opens: the source lines around the
//! frame's line, and its module's build-id. The paths come from the target, so they are
//! untrusted: only a regular file is read (opened non-blocking, so a FIFO cannot hang us),
//! at most [`MAX_SOURCE`] bytes of a source, a few pages of an ELF file, every line made inert.

use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::tracer::text;

/// The most of a source file read.
pub const MAX_SOURCE: u64 = 4 << 20;
/// The most characters kept of one line (a minified file may be one line).
pub const MAX_LINE: usize = 1000;
/// Tab stops every this many columns.
const TAB: usize = 8;

/// Lines `first..` of a source file, one of them marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The number of the first line (1-based).
    pub first: u32,
    /// Inert, tabs expanded, each at most [`MAX_LINE`] characters.
    pub lines: Vec<String>,
    /// The frame's line.
    pub marked: u32,
}

/// Why no source lines are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The debug info names the file relative to a build directory it does not give.
    Relative,
    /// Line 0: the compiler attributes the address to no line.
    NoLine,
    /// Code compiled from no file (Python's `<string>`, `<frozen os>`).
    NoFile,
    Open(ErrorKind),
    /// A directory, FIFO, device or socket.
    NotRegular,
    Read(ErrorKind),
    /// The file has fewer lines (within its first [`MAX_SOURCE`] bytes, when `cut`).
    Beyond {
        lines: usize,
        cut: bool,
    },
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Relative => f.write_str("a relative path: the build directory is unknown"),
            SourceError::NoLine => f.write_str("line 0: no source line for this address"),
            SourceError::NoFile => f.write_str("the code was compiled from no file"),
            SourceError::Open(ErrorKind::NotFound) => f.write_str("not on this machine"),
            SourceError::Open(ErrorKind::PermissionDenied) => f.write_str("not readable by us"),
            SourceError::Open(k) => write!(f, "cannot be opened: {k}"),
            SourceError::NotRegular => f.write_str("not a regular file: not read"),
            SourceError::Read(k) => write!(f, "reading it failed: {k}"),
            SourceError::Beyond { lines, cut: false } => {
                write!(f, "it has {lines} lines: another version of the file?")
            }
            SourceError::Beyond { lines, cut: true } => write!(
                f,
                "the line is beyond its first {} MiB ({lines} lines)",
                MAX_SOURCE >> 20
            ),
        }
    }
}

/// The lines `around` either side of `line` of the file at `path`.
pub fn excerpt(path: &str, line: u32, around: u32) -> Result<Excerpt, SourceError> {
    excerpt_with(path, line, around, open_regular)
}

/// As [`excerpt`], with `path` as process `pid` sees it, inside its root: a Python frame's
/// file is the target's own (a container's), not the debug info's name of a build path.
pub fn excerpt_in_target(
    pid: u32,
    path: &str,
    line: u32,
    around: u32,
) -> Result<Excerpt, SourceError> {
    excerpt_with(path, line, around, |p| {
        crate::tracer::open_in_target(pid, p).map_err(|e| match e.kind() {
            ErrorKind::Other => SourceError::NotRegular,
            k => SourceError::Open(k),
        })
    })
}

fn excerpt_with(
    path: &str,
    line: u32,
    around: u32,
    open: impl FnOnce(&Path) -> Result<File, SourceError>,
) -> Result<Excerpt, SourceError> {
    if line == 0 {
        return Err(SourceError::NoLine);
    }
    if path.starts_with('<') && path.ends_with('>') {
        return Err(SourceError::NoFile);
    }
    let path = Path::new(path);
    if !path.is_absolute() {
        return Err(SourceError::Relative);
    }
    let bytes = read_all(open(path)?, MAX_SOURCE)?;
    let first = line.saturating_sub(around).max(1);
    let last = line.saturating_add(around);
    let mut total = 0;
    let mut lines = Vec::new();
    // A final newline ends the last line; it does not start another.
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    for (n, raw) in (1u32..).zip(body.split(|b| *b == b'\n')) {
        total += 1;
        if n > last {
            break;
        }
        if n >= first {
            lines.push(shown_line(raw));
        }
    }
    if total < line as usize {
        let cut = bytes.len() as u64 >= MAX_SOURCE;
        return Err(SourceError::Beyond { lines: total, cut });
    }
    Ok(Excerpt {
        first,
        lines,
        marked: line,
    })
}

/// At most `max` bytes of the regular file at `path`.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, SourceError> {
    read_all(open_regular(path)?, max)
}

/// At most `max` bytes of `file`.
fn read_all(file: File, max: u64) -> Result<Vec<u8>, SourceError> {
    let mut bytes = Vec::new();
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::Read(e.kind()))?;
    Ok(bytes)
}

/// [`crate::tracer::open_regular`], its failures worded as a source file's.
pub fn open_regular(path: &Path) -> Result<File, SourceError> {
    use crate::tracer::OpenRegularError as E;
    match crate::tracer::open_regular(path) {
        Ok((file, _)) => Ok(file),
        Err(E::Open(e)) => Err(SourceError::Open(e.kind())),
        Err(E::Stat(e)) => Err(SourceError::Read(e.kind())),
        Err(E::NotRegular { .. }) => Err(SourceError::NotRegular),
    }
}

/// The build-id (in hex) of the file process `pid` maps at `path`, read inside its root (a
/// container's own file, its symbolic links resolved there) from the ELF's note segments: no more than
/// its header, program headers and notes of at most 64 KiB each. None if any of it is amiss.
pub fn mapped_build_id(pid: u32, path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let file = crate::tracer::open_in_target(pid, Path::new(path)).ok()?;
    elf_build_id(&file).map(|id| hex(&id))
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `NT_GNU_BUILD_ID` note of a 64-bit little-endian ELF file.
fn elf_build_id(file: &File) -> Option<Vec<u8>> {
    const PT_NOTE: u32 = 4;
    const NT_GNU_BUILD_ID: u32 = 3;
    const MAX_NOTES: u64 = 64 << 10;
    let read = |offset: u64, len: u64| -> Option<Vec<u8>> {
        let mut buf = vec![0; usize::try_from(len).ok()?];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    };
    let u16_at =
        |b: &[u8], at: usize| Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at =
        |b: &[u8], at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let u64_at =
        |b: &[u8], at: usize| Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?));
    let header = read(0, 64)?;
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&header, 0x20)?,
        u64::from(u16_at(&header, 0x36)?),
        u64::from(u16_at(&header, 0x38)?),
    );
    if phentsize < 56 {
        return None;
    }
    let phdrs = read(phoff, phentsize.checked_mul(phnum)?)?;
    for ph in phdrs.chunks_exact(usize::try_from(phentsize).ok()?) {
        let (offset, size, align) = (u64_at(ph, 8)?, u64_at(ph, 0x20)?, u64_at(ph, 0x30)?);
        if u32_at(ph, 0)? != PT_NOTE || size > MAX_NOTES {
            continue;
        }
        let notes = read(offset, size)?;
        let align = if align == 8 { 8 } else { 4 };
        let pad = |n: usize| n.div_ceil(align) * align;
        let mut at = 0;
        while at + 12 <= notes.len() {
            let namesz = u32_at(&notes, at)? as usize;
            let descsz = u32_at(&notes, at + 4)? as usize;
            let kind = u32_at(&notes, at + 8)?;
            let name = at + 12;
            let desc = name.checked_add(pad(namesz))?;
            let end = desc.checked_add(descsz)?;
            if kind == NT_GNU_BUILD_ID && notes.get(name..name + namesz)? == b"GNU\0" {
                return Some(notes.get(desc..end)?.to_vec());
            }
            at = desc.checked_add(pad(descsz))?;
        }
    }
    None
}

/// A line as shown: no carriage return, tabs expanded, inert, bounded.
fn shown_line(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut expanded = Vec::with_capacity(raw.len().min(MAX_LINE * 4));
    for &b in raw.iter().take(MAX_LINE * 4) {
        if b == b'\t' {
            let pad = TAB - expanded.len() % TAB;
            expanded.extend(std::iter::repeat_n(b' ', pad));
        } else {
            expanded.push(b);
        }
    }
    text::inert_bounded(&text::from_bytes(&expanded), MAX_LINE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rstack-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        path
    }

    #[test]
    fn lines_around_the_mark_made_inert() {
        let path = temp_file("a.c", b"one\ntwo\n\tthree\x1b[31m\r\nfour\xff\nfive\nsix\n");
        let e = excerpt(path.to_str().unwrap(), 3, 1).unwrap();
        assert_eq!(
            e,
            Excerpt {
                first: 2,
                lines: vec![
                    "two".into(),
                    "        three\\x1b[31m".into(),
                    "four\\xff".into()
                ],
                marked: 3,
            }
        );
        // At the edges, what there is.
        let e = excerpt(path.to_str().unwrap(), 1, 5).unwrap();
        assert_eq!((e.first, e.lines.len()), (1, 6));
        assert_eq!(
            excerpt(path.to_str().unwrap(), 7, 5),
            Err(SourceError::Beyond {
                lines: 6,
                cut: false
            })
        );
    }

    #[test]
    fn only_regular_absolute_files_are_read() {
        assert_eq!(excerpt("src/a.c", 1, 5), Err(SourceError::Relative));
        assert_eq!(excerpt("<string>", 1, 5), Err(SourceError::NoFile));
        assert_eq!(excerpt("<frozen os>", 3, 5), Err(SourceError::NoFile));
        assert_eq!(excerpt("/tmp/x.c", 0, 5), Err(SourceError::NoLine));
        assert_eq!(
            excerpt("/nonexistent/rstack/a.c", 1, 5),
            Err(SourceError::Open(ErrorKind::NotFound))
        );
        assert_eq!(excerpt("/proc", 1, 5), Err(SourceError::NotRegular));
        // A FIFO with no writer: the open must not block, and it is not read.
        let fifo = std::env::temp_dir().join(format!("rstack-fifo-{}", std::process::id()));
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(
            excerpt(fifo.to_str().unwrap(), 1, 5),
            Err(SourceError::NotRegular)
        );
        std::fs::remove_file(&fifo).unwrap();
    }

    /// Read inside a process's root (ours here: the same lines), refusing what is not a
    /// regular file as the host read does.
    #[test]
    fn a_targets_file_is_read_inside_its_root() {
        let path = temp_file("t.py", b"a = 1\nb = 2\nc = 3\n");
        let me = std::process::id();
        let p = path.to_str().unwrap();
        assert_eq!(excerpt_in_target(me, p, 2, 1), excerpt(p, 2, 1));
        assert_eq!(excerpt_in_target(me, p, 2, 1).unwrap().lines.len(), 3);
        assert_eq!(
            excerpt_in_target(me, "/proc", 1, 5),
            Err(SourceError::NotRegular)
        );
        assert_eq!(
            excerpt_in_target(me, "/nonexistent/rstack/t.py", 1, 5),
            Err(SourceError::Open(ErrorKind::NotFound))
        );
        assert_eq!(
            excerpt_in_target(me, "<stdin>", 1, 5),
            Err(SourceError::NoFile)
        );
    }

    #[test]
    fn the_build_id_of_a_mapped_file() {
        // Our own executable, as we map it, against the note `object` reads from it.
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let data = std::fs::read(&exe).unwrap();
        let object = object::File::parse(&*data).unwrap();
        let want = object::Object::build_id(&object).unwrap().map(hex);
        assert!(want.is_some(), "the test binary has a build-id");
        assert_eq!(
            mapped_build_id(std::process::id(), exe.to_str().unwrap()),
            want
        );
        assert_eq!(mapped_build_id(std::process::id(), "[vdso]"), None);
        assert_eq!(
            mapped_build_id(std::process::id(), "/proc/self/status"),
            None
        );
    }

    #[test]
    fn a_long_line_is_bounded() {
        let mut long = vec![b'x'; 10 * MAX_LINE];
        long.push(b'\n');
        let path = temp_file("long.c", &long);
        let e = excerpt(path.to_str().unwrap(), 1, 0).unwrap();
        assert_eq!(e.lines[0].chars().count(), MAX_LINE);
        assert!(e.lines[0].ends_with('…'));
    }
}
