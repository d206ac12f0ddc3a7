//! A core file opened for reading: only a regular file, read with bounded `pread`s (never
//! mapped: someone may truncate it under us), its headers, notes and segments checked against
//! its size. Memory is read from the `PT_LOAD` segments that hold file bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::compressed::{self, Packing};
use super::elf::{self, MAX_PHDRS, PT_LOAD, PT_NOTE};
use super::notes::{self, NREGS, Notes};
use crate::tracer::memory::MemorySource;
use crate::tracer::symbolize::filebytes::read_at_most;

/// Most bytes of notes read in all (a core of 100 000 threads has some 40 MB).
const MAX_NOTES: u64 = 64 << 20;

/// Why a file is not a core we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// It could not be opened or read (the message says why).
    Io(String),
    /// Not a regular file (a directory, a FIFO, a device).
    NotRegular,
    /// It does not start with the ELF magic.
    NotElf,
    /// An ELF file of another type (`e_type`): an executable, a library.
    NotCore(u16),
    /// A core of another architecture or class than x86_64.
    WrongArch(String),
    /// A header or table that does not fit in the file.
    Truncated(String),
    /// A header or table that cannot be right.
    Malformed(String),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::Io(m) => write!(f, "{m}"),
            CoreError::NotRegular => write!(f, "not a regular file"),
            CoreError::NotElf => write!(f, "not an ELF file"),
            CoreError::NotCore(t) => write!(f, "an ELF file of type {t}, not a core (type 4)"),
            CoreError::WrongArch(a) => write!(f, "a core of {a}; only x86_64 cores are read"),
            CoreError::Truncated(what) => write!(f, "truncated: {what} lies past the file's end"),
            CoreError::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

/// One thread of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreThread {
    pub tid: u32,
    /// The signal it had pending when dumped (the dumping one: the first thread's).
    pub signal: i32,
    /// `user_regs_struct`: r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx,
    /// rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss, fs_base, gs_base, ds, es, fs, gs.
    pub regs: [u64; NREGS],
}

impl CoreThread {
    pub fn pc(&self) -> u64 {
        self.regs[16]
    }

    pub fn sp(&self) -> u64 {
        self.regs[19]
    }

    /// The registers as ptrace gives them (the core's order is `user_regs_struct`'s).
    pub fn user_regs(&self) -> libc::user_regs_struct {
        let r = &self.regs;
        libc::user_regs_struct {
            r15: r[0],
            r14: r[1],
            r13: r[2],
            r12: r[3],
            rbp: r[4],
            rbx: r[5],
            r11: r[6],
            r10: r[7],
            r9: r[8],
            r8: r[9],
            rax: r[10],
            rcx: r[11],
            rdx: r[12],
            rsi: r[13],
            rdi: r[14],
            orig_rax: r[15],
            rip: r[16],
            cs: r[17],
            eflags: r[18],
            rsp: r[19],
            ss: r[20],
            fs_base: r[21],
            gs_base: r[22],
            ds: r[23],
            es: r[24],
            fs: r[25],
            gs: r[26],
        }
    }

    /// The system call the thread was in when dumped (`orig_rax` not negative), with its
    /// arguments: number and rdi, rsi, rdx, r10, r8, r9.
    pub fn syscall(&self) -> Option<(i64, [u64; 6])> {
        let r = &self.regs;
        let number = r[15] as i64;
        (number >= 0).then_some((number, [r[14], r[13], r[12], r[7], r[9], r[8]]))
    }
}

/// A file mapping the core records (`NT_FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFile {
    pub start: u64,
    pub end: u64,
    /// Byte offset of `start` in the file.
    pub offset: u64,
    /// The path as the process saw it (bytes, not made inert: a path to open, not to show).
    pub path: PathBuf,
}

/// A memory segment: `vaddr..vaddr + memsz`, of which the first `filesz` bytes are in the
/// core at `offset` (a segment not dumped has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    /// `PF_X` 1, `PF_W` 2, `PF_R` 4.
    pub flags: u32,
}

