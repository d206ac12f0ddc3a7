//! Bounded reads of CPython objects in the target: words, `str` (compact, Latin-1/UCS-2/
//! UCS-4), `bytes`, and a code object's name, file and line table, cached per trace.

use std::cell::RefCell;
use std::collections::HashMap;

use super::layout::{Lasti, Layout};
use super::lines;
use crate::tracer::memory::RemoteMemory;

/// Fills `buf` from the range of `ranges` that holds all of `address..+len`, if one does.
fn from_ranges(ranges: &[(u64, Box<[u8]>)], address: u64, buf: &mut [u8]) -> bool {
    let end = address + buf.len() as u64;
    match ranges
        .iter()
        .find(|(a, b)| *a <= address && end <= a + b.len() as u64)
    {
        Some((a, bytes)) => {
            let from = (address - a) as usize;
            buf.copy_from_slice(&bytes[from..from + buf.len()]);
            true
        }
        None => false,
    }
}

/// Longest name or file name read, in characters.
const MAX_STR: u64 = 4096;
/// Largest line table read.
const MAX_TABLE: u64 = 1 << 20;
/// Bytes of a code object read at once (covers every field used, to 3.13).
const CODE_HEAD: usize = 256;
/// The target's pages kept per trace. Frames sit together in a thread's data stack, thread
/// states and code objects near their names: one 4 KiB read serves many small ones (100
/// threads 10 frames deep: 3,500 reads and 9 ms became 500 and 3 ms).
const PAGE: u64 = 4096;
const MAX_PAGES: usize = 2048;

/// Bytes of the target copied at one moment: (address, bytes) ranges.
pub(crate) type Copied = Vec<(u64, Box<[u8]>)>;

/// What a code object names, read once per trace.
#[derive(Debug, Clone)]
pub(super) struct Code {
    pub name: String,
    pub qualname: Option<String>,
    pub file: String,
    first_line: i32,
    table: Vec<u8>,
}

/// The target's memory, the layout, and the code objects read so far.
pub(super) struct Reader {
    pub mem: RemoteMemory,
    pub layout: Layout,
    /// `PyCode_Type` in the target (0: unknown, no check).
    pub code_type: u64,
    codes: HashMap<u64, Option<Code>>,
    /// Page address -> its bytes, or None when the page could not be read.
    pages: RefCell<HashMap<u64, Option<Box<[u8]>>>>,
    /// Ranges copied while the thread being walked was stopped: read before the cache, so
    /// its chain is the one of that moment (see [`super::Prepared`]).
    overlay: Copied,
    /// A copying reader (during a stop): reads go straight to the target, each kept, at most
    /// this many (a page read costs ~10 µs there, a small read ~1-2).
    copying: Option<(usize, RefCell<Copied>)>,
}

impl Reader {
    pub fn new(mem: RemoteMemory, layout: Layout, code_type: u64) -> Reader {
        Reader {
            mem,
            layout,
            code_type,
            codes: HashMap::new(),
            pages: RefCell::new(HashMap::new()),
            overlay: Copied::new(),
            copying: None,
        }
    }

    /// A reader that keeps what it reads, at most `reads` reads: for a copy taken during a
    /// stop.
    pub fn copying(mem: RemoteMemory, layout: Layout, reads: usize) -> Reader {
        Reader {
            copying: Some((reads, RefCell::new(Copied::new()))),
            ..Reader::new(mem, layout, 0)
        }
    }

    /// What a copying reader read, for [`Reader::set_overlay`] of a later reader.
    pub fn into_copied(self) -> Copied {
        self.copying
            .map(|(_, c)| c.into_inner())
            .unwrap_or_default()
    }

    /// Ranges to read before anything else until the next call (empty: none).
    pub fn set_overlay(&mut self, copied: Copied) {
        self.overlay = copied;
    }

