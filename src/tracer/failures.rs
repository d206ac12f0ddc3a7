//! Why a trace fell short, as data: [`ThreadError`] for a thread that could not be (fully)
//! traced, [`ModuleNote`] for a module whose frames lack names or lines. A caller matches on
//! the cause; `Display` words it (the words of `dump` and of the JSON form, unchanged).

use std::fmt;
use std::time::Duration;

use super::model::StackEnd;
use super::symbolize::debuginfo;

/// Why a thread has no stack, or not all of it: the thread could not be stopped, its registers
/// read, or its stack walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadError {
    /// A ptrace or wait call failed while stopping the thread (`call`: `PTRACE_SEIZE`,
    /// `PTRACE_INTERRUPT`, `waitid`, ...; `errno`: the OS error).
    Stop { call: &'static str, errno: i32 },
    /// The thread did not reach a stop within the stop timeout (e.g. it sleeps in state D).
    StopTimeout { timeout: Duration },
    /// An earlier trace seized the thread, and it has not stopped since.
    StillStopping,
    /// Reading the stopped thread's registers failed (`errno`: the OS error).
    Registers { errno: i32 },
    /// The unwinder failed before the first frame.
    Unwind(UnwindFailure),
    /// The walk found no frame at all, and ended for this reason.
    NoFrames(StackEnd),
    /// A saved snapshot's error, as written (no typed reason).
    Noted { text: String },
}

/// How the unwinder failed before the first frame of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnwindFailure {
    /// libunwind's ptrace state could not be created.
    PtraceState,
    /// libunwind could not start the walk (its message).
    Start { message: String },
    /// libunwind could not read the innermost frame's instruction pointer (its message).
    ReadingIp { message: String },
}

impl fmt::Display for ThreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const STOPS_WHEN_IT_WAKES: &str =
            "(a thread in uninterruptible sleep stops only when it wakes)";
        match self {
            ThreadError::Stop { call, errno } => {
                write!(f, "{call}: {}", std::io::Error::from_raw_os_error(*errno))
            }
            ThreadError::StopTimeout { timeout } => write!(
                f,
                "not stopped within {} ms {STOPS_WHEN_IT_WAKES}",
                timeout.as_millis()
            ),
            ThreadError::StillStopping => {
                write!(
                    f,
                    "still not stopped since an earlier trace {STOPS_WHEN_IT_WAKES}"
                )
            }
            ThreadError::Registers { errno } => {
                write!(
                    f,
                    "reading registers: {}",
                    nix::errno::Errno::from_raw(*errno)
                )
            }
            ThreadError::Unwind(UnwindFailure::PtraceState) => {
                f.write_str("creating libunwind's ptrace state")
            }
            ThreadError::Unwind(UnwindFailure::Start { message }) => {
                write!(f, "starting the unwind: {message}")
            }
            ThreadError::Unwind(UnwindFailure::ReadingIp { message }) => {
                write!(f, "reading IP: {message}")
            }
            ThreadError::NoFrames(end) => {
                f.write_str(&super::schema::end_words(end).unwrap_or_default())
            }
            ThreadError::Noted { text } => f.write_str(text),
        }
    }
}

impl std::error::Error for ThreadError {}

/// A note on one module of the traced stacks: why its frames have no names, or no source
/// lines. Worded (`Display`) as `PATH: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleNote {
    /// The module's path, as [`super::Module::path`] gives it (made inert). Empty for a note
    /// of a saved snapshot that names no module.
    pub module: String,
    pub problem: ModuleProblem,
}

/// What is wrong with a module's symbols or debug info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleProblem {
    /// A stripped module without separate debuginfo: only its exported symbols are known.
    /// `build_id` is what would find the debuginfo (a `-dbg`/`-dbgsym` package provides
    /// `/usr/lib/debug/.build-id/xx/rest.debug`).
    NoDebuginfo { build_id: Option<Vec<u8>> },
    /// The mapped file is not ELF, or is malformed (`cause`, made inert): no symbols at all.
    UnreadableElf { cause: String },
    /// The module's DWARF claims to inflate to `claimed` bytes, over `limit`: symbols without
    /// source lines.
    DebugInfoTooLarge { claimed: u64, limit: InflateLimit },
    /// A core's module: the file at its path on this machine has another build-id than the
    /// one the core recorded (`file`, `core`): not the file that was mapped, so not used.
    BuildIdMismatch { file: Vec<u8>, core: Vec<u8> },
    /// A core's module: no file at its path inside the root, nor one with its build-id
    /// under the root's `.build-id` directories (deleted, or the core is from another
    /// machine).
    NotFound,
    /// A saved snapshot's reason, as written (no typed reason).
    Noted { reason: String },
}

/// The bound a module's debug info went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateLimit {
    /// The most one file's debug info may inflate to (bytes).
    PerFile { bytes: u64 },
    /// What this tracer had left of its total budget for inflated sections (bytes).
    TracerLeft { bytes: u64 },
}

impl fmt::Display for ModuleNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.module.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.module, self.problem)
        }
    }
}