/// An opened core.
#[derive(Debug)]
pub struct Core {
    file: File,
    size: u64,
    /// When the core was written (its file's modification time): when the process was dumped.
    pub written: Option<std::time::SystemTime>,
    /// The process's id, name and arguments as recorded (`NT_PRPSINFO`).
    pub pid: Option<u32>,
    pub name: Option<String>,
    pub args: Option<String>,
    pub threads: Vec<CoreThread>,
    pub files: Vec<MappedFile>,
    /// Sorted by address, overlaps dropped.
    pub segments: Vec<Segment>,
    /// What in the core did not parse or was left out, in words.
    pub problems: Vec<String>,
}

impl Core {
    /// Opens and reads the headers and notes of core file `path`.
    pub fn open(path: &Path) -> Result<Core, CoreError> {
        let (file, meta) = open_regular(path)?;
        let mut head = [0u8; 6];
        let got = read_at(&file, 0, &mut head).map_err(CoreError::Io)?;
        let mut core = match Packing::of(&head[..got]) {
            Some(packing) => {
                let (unpacked, size) = compressed::unpack(file, packing)?;
                Core::read(unpacked, size)?
            }
            None => Core::read(file, meta.len())?,
        };
        core.written = meta.modified().ok();
        Ok(core)
    }

    fn read(file: File, size: u64) -> Result<Core, CoreError> {
        let mut head = [0u8; 64];
        let got = read_at(&file, 0, &mut head).map_err(CoreError::Io)?;
        let header = elf::header(&head[..got])?;
        let phnum = if header.extended {
            let mut s0 = [0u8; 64];
            read_exact(&file, size, header.shoff, &mut s0, "section header 0")?;
            elf::extended_count(&s0)?
        } else {
            header.phnum
        };
        if phnum > MAX_PHDRS {
            return Err(CoreError::Malformed(format!("{phnum} program headers")));
        }
        let mut table = vec![0u8; phnum * 56];
        read_exact(&file, size, header.phoff, &mut table, "the program headers")?;
        let mut core = Core {
            file,
            size,
            written: None,
            pid: None,
            name: None,
            args: None,
            threads: Vec::new(),
            files: Vec::new(),
            segments: Vec::new(),
            problems: Vec::new(),
        };
        let mut notes = Notes::default();
        let mut notes_read = 0u64;
        for p in elf::phdrs(&table) {
            match p.kind {
                PT_LOAD => core.add_segment(p),
                PT_NOTE => {
                    notes_read = notes_read.saturating_add(p.filesz);
                    if notes_read > MAX_NOTES {
                        core.problems
                            .push(format!("notes past the first {MAX_NOTES} bytes left out"));
                        continue;
                    }
                    let mut bytes = vec![0u8; p.filesz as usize];
                    read_exact(&core.file, size, p.offset, &mut bytes, "a note segment")?;
                    notes::parse(&bytes, &mut notes);
                }
                _ => {}
            }
        }
        core.segments.sort_by_key(|s| s.vaddr);
        let before = core.segments.len();
        let mut end = 0u64;
        core.segments.retain(|s| {
            let keep = s.vaddr >= end;
            if keep {
                end = s.vaddr.saturating_add(s.memsz);
            }
            keep
        });
        if core.segments.len() < before {
            core.problems.push(format!(
                "{} overlapping memory segments left out",
                before - core.segments.len()
            ));
        }
        core.take_notes(notes);
        if core.threads.is_empty() {
            return Err(CoreError::Malformed(
                "no thread (NT_PRSTATUS) in its notes".into(),
            ));
        }
        Ok(core)
    }

    fn add_segment(&mut self, p: elf::Phdr) {
        let fits = p
            .offset
            .checked_add(p.filesz)
            .is_some_and(|e| e <= self.size)
            && p.filesz <= p.memsz
            && p.vaddr.checked_add(p.memsz).is_some();
        if !fits {
            self.problems.push(format!(
                "the segment at {:#x} claims bytes past the file's end: left out",
                p.vaddr
            ));
            return;
        }
        self.segments.push(Segment {
            vaddr: p.vaddr,
            memsz: p.memsz,
            offset: p.offset,
            filesz: p.filesz,
            flags: p.flags,
        });
    }