    /// Fills `buf` from `address`, through the page cache; all or nothing.
    fn read(&self, address: u64, buf: &mut [u8]) -> bool {
        let Some(end) = address.checked_add(buf.len() as u64) else {
            return false;
        };
        if buf.is_empty() {
            return true;
        }
        if from_ranges(&self.overlay, address, buf) {
            return true;
        }
        if let Some((most, copied)) = &self.copying {
            let mut copied = copied.borrow_mut();
            if from_ranges(&copied, address, buf) {
                return true;
            }
            if copied.len() >= *most || !self.mem.read_exact(address, buf) {
                return false;
            }
            copied.push((address, buf.into()));
            return true;
        }
        let mut pages = self.pages.borrow_mut();
        let first = address & !(PAGE - 1);
        let spanned = (end - 1 - first) / PAGE + 1;
        if pages.len() + spanned as usize > MAX_PAGES {
            // A huge read or a full cache: read straight through.
            return self.mem.read_exact(address, buf);
        }
        let mut at = address;
        let mut done = 0;
        while done < buf.len() {
            let page = at & !(PAGE - 1);
            let from = (at - page) as usize;
            let n = (PAGE as usize - from).min(buf.len() - done);
            let cached = pages.entry(page).or_insert_with(|| {
                let mut b = vec![0u8; PAGE as usize].into_boxed_slice();
                self.mem.read_exact(page, &mut b).then_some(b)
            });
            let Some(bytes) = cached else {
                return false;
            };
            buf[done..done + n].copy_from_slice(&bytes[from..from + n]);
            done += n;
            at += n as u64;
        }
        true
    }

    /// Whether a copying reader can still read.
    pub fn can_copy(&self) -> bool {
        self.copying
            .as_ref()
            .is_some_and(|(most, c)| c.borrow().len() < *most)
    }

    /// The word at `address`.
    pub fn word(&self, address: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(address, &mut b).then(|| u64::from_le_bytes(b))
    }

    /// `len` bytes at `address`, all or none.
    pub fn bytes(&self, address: u64, len: usize) -> Option<Vec<u8>> {
        if address == 0 {
            return None;
        }
        let mut b = vec![0u8; len];
        self.read(address, &mut b).then_some(b)
    }