impl fmt::Display for ModuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b.div_ceil(1 << 20);
        match self {
            // A build-id shorter than two bytes names no file (none is that short).
            ModuleProblem::NoDebuginfo { build_id: Some(id) } if id.len() >= 2 => write!(
                f,
                "no debuginfo (build-id {}; a -dbg/-dbgsym package provides /usr/lib/debug/{})",
                debuginfo::hex(id),
                debuginfo::build_id_path(id).display()
            ),
            ModuleProblem::NoDebuginfo { .. } => {
                f.write_str("no debuginfo (no build-id; only exported symbols are known)")
            }
            ModuleProblem::UnreadableElf { cause } => {
                write!(f, "unreadable ELF file ({cause}): no symbols")
            }
            ModuleProblem::DebugInfoTooLarge { claimed, limit } => {
                write!(
                    f,
                    "debug info too large: {} MiB claimed uncompressed, ",
                    mib(*claimed)
                )?;
                match limit {
                    InflateLimit::PerFile { bytes } => {
                        write!(f, "over the {} MiB limit", mib(*bytes))
                    }
                    InflateLimit::TracerLeft { bytes } => {
                        write!(f, "over the {} MiB this tracer has left", mib(*bytes))
                    }
                }?;
                f.write_str("; symbols without source lines")
            }
            ModuleProblem::BuildIdMismatch { file, core } => write!(
                f,
                "not the file the core's process mapped (build-id {} here, {} in the core): \
                 not used; give the right files with --sysroot",
                debuginfo::hex(file),
                debuginfo::hex(core)
            ),
            ModuleProblem::NotFound => f.write_str(
                "file not found (at its path, nor by its build-id): give the executable with \
                 --exe, the libraries with --sysroot",
            ),
            ModuleProblem::Noted { reason } => f.write_str(reason),
        }
    }
}

impl ModuleNote {
    /// A saved snapshot's note (`PATH: reason`, made inert), about the longest of `modules`
    /// it starts with, else about the path before its first `": "`.
    pub(crate) fn noted<'m>(line: &str, modules: impl IntoIterator<Item = &'m str>) -> ModuleNote {
        let known = modules
            .into_iter()
            .filter_map(|m| {
                let reason = line.strip_prefix(m)?.strip_prefix(": ")?;
                Some((m, reason))
            })
            .max_by_key(|(m, _)| m.len());
        let (module, reason) = known
            .or_else(|| line.split_once(": "))
            .unwrap_or(("", line));
        ModuleNote {
            module: module.to_string(),
            problem: ModuleProblem::Noted {
                reason: reason.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_notes_are_worded_as_before() {
        let note = |problem| {
            ModuleNote {
                module: "/lib/x".into(),
                problem,
            }
            .to_string()
        };
        assert_eq!(
            note(ModuleProblem::NoDebuginfo {
                build_id: Some(vec![0x93, 0xac])
            }),
            "/lib/x: no debuginfo (build-id 93ac; a -dbg/-dbgsym package provides /usr/lib/debug/.build-id/93/ac.debug)"
        );
        assert_eq!(
            note(ModuleProblem::NoDebuginfo { build_id: None }),
            "/lib/x: no debuginfo (no build-id; only exported symbols are known)"
        );
        assert_eq!(
            note(ModuleProblem::UnreadableElf {
                cause: "Invalid ELF header size or alignment".into()
            }),
            "/lib/x: unreadable ELF file (Invalid ELF header size or alignment): no symbols"
        );
        assert_eq!(
            note(ModuleProblem::DebugInfoTooLarge {
                claimed: (300 << 20) + 1,
                limit: InflateLimit::PerFile { bytes: 256 << 20 },
            }),
            "/lib/x: debug info too large: 301 MiB claimed uncompressed, over the 256 MiB limit; symbols without source lines"
        );
        assert_eq!(
            note(ModuleProblem::DebugInfoTooLarge {
                claimed: 40 << 20,
                limit: InflateLimit::TracerLeft { bytes: 10 << 20 },
            }),
            "/lib/x: debug info too large: 40 MiB claimed uncompressed, over the 10 MiB this tracer has left; symbols without source lines"
        );
    }

    #[test]
    fn a_saved_note_keeps_its_words_and_finds_its_module() {
        let line = "/opt/a: b/lib.so: no debuginfo (no build-id; whatever)";
        let note = ModuleNote::noted(line, ["/opt/a", "/opt/a: b/lib.so", "/bin/x"]);
        assert_eq!(note.module, "/opt/a: b/lib.so");
        assert!(
            matches!(&note.problem, ModuleProblem::Noted { reason } if reason.starts_with("no debuginfo"))
        );
        assert_eq!(note.to_string(), line);
        // No module of the stacks: the path is what comes before the first ": ".
        let note = ModuleNote::noted(line, []);
        assert_eq!(note.module, "/opt/a");
        assert_eq!(note.to_string(), line);
        // No ": " at all: no module, the words as they were.
        let note = ModuleNote::noted("odd", []);
        assert_eq!(
            (note.module.as_str(), note.to_string().as_str()),
            ("", "odd")
        );
    }

    #[test]
    fn thread_errors_are_worded_as_before() {
        let stop = ThreadError::Stop {
            call: "PTRACE_INTERRUPT",
            errno: nix::libc::ESRCH,
        };
        assert_eq!(
            stop.to_string(),
            "PTRACE_INTERRUPT: No such process (os error 3)"
        );
        assert_eq!(
            ThreadError::StopTimeout {
                timeout: Duration::from_millis(500)
            }
            .to_string(),
            "not stopped within 500 ms (a thread in uninterruptible sleep stops only when it wakes)"
        );
        assert_eq!(
            ThreadError::StillStopping.to_string(),
            "still not stopped since an earlier trace (a thread in uninterruptible sleep stops only when it wakes)"
        );
        assert_eq!(
            ThreadError::Registers {
                errno: nix::libc::ESRCH
            }
            .to_string(),
            format!("reading registers: {}", nix::errno::Errno::ESRCH)
        );
        assert_eq!(
            ThreadError::Unwind(UnwindFailure::ReadingIp {
                message: "bad register number".into()
            })
            .to_string(),
            "reading IP: bad register number"
        );
        assert_eq!(
            ThreadError::NoFrames(StackEnd::RegisterUnknown).to_string(),
            "stack cut: the unwind needs a register not captured (the thread was not stopped)"
        );
    }
}