    fn take_notes(&mut self, n: Notes) {
        self.pid = n.pid;
        self.name = n.name;
        self.args = n.args;
        self.problems.extend(n.problems);
        self.threads = n
            .threads
            .into_iter()
            .map(|(tid, signal, regs)| CoreThread { tid, signal, regs })
            .collect();
        self.files = n
            .files
            .into_iter()
            .map(|(start, end, offset, path)| MappedFile {
                start,
                end,
                offset,
                path: PathBuf::from(
                    <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(path),
                ),
            })
            .collect();
    }

    /// Reads `buf.len()` bytes of the process's memory at `addr`, when the core holds them all.
    pub fn read_memory(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.read_prefix(addr, buf) == buf.len()
    }

    /// The path the executable was mapped from: the lowest file mapping's (the kernel maps
    /// the executable below the heap and the libraries, PIE or not).
    pub fn executable(&self) -> Option<&Path> {
        self.files
            .iter()
            .min_by_key(|f| f.start)
            .map(|f| f.path.as_path())
    }

    /// Reads the executable's mappings from `exe` instead of the path the core records (a
    /// binary kept elsewhere; its build-id is still checked against the core's).
    pub fn set_executable(&mut self, exe: &Path) {
        let Some(old) = self.executable().map(Path::to_path_buf) else {
            return;
        };
        for f in &mut self.files {
            if f.path == old {
                f.path = exe.to_path_buf();
            }
        }
    }

    /// The core file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file at `path` starts as a core does: an ELF file, or one zstd, xz or lz4
    /// compressed (to `load`, which takes snapshots too).
    pub fn looks_like_core(path: &Path) -> bool {
        let mut head = [0u8; 6];
        open_regular(path).is_ok_and(|(f, _)| read_at(&f, 0, &mut head).ok() == Some(6))
            && (head.starts_with(b"\x7fELF") || Packing::of(&head).is_some())
    }
}

/// [`crate::tracer::open_regular`], its failures worded as a core's.
fn open_regular(path: &Path) -> Result<(File, std::fs::Metadata), CoreError> {
    use crate::tracer::OpenRegularError as E;
    crate::tracer::open_regular(path).map_err(|e| match e {
        E::Open(e) | E::Stat(e) => CoreError::Io(e.to_string()),
        E::NotRegular { .. } => CoreError::NotRegular,
    })
}

impl MemorySource for Core {
    /// What the segments hold of `buf.len()` bytes at `addr`, from the start (a segment not
    /// dumped, or the part of one past its file bytes, ends the read).
    fn read_prefix(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0usize;
        while done < buf.len() {
            let Some(at) = addr.checked_add(done as u64) else {
                return done;
            };
            let i = self.segments.partition_point(|s| s.vaddr <= at);
            let Some(s) = i.checked_sub(1).map(|i| self.segments[i]) else {
                return done;
            };
            let inside = at - s.vaddr;
            if inside >= s.filesz {
                return done;
            }
            let n = ((s.filesz - inside) as usize).min(buf.len() - done);
            let to = &mut buf[done..done + n];
            if read_at(&self.file, s.offset + inside, to).ok() != Some(n) {
                return done;
            }
            done += n;
        }
        done
    }
}

/// Reads as much of `buf` as the file has at `at`.
pub(super) fn read_at(file: &File, at: u64, buf: &mut [u8]) -> Result<usize, String> {
    read_at_most(file, buf, at).map_err(|e| e.to_string())
}

fn read_exact(
    file: &File,
    size: u64,
    at: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<(), CoreError> {
    if at
        .checked_add(buf.len() as u64)
        .is_none_or(|end| end > size)
    {
        return Err(CoreError::Truncated(what.into()));
    }
    match read_at(file, at, buf) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(_) => Err(CoreError::Truncated(what.into())),
        Err(e) => Err(CoreError::Io(e)),
    }
}