    /// The text of a compact `str` object (None for anything else).
    pub fn string(&self, address: u64) -> Option<String> {
        let head = self.bytes(address, 40)?;
        let length = u64::from_le_bytes(head[16..24].try_into().ok()?);
        let state = u32::from_le_bytes(head[32..36].try_into().ok()?);
        let (kind, compact, ascii) = ((state >> 2) & 7, state >> 5 & 1, state >> 6 & 1);
        if compact == 0 || length > MAX_STR || !matches!(kind, 1 | 2 | 4) {
            return None;
        }
        let data = if ascii == 1 {
            self.layout.ascii_data
        } else {
            self.layout.compact_data
        };
        let raw = self.bytes(address + data, (length * u64::from(kind)) as usize)?;
        let text: String = match kind {
            1 => raw.iter().map(|&b| char::from(b)).collect(),
            2 => char::decode_utf16(
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]])),
            )
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
            _ => raw
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
        };
        Some(crate::tracer::text::inert(&text).into_owned())
    }

    /// The contents of a `bytes` object, at most `MAX_TABLE` long.
    fn bytes_object(&self, address: u64) -> Option<Vec<u8>> {
        let size = self.word(address + 16)?;
        (size <= MAX_TABLE).then_some(())?;
        if size == 0 {
            return Some(Vec::new());
        }
        self.bytes(address + 32, size as usize)
    }

    /// The code object at `address`, read once; `None` when it is not one.
    pub fn code(&mut self, address: u64) -> Option<&Code> {
        if !self.codes.contains_key(&address) {
            let code = self.read_code(address);
            self.codes.insert(address, code);
        }
        self.codes.get(&address).and_then(Option::as_ref)
    }

    fn read_code(&self, address: u64) -> Option<Code> {
        if address == 0 || !address.is_multiple_of(8) {
            return None;
        }
        let head = self.bytes(address, CODE_HEAD)?;
        let at = |off: u64| -> Option<u64> {
            let o = off as usize;
            Some(u64::from_le_bytes(head.get(o..o + 8)?.try_into().ok()?))
        };
        if self.code_type != 0 && at(8)? != self.code_type {
            return None;
        }
        let l = &self.layout;
        let first = head
            .get(l.co_firstlineno as usize..l.co_firstlineno as usize + 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_le_bytes)?;
        let name = self.string(at(l.co_name)?)?;
        let qualname = match l.co_qualname {
            Some(off) => self.string(at(off)?),
            None => None,
        };
        Some(Code {
            name,
            qualname,
            file: self.string(at(l.co_filename)?)?,
            first_line: first,
            table: self.bytes_object(at(l.co_linetable)?)?,
        })
    }

    /// The line of code object `code_addr` at the frame's stored position `lasti` (an int
    /// to 3.10, an instruction pointer from 3.11).
    pub fn line(&mut self, code_addr: u64, lasti: u64) -> Option<u32> {
        let layout = self.layout;
        let code = self.code(code_addr)?;
        match layout.lasti {
            Lasti::Bytes => {
                lines::lnotab(&code.table, code.first_line, (lasti as i32).max(0) as u64)
            }
            Lasti::Units => {
                let units = lasti as i32;
                lines::linetable_310(&code.table, code.first_line, (units.max(0) as u64) * 2)
            }
            Lasti::Pointer => {
                let start = code_addr.wrapping_add(layout.co_code_adaptive);
                // A frame pushed but not started points one unit before the first.
                let units = lasti.checked_sub(start).map_or(0, |d| d / 2);
                lines::locations(&code.table, code.first_line, units)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads through the page cache equal direct reads, across a page boundary too, and a
    /// read that reaches an unmapped page fails whole.
    #[test]
    fn cached_reads_are_exact_and_all_or_nothing() {
        let len = 3 * PAGE as usize;
        // SAFETY: a fresh private anonymous mapping, unmapped below before the end.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        // SAFETY: the mapping is `len` bytes long and writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.cast::<u8>(), len) };
        let at = base as u64;
        // SAFETY: the last page of our own mapping.
        let unmapped = unsafe {
            libc::munmap(
                base.cast::<u8>().add(2 * PAGE as usize).cast(),
                PAGE as usize,
            )
        };
        assert_eq!(unmapped, 0);
        let me = RemoteMemory::new(std::process::id() as i32);
        let r = Reader::new(me, super::super::layout::fixed(12).unwrap(), 0);
        let across = r.bytes(at + PAGE - 3, 10).unwrap();
        assert_eq!(across[..], bytes[PAGE as usize - 3..PAGE as usize + 7]);
        assert_eq!(
            r.word(at + 16),
            Some(u64::from_le_bytes(bytes[16..24].try_into().unwrap()))
        );
        assert_eq!(r.bytes(at + 2 * PAGE - 4, 8), None);
        assert_eq!(r.word(at + 2 * PAGE), None);
        // SAFETY: the two pages still mapped.
        unsafe { libc::munmap(base, 2 * PAGE as usize) };
    }

    /// A copying reader keeps what it read, at most its budget of reads, and serves reads
    /// inside a copied range from it; a later reader with the copy as its overlay sees the
    /// bytes of the copy's moment, not the memory's now.
    #[test]
    fn a_copy_taken_once_is_read_later() {
        let mut words: Vec<u64> = (0..64).collect();
        let at = words.as_ptr() as u64;
        let me = RemoteMemory::new(std::process::id() as i32);
        let layout = super::super::layout::fixed(12).unwrap();
        let r = Reader::copying(me, layout, 2);
        assert!(r.bytes(at, 64).is_some());
        assert_eq!(r.word(at + 8), Some(1), "inside the first range: no read");
        assert_eq!(r.word(at + 256), Some(32));
        assert!(!r.can_copy());
        assert_eq!(r.word(at + 400), None, "past the budget");
        let copied = r.into_copied();
        assert_eq!(copied.len(), 2);
        words[1] = 1000;
        words[40] = 4000;
        let mut later = Reader::new(me, layout, 0);
        later.set_overlay(copied);
        assert_eq!(later.word(at + 8), Some(1));
        assert_eq!(
            later.word(at + 320),
            Some(4000),
            "outside the copy: the memory now"
        );
        later.set_overlay(Copied::new());
        assert_eq!(later.word(at + 8), Some(1000));
        drop(words);
    }
}
