//! The versioned JSON form of a traced process: what `dump --json` prints and what saved
//! snapshots hold. Field names are a contract (`version`, `pid`, `taken_at`, `threads[]` with
//! `tid`, `name`, `state`, `wchan`, `frames[]` with `ip`, `symbol`, `offset`, `module`); new
//! fields may be added, none renamed.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use crate::tracer::snapshot::chaindoc::{ChainDoc, CycleDoc, LinkDoc, PartyDoc};

use crate::tracer::analysis::equal_stacks::EqualStacks;
use crate::tracer::failures::{ModuleNote, ThreadError};
use crate::tracer::model::{
    Frame, FrameKind, Goroutine, InvalidFrame, Process, StackEnd, Syscall, Thread,
};

/// The schema version this build writes.
pub const VERSION: u32 = 2;

/// The oldest schema version this build reads (version 2 added frame kinds and Python thread
/// facts, both optional, so a version-1 file reads as it always did).
pub const OLDEST_VERSION: u32 = 1;

/// A snapshot of one process: borrowed from a [`Process`] to be written
/// (`SnapshotDoc::from(&process)`), owned when read (`SnapshotDoc<'static>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDoc<'a> {
    pub version: u32,
    pub pid: u32,
    pub command: Cow<'a, str>,
    /// RFC 3339, UTC.
    pub taken_at: Cow<'a, str>,
    pub taken_at_unix_ms: u64,
    /// "rolling" or "snapshot".
    pub mode: Cow<'a, str>,
    pub elapsed_us: u64,
    pub longest_stop_us: u64,
    pub threads: Vec<ThreadDoc<'a>>,
    /// Mutex wait-for cycles: lists of tids.
    #[serde(default)]
    pub deadlocks: Cow<'a, [Vec<u32>]>,
    /// Modules without debuginfo, with what would provide it.
    #[serde(default)]
    pub missing_debuginfo: Cow<'a, [String]>,
    /// A Go process's goroutines (absent for other processes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goroutines: Vec<GoroutineDoc<'a>>,
    /// Why a Go process's goroutines are not (all) listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines_note: Option<Cow<'a, str>>,
    /// Cycles of waits through other processes or other waits than mutexes (absent when
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_cycles: Vec<CycleDoc>,
}

/// One goroutine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoroutineDoc<'a> {
    pub goid: u64,
    /// "waiting", "runnable", "running", "syscall", ...
    pub status: Cow<'a, str>,
    /// As Go prints it: "chan receive", "select", ...
    pub wait_reason: Option<Cow<'a, str>>,
    pub waiting_ms: Option<u64>,
    /// The OS thread it is on, if any.
    pub thread: Option<u32>,
    pub end_note: Option<Cow<'a, str>>,
    pub frames: FramesDoc<'a>,
}

/// One thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadDoc<'a> {
    pub tid: u32,
    pub name: Option<Cow<'a, str>>,
    /// The /proc state letter.
    pub state: Option<Cow<'a, str>>,
    pub wchan: Option<Cow<'a, str>>,
    pub syscall: Option<SyscallDoc<'a>>,
    pub user_time_ms: u64,
    pub system_time_ms: u64,
    pub stopped_us: u64,
    pub truncated: bool,
    pub error: Option<Cow<'a, str>>,
    pub end_note: Option<Cow<'a, str>>,
    pub frames: FramesDoc<'a>,
    /// The blocking call decoded.
    #[serde(default)]
    pub wait: Option<Cow<'a, str>>,
    #[serde(default)]
    pub kernel_stack: Cow<'a, [String]>,
    /// The lock waited for: {"address", "owner", "note"}.
    #[serde(default)]
    pub lock: Option<LockDoc<'a>>,
    /// Why the walk of the stack ended, typed (`end_note` has it in words); null when there
    /// is no stack.
    #[serde(default)]
    pub end: Option<EndDoc>,
    /// The state letter /proc showed just before the capture, when the capture found the
    /// thread in another (`state`).
    #[serde(default)]
    pub state_before: Option<Cow<'a, str>>,
    /// A system call the thread was leaving at the capture (it had returned): {"call"}, the
    /// call or null when the registers no longer said which.
    #[serde(default)]
    pub leaving: Option<LeavingDoc<'a>>,
    /// For a CPython thread: {"holds_gil", "name", "note"}. Written only for such threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonDoc<'a>>,
    /// For a blocked thread whose wait names somebody: {"links", "cycle", "end"}, the wait
    /// followed from holder to holder. Written only for such threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainDoc>,
}

/// What a CPython interpreter said about a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonDoc<'a> {
    #[serde(default)]
    pub holds_gil: bool,
    #[serde(default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub note: Option<Cow<'a, str>>,
}

/// Why a stack walk ended: `reason` is one of "root" (the thread's first frame: the stack is
/// whole), "no_unwind_info" (`module`, `address`), "copy_too_short" (`copied`, `needed`
/// bytes), "frame_limit" (`limit`), "repeating" (`address`), "invalid_frame" (`address`,
/// `why`: "not_code", or "stack_backwards" with `sp` and `previous`), "read_failed"
/// (`address`), "register_unknown", "unwinder" (`message`), "noted" (`message`: a note
/// without a typed reason).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndDoc {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&StackEnd> for EndDoc {
    fn from(end: &StackEnd) -> EndDoc {
        let doc = |reason: &str| EndDoc {
            reason: reason.into(),
            ..EndDoc::default()
        };
        match end {
            StackEnd::Root => doc("root"),
            StackEnd::NoUnwindInfo { module, address } => EndDoc {
                module: module.clone(),
                address: Some(*address),
                ..doc("no_unwind_info")
            },
            StackEnd::CopyTooShort { copied, needed } => EndDoc {
                copied: Some(*copied),
                needed: *needed,
                ..doc("copy_too_short")
            },
            StackEnd::FrameLimit { limit } => EndDoc {
                limit: Some(*limit as u64),
                ..doc("frame_limit")
            },
            StackEnd::Repeating { address } => EndDoc {
                address: Some(*address),
                ..doc("repeating")
            },
            StackEnd::InvalidFrame { address, why } => {
                let (why, sp, previous) = match why {
                    InvalidFrame::NotCode => ("not_code", None, None),
                    InvalidFrame::StackBackwards { sp, previous } => {
                        ("stack_backwards", Some(*sp), Some(*previous))
                    }
                };
                EndDoc {
                    address: Some(*address),
                    why: Some(why.into()),
                    sp,
                    previous,
                    ..doc("invalid_frame")
                }
            }
            StackEnd::ReadFailed { address } => EndDoc {
                address: Some(*address),
                ..doc("read_failed")
            },
            StackEnd::RegisterUnknown => doc("register_unknown"),
            StackEnd::Unwinder { message } => EndDoc {
                message: Some(message.clone()),
                ..doc("unwinder")
            },
            StackEnd::Noted { note } => EndDoc {
                message: Some(note.clone()),
                ..doc("noted")
            },
        }
    }
}

impl EndDoc {
    /// The reason this document names, with its strings made inert; `None` for a reason
    /// this build does not know or one missing its fields.
    fn to_end(&self) -> Option<StackEnd> {
        let inert = |s: &str| crate::tracer::text::inert(s).into_owned();
        Some(match self.reason.as_str() {
            "root" => StackEnd::Root,
            "no_unwind_info" => StackEnd::NoUnwindInfo {
                module: self.module.as_deref().map(inert),
                address: self.address?,
            },
            "copy_too_short" => StackEnd::CopyTooShort {
                copied: self.copied?,
                needed: self.needed,
            },
            "frame_limit" => StackEnd::FrameLimit {
                limit: usize::try_from(self.limit?).ok()?,
            },
            "repeating" => StackEnd::Repeating {
                address: self.address?,
            },
            "invalid_frame" => StackEnd::InvalidFrame {
                address: self.address?,
                why: match self.why.as_deref()? {
                    "not_code" => InvalidFrame::NotCode,
                    "stack_backwards" => InvalidFrame::StackBackwards {
                        sp: self.sp?,
                        previous: self.previous?,
                    },
                    _ => return None,
                },
            },
            "read_failed" => StackEnd::ReadFailed {
                address: self.address?,
            },
            "register_unknown" => StackEnd::RegisterUnknown,
            "unwinder" => StackEnd::Unwinder {
                message: inert(self.message.as_deref()?),
            },
            "noted" => StackEnd::Noted {
                note: inert(self.message.as_deref()?),
            },
            _ => return None,
        })
    }
}

/// The notes on modules in words, as `dump` prints them and the JSON form holds them.
fn notes_words(notes: &[ModuleNote]) -> Vec<String> {
    notes.iter().map(ModuleNote::to_string).collect()
}

/// A stack's end in words, for every output (`None` for a stack that reached its root).
pub fn end_words(end: &StackEnd) -> Option<String> {
    Some(match end {
        StackEnd::Root => return None,
        StackEnd::NoUnwindInfo {
            module: Some(module),
            address,
        } => format!("stack cut: no unwind info for {module} at {address:#x}"),
        StackEnd::NoUnwindInfo {
            module: None,
            address,
        } => format!("stack cut: no unwind info for the code at {address:#x}"),
        StackEnd::CopyTooShort {
            copied,
            needed: Some(needed),
        } => format!(
            "the stack copy ({} KiB) ends before the stack does ({} KiB would hold it)",
            copied / 1024,
            needed.div_ceil(1024)
        ),
        StackEnd::CopyTooShort {
            copied,
            needed: None,
        } => format!(
            "the stack copy ({} KiB) ends before the stack does",
            copied / 1024
        ),
        StackEnd::FrameLimit { limit } => format!("stack cut at the frame limit ({limit} frames)"),
        StackEnd::Repeating { address } => {
            format!("stack cut: the frame at {address:#x} repeats (a looping stack)")
        }
        StackEnd::InvalidFrame {
            address,
            why: InvalidFrame::NotCode,
        } => format!("stack cut: {address:#x} is not in executable memory (a corrupt stack?)"),
        StackEnd::InvalidFrame {
            address,
            why: InvalidFrame::StackBackwards { sp, previous },
        } => format!(
            "stack cut: the caller at {address:#x} has its stack pointer {sp:#x} below the \
             callee's {previous:#x} (a corrupt stack?)"
        ),
        StackEnd::ReadFailed { address } => {
            format!("stack cut: the target's memory at {address:#x} could not be read")
        }
        StackEnd::RegisterUnknown => {
            "stack cut: the unwind needs a register not captured (the thread was not stopped)"
                .into()
        }
        StackEnd::Unwinder { message } => format!("unwinding stopped: {message}"),
        StackEnd::Noted { note } => note.clone(),
    })
}

/// The end of a stack as a document gives it: typed if it can be read, else from the older
/// fields (`end_note`, `truncated`).
fn end_of(t: &ThreadDoc) -> Option<StackEnd> {
    let inert = |s: &str| crate::tracer::text::inert(s).into_owned();
    if let Some(end) = t.end.as_ref().and_then(EndDoc::to_end) {
        return Some(end);
    }
    match (&t.end_note, t.truncated) {
        (Some(note), _) => Some(StackEnd::Noted { note: inert(note) }),
        (None, true) => Some(StackEnd::Noted {
            note: "stack cut: frame limit or a repeating frame".into(),
        }),
        (None, false) if t.frames.is_empty() => None,
        (None, false) => Some(StackEnd::Root),
    }
}

/// A system call a thread was leaving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeavingDoc<'a> {
    pub call: Option<SyscallDoc<'a>>,
}

/// A lock a thread waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockDoc<'a> {
    pub address: u64,
    pub owner: Option<u32>,
    pub note: Option<Cow<'a, str>>,
}

/// The system call a thread is blocked in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyscallDoc<'a> {
    pub number: i64,
    pub name: Option<Cow<'a, str>>,
    pub args: [u64; 6],
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameDoc<'a> {
    pub ip: u64,
    /// Demangled function name.
    pub symbol: Option<Cow<'a, str>>,
    /// The name as in the symbol table.
    pub raw_symbol: Option<Cow<'a, str>>,
    /// `ip` minus the function's start.
    pub offset: Option<u64>,
    pub module: Option<Cow<'a, str>>,
    /// The address in the module's own address space (for `addr2line -e MODULE`).
    pub module_offset: Option<u64>,
    pub is_signal: bool,
    /// Source file of the frame's address (DWARF line info), when known.
    #[serde(default)]
    pub file: Option<Cow<'a, str>>,
    #[serde(default)]
    pub line: Option<u32>,
    /// A function inlined into the next frame (same `ip`).
    #[serde(default)]
    pub inlined: bool,
    /// No unwind info covers the frame: its caller was the return address at its stack
    /// pointer. Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub frameless: bool,
    /// "python" or "jit"; absent for a native frame (so native stacks read as in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Cow<'a, str>>,
}

/// A stack's frames in a document: read from a file, or borrowed from the model to be
/// written, where [`SnapshotDoc::with_shared_stacks`] gives stacks equal to another their
/// JSON, written once (1000 threads parked in the same code share one stack).
#[derive(Debug, Clone)]
pub struct FramesDoc<'a>(Stack<'a>);

#[derive(Debug, Clone)]
enum Stack<'a> {
    Docs(Vec<FrameDoc<'a>>),
    Model {
        frames: &'a [Frame],
        written: Option<Arc<RawValue>>,
    },
}

/// Pretty JSON's indent of a stack in a document (in the root, a list, a thread or goroutine,
/// its `frames`) beyond that of the stack written alone: three levels of two spaces.
const STACK_INDENT: &str = "\n      ";

/// The JSON of `frames`, inert, compact or indented as in a pretty document; `None` if it
/// could not be written (the stack is then written in place).
fn write_stack(frames: &[Frame], pretty: bool) -> Option<Arc<RawValue>> {
    let mut buf = Vec::with_capacity(frames.len() * 320);
    crate::tracer::text::json::write(&mut buf, &FramesDoc::from(frames), pretty).ok()?;
    let mut text = String::from_utf8(buf).ok()?;
    if pretty {
        // Newlines in pretty JSON are all its own: in strings they are escaped.
        text = text.replace('\n', STACK_INDENT);
    }
    RawValue::from_string(text).ok().map(Arc::from)
}

impl<'a> FramesDoc<'a> {
    pub fn len(&self) -> usize {
        match &self.0 {
            Stack::Docs(d) => d.len(),
            Stack::Model { frames, .. } => frames.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each frame's document, innermost first.
    pub fn iter(&self) -> impl Iterator<Item = FrameDoc<'_>> {
        let (docs, model): (&[FrameDoc<'a>], &[Frame]) = match &self.0 {
            Stack::Docs(d) => (d, &[]),
            Stack::Model { frames, .. } => (&[], frames),
        };
        docs.iter()
            .map(FrameDoc::reborrow)
            .chain(model.iter().map(FrameDoc::from))
    }

    /// Adds a frame at the outer end.
    pub fn push(&mut self, frame: FrameDoc<'a>) {
        if let Stack::Model { frames, .. } = &self.0 {
            self.0 = Stack::Docs(frames.iter().map(FrameDoc::from).collect());
        }
        if let Stack::Docs(d) = &mut self.0 {
            d.push(frame);
        }
    }
}

impl<'a> From<&'a [Frame]> for FramesDoc<'a> {
    fn from(frames: &'a [Frame]) -> FramesDoc<'a> {
        FramesDoc(Stack::Model {
            frames,
            written: None,
        })
    }
}

impl<'a> FromIterator<FrameDoc<'a>> for FramesDoc<'a> {
    fn from_iter<I: IntoIterator<Item = FrameDoc<'a>>>(iter: I) -> FramesDoc<'a> {
        FramesDoc(Stack::Docs(iter.into_iter().collect()))
    }
}

impl PartialEq for FramesDoc<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for FramesDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Stack::Docs(d) => d.serialize(s),
            Stack::Model {
                written: Some(raw), ..
            } => RawValue::serialize(raw, s),
            Stack::Model { frames, .. } => s.collect_seq(frames.iter().map(FrameDoc::from)),
        }
    }
}

impl<'de> Deserialize<'de> for FramesDoc<'_> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<FrameDoc>::deserialize(d)?.into_iter().collect())
    }
}

impl FrameDoc<'_> {
    /// The same document, its strings borrowed from this one.
    fn reborrow(&self) -> FrameDoc<'_> {
        fn b<'s>(s: &'s Option<Cow<'_, str>>) -> Option<Cow<'s, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        FrameDoc {
            symbol: b(&self.symbol),
            raw_symbol: b(&self.raw_symbol),
            module: b(&self.module),
            file: b(&self.file),
            kind: b(&self.kind),
            ..*self
        }
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

impl<'a> From<&'a Process> for SnapshotDoc<'a> {
    fn from(p: &'a Process) -> SnapshotDoc<'a> {
        let since_epoch = p.taken_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        SnapshotDoc {
            version: VERSION,
            pid: p.id,
            command: Cow::Borrowed(&p.command),
            taken_at: Cow::Owned(rfc3339(p.taken_at)),
            taken_at_unix_ms: since_epoch.as_millis() as u64,
            mode: Cow::Borrowed(p.mode.as_str()),
            elapsed_us: micros(p.elapsed),
            longest_stop_us: micros(p.longest_stop),
            threads: p.threads.iter().map(ThreadDoc::from).collect(),
            deadlocks: Cow::Borrowed(&p.deadlocks),
            missing_debuginfo: Cow::Owned(notes_words(&p.missing_debuginfo)),
            goroutines: p.goroutines.iter().map(GoroutineDoc::from).collect(),
            goroutines_note: p.goroutines_note.as_deref().map(Cow::Borrowed),
            wait_cycles: p.wait_cycles.iter().map(CycleDoc::from).collect(),
        }
    }
}

impl<'a> From<&'a Goroutine> for GoroutineDoc<'a> {
    fn from(g: &'a Goroutine) -> GoroutineDoc<'a> {
        GoroutineDoc {
            goid: g.id,
            status: Cow::Borrowed(&g.status),
            wait_reason: g.wait_reason.as_deref().map(Cow::Borrowed),
            waiting_ms: g.waiting_for.map(|d| d.as_millis() as u64),
            thread: g.thread,
            end_note: g.end_note.as_deref().map(Cow::Borrowed),
            frames: FramesDoc::from(&*g.frames),
        }
    }
}

impl<'a> From<&'a Thread> for ThreadDoc<'a> {
    fn from(t: &'a Thread) -> ThreadDoc<'a> {
        ThreadDoc {
            tid: t.id,
            name: t.name.as_deref().map(Cow::Borrowed),
            state: t.facts.state.map(|c| Cow::Owned(c.to_string())),
            wchan: t.facts.wchan.as_deref().map(Cow::Borrowed),
            syscall: t.facts.syscall.as_ref().map(syscall_doc),
            user_time_ms: t.facts.user_time.as_millis() as u64,
            system_time_ms: t.facts.system_time.as_millis() as u64,
            stopped_us: micros(t.stopped_for),
            truncated: t.is_truncated(),
            error: t.error.as_ref().map(|e| Cow::Owned(e.to_string())),
            end_note: t.end_note().map(Cow::Owned),
            frames: FramesDoc::from(&*t.frames),
            wait: t.facts.wait.as_deref().map(Cow::Borrowed),
            kernel_stack: Cow::Borrowed(&t.facts.kernel_stack),
            lock: t.facts.lock.as_ref().map(|l| LockDoc {
                address: l.address,
                owner: l.owner,
                note: l.note.as_deref().map(Cow::Borrowed),
            }),
            end: t.end.as_ref().map(EndDoc::from),
            state_before: t.facts.state_before.map(|c| Cow::Owned(c.to_string())),
            leaving: t.facts.leaving.as_ref().map(|l| LeavingDoc {
                call: l.call.as_ref().map(syscall_doc),
            }),
            python: t.facts.python.as_ref().map(|p| PythonDoc {
                holds_gil: p.holds_gil,
                name: p.name.as_deref().map(Cow::Borrowed),
                note: p.note.as_deref().map(Cow::Borrowed),
            }),
            chain: t.facts.chain.as_ref().map(ChainDoc::from),
        }
    }
}

/// A state letter from a document: anything but one ASCII letter (a format character would go
/// out raw, as a char is not text to make inert) is unknown.
fn state_letter(s: &Option<Cow<'_, str>>) -> Option<char> {
    s.as_deref()
        .and_then(|s| s.chars().next())
        .filter(char::is_ascii_alphabetic)
}

fn syscall_doc<'a>(s: &Syscall) -> SyscallDoc<'a> {
    SyscallDoc {
        number: s.number,
        name: s.name().map(Cow::Borrowed),
        args: s.args,
    }
}

impl<'a> From<&'a Frame> for FrameDoc<'a> {
    fn from(f: &'a Frame) -> FrameDoc<'a> {
        FrameDoc {
            ip: f.ip,
            symbol: f.symbol.as_ref().map(|s| Cow::Borrowed(s.name.as_str())),
            raw_symbol: f
                .symbol
                .as_ref()
                .map(|s| Cow::Borrowed(s.raw_name.as_str())),
            offset: f.symbol.as_ref().map(|s| s.offset),
            module: f.module.as_ref().map(|m| Cow::Borrowed(m.path.as_str())),
            module_offset: f.module.as_ref().map(|m| m.offset),
            is_signal: f.is_signal,
            file: f.location.as_ref().map(|l| Cow::Borrowed(l.file.as_str())),
            line: f.location.as_ref().map(|l| l.line),
            inlined: f.inlined,
            frameless: f.frameless,
            kind: match f.kind {
                FrameKind::Native => None,
                kind => Some(Cow::Borrowed(kind.as_str())),
            },
        }
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Formats a time as RFC 3339 in UTC with millisecond precision.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl<'a> SnapshotDoc<'a> {
    /// The same document, each stack equal to another written once as JSON (compact, or
    /// `pretty` as in a pretty document) and copied: much faster when threads share stacks.
    /// Only for serde_json with the layout asked for (see [`crate::tracer::text`]).
    pub fn with_shared_stacks(mut self, pretty: bool) -> Self {
        let stacks = self.threads.iter_mut().map(|t| &mut t.frames.0);
        let mut slots: Vec<(&'a [Frame], &mut Option<Arc<RawValue>>)> = stacks
            .chain(self.goroutines.iter_mut().map(|g| &mut g.frames.0))
            .filter_map(|stack| match stack {
                Stack::Model { frames, written } => Some((*frames, written)),
                Stack::Docs(_) => None,
            })
            .collect();
        let equal = EqualStacks::of(slots.iter().map(|(frames, _)| *frames));
        let mut firsts: Vec<Option<Arc<RawValue>>> = vec![None; slots.len()];
        for (i, (frames, written)) in slots.iter_mut().enumerate() {
            let first = equal.first(i);
            if first == i && equal.is_repeated(i) {
                firsts[i] = write_stack(frames, pretty);
            }
            **written = firsts[first].clone();
        }
        self
    }

    /// The model of a snapshot document (a saved file is untrusted: every string is made
    /// inert again).
    pub fn to_process(&self) -> Process {
        use crate::tracer::model::Mode;
        let inert = |s: &str| crate::tracer::text::inert(s).into_owned();
        let opt = |s: &Option<Cow<'_, str>>| s.as_deref().map(inert);
        let threads: Vec<Thread> = self.threads.iter().map(thread_of).collect();
        // Each note about the module of a saved frame it starts with (a path may hold ": ").
        let modules: std::collections::HashSet<&str> = threads
            .iter()
            .flat_map(|t| t.frames.iter())
            .filter_map(|f| f.module.as_ref().map(|m| m.path.as_str()))
            .collect();
        let missing_debuginfo = self
            .missing_debuginfo
            .iter()
            .map(|m| ModuleNote::noted(&inert(m), modules.iter().copied()))
            .collect();
        Process {
            id: self.pid,
            command: inert(&self.command),
            taken_at: UNIX_EPOCH + Duration::from_millis(self.taken_at_unix_ms),
            mode: match self.mode.as_ref() {
                "snapshot" => Mode::Snapshot,
                "core" => Mode::Core,
                _ => Mode::Rolling,
            },
            elapsed: Duration::from_micros(self.elapsed_us),
            longest_stop: Duration::from_micros(self.longest_stop_us),
            deadlocks: self.deadlocks.to_vec(),
            wait_cycles: crate::tracer::snapshot::chaindoc::cycles_of(&self.wait_cycles),
            missing_debuginfo,
            unguarded: None,
            timings: Default::default(),
            goroutines: self
                .goroutines
                .iter()
                .map(|g| Goroutine {
                    id: g.goid,
                    status: inert(&g.status),
                    wait_reason: opt(&g.wait_reason),
                    waiting_for: g.waiting_ms.map(Duration::from_millis),
                    thread: g.thread,
                    end_note: opt(&g.end_note),
                    frames: g.frames.iter().map(|f| frame_of(&f)).collect(),
                })
                .collect(),
            goroutines_note: opt(&self.goroutines_note),
            threads,
        }
    }
}

/// The model of a saved thread (untrusted: every string made inert again).
fn thread_of(t: &ThreadDoc) -> Thread {
    use crate::tracer::model::{Syscall, ThreadFacts};
    let inert = |s: &str| crate::tracer::text::inert(s).into_owned();
    let opt = |s: &Option<Cow<'_, str>>| s.as_deref().map(inert);
    Thread {
        id: t.tid,
        name: opt(&t.name),
        facts: ThreadFacts {
            state: state_letter(&t.state),
            wchan: opt(&t.wchan),
            syscall: t.syscall.as_ref().map(|s| Syscall {
                number: s.number,
                args: s.args,
            }),
            user_time: Duration::from_millis(t.user_time_ms),
            system_time: Duration::from_millis(t.system_time_ms),
            wait: opt(&t.wait),
            kernel_stack: t.kernel_stack.iter().map(|k| inert(k)).collect(),
            lock: t.lock.as_ref().map(|l| crate::tracer::model::LockHint {
                address: l.address,
                owner: l.owner,
                note: opt(&l.note),
            }),
            state_before: state_letter(&t.state_before),
            leaving: t.leaving.as_ref().map(|l| crate::tracer::model::Leaving {
                call: l.call.as_ref().map(|s| Syscall {
                    number: s.number,
                    args: s.args,
                }),
            }),
            python: t
                .python
                .as_ref()
                .map(|p| crate::tracer::model::PythonThread {
                    holds_gil: p.holds_gil,
                    name: opt(&p.name),
                    note: opt(&p.note),
                }),
            chain: t.chain.as_ref().and_then(ChainDoc::to_chain),
        },
        frames: t.frames.iter().map(|f| frame_of(&f)).collect(),
        error: opt(&t.error).map(|text| ThreadError::Noted { text }),
        end: end_of(t),
        stopped_for: Duration::from_micros(t.stopped_us),
    }
}

/// The model of a saved frame (untrusted: every string made inert again).
fn frame_of(f: &FrameDoc) -> Frame {
    use crate::tracer::model::{Location, Module, Symbol};
    let inert = |s: &str| crate::tracer::text::inert(s).into_owned();
    Frame {
        kind: match f.kind.as_deref() {
            Some("python") => FrameKind::Python,
            Some("jit") => FrameKind::Jit,
            _ => FrameKind::Native,
        },
        ip: f.ip,
        is_signal: f.is_signal,
        symbol: f.symbol.as_deref().map(|name| {
            let offset = f.offset.unwrap_or(0);
            Symbol {
                name: inert(name),
                raw_name: f
                    .raw_symbol
                    .as_deref()
                    .map(inert)
                    .unwrap_or_else(|| inert(name)),
                offset,
                address: f.ip.wrapping_sub(offset),
                size: 0,
            }
        }),
        module: f.module.as_deref().map(|path| Module {
            path: inert(path),
            offset: f.module_offset.unwrap_or(0),
        }),
        location: f.file.as_deref().zip(f.line).map(|(file, line)| Location {
            file: inert(file),
            line,
            column: None,
        }),
        inlined: f.inlined,
        frameless: f.frameless,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_960_800_123);
        assert_eq!(rfc3339(t), "2026-11-29T14:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_document_read_back_writes_the_same_text() {
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 1, "pid": 42, "command": "srv --x", "taken_at": "2026-11-29T14:00:00.123Z",
            "taken_at_unix_ms": 1_795_960_800_123u64, "mode": "rolling", "elapsed_us": 3100,
            "longest_stop_us": 85, "deadlocks": [[7, 8, 7]],
            "missing_debuginfo": ["/lib/x.so: no debuginfo"],
            "threads": [{
                "tid": 7, "name": "worker", "state": "S", "wchan": "futex_do_wait",
                "syscall": {"number": 202, "name": "futex", "args": [1, 2, 3, 4, 5, 6]},
                "user_time_ms": 10, "system_time_ms": 2, "stopped_us": 0, "truncated": true,
                "error": null, "end_note": "unwinding stopped: x", "wait": "futex_wait(0x1)",
                "kernel_stack": ["a+0x1/0x2"],
                "lock": {"address": 4096, "owner": 8, "note": null},
                "frames": [
                    {"ip": 100, "symbol": "f", "raw_symbol": "_Z1fv", "offset": 4,
                     "module": "/bin/srv", "module_offset": 90, "is_signal": false,
                     "file": "a.rs", "line": 3, "inlined": true},
                    {"ip": 100, "symbol": null, "raw_symbol": null, "offset": null,
                     "module": null, "module_offset": null, "is_signal": true,
                     "file": null, "line": null, "inlined": false}
                ]
            }, {
                "tid": 8, "name": null, "state": null, "wchan": null, "syscall": null,
                "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40, "truncated": false,
                "error": "not stopped", "end_note": null, "frames": [], "wait": null,
                "kernel_stack": [], "lock": null
            }]
        }))
        .unwrap();
        let mut doc = doc;
        let leaf: FrameDoc = serde_json::from_str(
            r#"{"ip": 200, "symbol": "leaf", "raw_symbol": "leaf", "offset": 7,
                "module": "/bin/srv", "module_offset": 190, "is_signal": false,
                "file": null, "line": null, "inlined": false, "frameless": true}"#,
        )
        .unwrap();
        doc.threads[0].frames.push(leaf);
        let p = doc.to_process();
        let owned = serde_json::to_string(&SnapshotDoc::from(&p)).unwrap();
        let again: SnapshotDoc = serde_json::from_str(&owned).unwrap();
        let rewritten = serde_json::to_string(&SnapshotDoc::from(&again.to_process())).unwrap();
        assert_eq!(rewritten, owned);
        // No stack shared: the same text.
        let shared = serde_json::to_string(&SnapshotDoc::from(&p).with_shared_stacks(false));
        assert_eq!(shared.unwrap(), owned);
        // The frameless mark is written where it is true only.
        assert_eq!(owned.matches("\"frameless\"").count(), 1, "{owned}");
        assert!(p.threads()[0].frames()[2].is_frameless());
    }

    #[test]
    fn saved_notes_and_errors_load_as_noted_and_are_written_as_read() {
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 1, "pid": 42, "command": "x", "taken_at": "2026-11-29T14:00:00.123Z",
            "taken_at_unix_ms": 1_795_960_800_123u64, "mode": "rolling", "elapsed_us": 1,
            "longest_stop_us": 1,
            "missing_debuginfo": ["/opt/a: b.so: no debuginfo (no build-id; x)", "odd"],
            "threads": [{
                "tid": 7, "name": null, "state": "S", "wchan": null, "syscall": null,
                "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
                "error": "PTRACE_SEIZE: \u{202e}", "end_note": null, "wait": null,
                "kernel_stack": [], "lock": null,
                "frames": [{"ip": 100, "symbol": null, "raw_symbol": null, "offset": null,
                    "module": "/opt/a: b.so", "module_offset": 90, "is_signal": false,
                    "file": null, "line": null, "inlined": false}]
            }]
        }))
        .unwrap();
        let p = doc.to_process();
        let t = &p.threads()[0];
        // The loaded error's words, made inert, kept as written.
        assert!(
            matches!(t.error(), Some(ThreadError::Noted { text }) if text == "PTRACE_SEIZE: \\u{202e}"),
            "{:?}",
            t.error()
        );
        let [note, odd] = p.missing_debuginfo() else {
            panic!("{:?}", p.missing_debuginfo());
        };
        // About the saved frame's module, although its path holds ": ".
        assert_eq!(note.module, "/opt/a: b.so");
        assert_eq!(t.module_note(note).map(|m| m.offset), Some(90));
        assert!(
            matches!(&note.problem, crate::tracer::ModuleProblem::Noted { reason }
            if reason == "no debuginfo (no build-id; x)")
        );
        assert_eq!((odd.module.as_str(), odd.to_string().as_str()), ("", "odd"));
        let written = SnapshotDoc::from(&p);
        assert_eq!(written.missing_debuginfo, doc.missing_debuginfo);
        assert_eq!(
            written.threads[0].error.as_deref(),
            Some("PTRACE_SEIZE: \\u{202e}")
        );
    }

    #[test]
    fn state_before_and_leaving_round_trip() {
        let thread = |tid: u32, state: &str, rest: &str| {
            format!(
                r#"{{"tid": {tid}, "name": null, "state": "{state}", "wchan": null,
                "syscall": null, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40,
                "truncated": false, "error": null, "end_note": null, "frames": [],
                "wait": null, "kernel_stack": [], "lock": null, {rest}}}"#
            )
        };
        let threads = [
            thread(7, "S", r#""state_before": "R", "leaving": null"#),
            thread(
                8,
                "R",
                r#""leaving": {"call": {"number": 230, "name": "clock_nanosleep",
                   "args": [1, 0, 0, 0, 0, 0]}}"#,
            ),
            thread(
                9,
                "R",
                r#""state_before": "\u202e", "leaving": {"call": null}"#,
            ),
        ];
        let text = format!(
            r#"{{"version": 1, "pid": 42, "command": "x", "taken_at": "2026-11-29T14:00:00.123Z",
            "taken_at_unix_ms": 1795960800123, "mode": "rolling", "elapsed_us": 1,
            "longest_stop_us": 1, "threads": [{}]}}"#,
            threads.join(",")
        );
        let doc: SnapshotDoc = serde_json::from_str(&text).unwrap();
        let p = doc.to_process();
        let facts = |i: usize| p.threads[i].facts.clone();
        assert_eq!(facts(0).state_before, Some('R'));
        assert_eq!(facts(0).leaving, None);
        let call = facts(1).leaving.and_then(|l| l.call);
        assert_eq!(call.map(|c| (c.number, c.args[0])), Some((230, 1)));
        // A state that is not a letter is unknown; a call the registers did not name stays
        // unnamed.
        assert_eq!(facts(2).state_before, None);
        assert_eq!(
            facts(2).leaving,
            Some(crate::tracer::model::Leaving { call: None })
        );
        let owned = serde_json::to_string(&SnapshotDoc::from(&p)).unwrap();
        let back: SnapshotDoc = serde_json::from_str(&owned).unwrap();
        assert_eq!(back.to_process(), p);
        assert!(
            owned.contains(r#""state_before":"R","leaving":null"#),
            "{owned}"
        );
        assert!(owned.contains(r#""leaving":{"call":null}"#), "{owned}");
    }

    #[test]
    fn goroutines_round_trip() {
        let json = r#"{"version": 1, "pid": 42, "command": "srv", "taken_at": "x",
            "taken_at_unix_ms": 0, "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
            "threads": [],
            "goroutines": [{"goid": 7, "status": "waiting", "wait_reason": "chan\u202ereceive",
                "waiting_ms": 60000, "thread": null, "end_note": null,
                "frames": [{"ip": 100, "symbol": "main.f", "raw_symbol": "main.f", "offset": 4,
                    "module": "/bin/srv", "module_offset": 90, "is_signal": false,
                    "file": "a.go", "line": 3, "inlined": false}]},
                {"goid": 9, "status": "running", "wait_reason": null, "waiting_ms": null,
                "thread": 43, "end_note": "running on thread 43", "frames": []}],
            "goroutines_note": "goroutines cut at 100000 of the 100001 runtime.allgs claims"}"#;
        let doc: SnapshotDoc = serde_json::from_str(json).unwrap();
        let p = doc.to_process();
        let g = &p.goroutines()[0];
        assert_eq!(g.state(), "chan\\u{202e}receive");
        assert_eq!(g.waiting_for(), Some(Duration::from_secs(60)));
        assert_eq!(g.frames()[0].location().map(|l| l.line), Some(3));
        assert_eq!(p.goroutines()[1].thread(), Some(43));
        let owned = serde_json::to_string(&SnapshotDoc::from(&p)).unwrap();
        let shared = serde_json::to_string(&SnapshotDoc::from(&p).with_shared_stacks(false));
        assert_eq!(shared.unwrap(), owned);
        assert_eq!(
            serde_json::from_str::<SnapshotDoc>(&owned)
                .unwrap()
                .to_process(),
            p
        );
        // A process without goroutines writes neither field, as before.
        let plain = SnapshotDoc {
            goroutines: Vec::new(),
            goroutines_note: None,
            ..doc
        };
        let plain = plain.to_process();
        let text = serde_json::to_string(&SnapshotDoc::from(&plain)).unwrap();
        assert!(!text.contains("goroutines"), "{text}");
    }

    #[test]
    fn chains_and_wait_cycles_round_trip_and_are_bounded() {
        let party = |pid: u32, tid: u32, name: &str| {
            serde_json::json!({"pid": pid, "tid": tid, "name": name, "state": "S",
                "wait": "futex_wait(0x10)"})
        };
        let a_to_b = serde_json::json!({"waiter": party(42, 7, "a\u{1b}[2J"), "kind": "unix socket",
            "object": "socket:[81234]", "holders": [party(812, 815, "db-writer")],
            "note": "peer found by inode"});
        let b_to_a = serde_json::json!({"waiter": party(812, 815, "db-writer"),
            "kind": "file lock", "object": "/var/lib/app/lock (flock)",
            "holders": [{"pid": 42, "tid": 7, "name": "a", "state": "\u{202e}", "wait": null}],
            "note": null});
        let thread = |tid: u32, chain: serde_json::Value| {
            serde_json::json!({"tid": tid, "name": null, "state": "S", "wchan": null,
                "syscall": null, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0,
                "truncated": false, "error": null, "end_note": null, "frames": [],
                "wait": null, "kernel_stack": [], "lock": null, "chain": chain})
        };
        let forged: Vec<serde_json::Value> = (0..100).map(|_| a_to_b.clone()).collect();
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 2, "pid": 42, "command": "x", "taken_at": "t", "taken_at_unix_ms": 0,
            "mode": "rolling", "elapsed_us": 1, "longest_stop_us": 1,
            "threads": [
                thread(7, serde_json::json!({"links": [a_to_b, b_to_a], "cycle": 0,
                    "end": null})),
                thread(8, serde_json::json!({"links": [a_to_b], "cycle": 5,
                    "end": "cut at 12 links"})),
                thread(9, serde_json::json!({"links": [{"waiter": party(42, 9, "c"),
                    "kind": "carrier pigeon", "object": "x"}]})),
                thread(10, serde_json::json!({"links": forged})),
                thread(11, serde_json::Value::Null),
            ],
            "wait_cycles": [{"links": [a_to_b, b_to_a]}, {"links": []}]
        }))
        .unwrap();
        let p = doc.to_process();
        let chain = |i: usize| p.threads[i].facts.chain.clone();
        let seven = chain(0).unwrap();
        assert_eq!(seven.cycle, Some(0));
        assert_eq!(seven.links[0].kind, crate::tracer::LinkKind::UnixSocket);
        assert_eq!(seven.links[0].waiter.name, "a\\x1b[2J");
        assert_eq!(seven.links[0].holders[0].tid, Some(815));
        assert_eq!(seven.links[0].note.as_deref(), Some("peer found by inode"));
        assert_eq!(seven.links[1].holders[0].state, None);
        // A cycle index past the links is dropped; the end note is kept.
        let eight = chain(1).unwrap();
        assert_eq!(
            (eight.cycle, eight.end.as_deref()),
            (None, Some("cut at 12 links"))
        );
        // A kind this build does not know: the chain is left out, not guessed.
        assert_eq!(chain(2), None);
        assert_eq!(chain(3).unwrap().links.len(), 64);
        assert_eq!(chain(4), None);
        assert_eq!(p.wait_cycles().len(), 1);
        assert_eq!(p.wait_cycles()[0].links, seven.links);

        let owned = serde_json::to_string(&SnapshotDoc::from(&p)).unwrap();
        let back: SnapshotDoc = serde_json::from_str(&owned).unwrap();
        assert_eq!(back.to_process(), p);
        assert_eq!(owned.matches("\"chain\"").count(), 3, "{owned}");
        // Without chains neither field is written, as before.
        let mut plain = p.clone();
        plain.wait_cycles.clear();
        for t in &mut plain.threads {
            t.facts.chain = None;
        }
        let text = serde_json::to_string(&SnapshotDoc::from(&plain)).unwrap();
        assert!(
            !text.contains("chain") && !text.contains("wait_cycles"),
            "{text}"
        );
    }

    #[test]
    fn shared_stacks_are_written_as_each_would_be_compact_and_pretty_and_inert() {
        let frame = |ip: u64, name: &str| {
            format!(
                r#"{{"ip": {ip}, "symbol": "{name}", "raw_symbol": "{name}", "offset": 4,
                "module": "/bin/srv", "module_offset": 90, "is_signal": false,
                "file": "a.c", "line": 3, "inlined": false}}"#
            )
        };
        let thread = |tid: u32, frames: &[String]| {
            format!(
                r#"{{"tid": {tid}, "name": "w", "state": "S", "wchan": null, "syscall": null,
                "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
                "error": null, "end_note": null, "wait": null, "kernel_stack": [],
                "lock": null, "frames": [{}]}}"#,
                frames.join(",")
            )
        };
        let parked = [frame(100, "park"), frame(200, "main")];
        let other = [frame(300, "spin")];
        let text = format!(
            r#"{{"version": 1, "pid": 42, "command": "x", "taken_at": "t",
            "taken_at_unix_ms": 0, "mode": "rolling", "elapsed_us": 1, "longest_stop_us": 1,
            "threads": [{}, {}, {}, {}],
            "goroutines": [{{"goid": 1, "status": "waiting", "wait_reason": null,
                "waiting_ms": null, "thread": null, "end_note": null, "frames": [{}]}}]}}"#,
            thread(7, &parked),
            thread(8, &other),
            thread(9, &parked),
            thread(10, &[]),
            parked.join(",")
        );
        let mut p = serde_json::from_str::<SnapshotDoc>(&text)
            .unwrap()
            .to_process();
        // Names the tracer would have made inert, raw: the writer escapes them all the same.
        let mut hostile: Vec<Frame> = p.threads[0].frames.to_vec();
        if let Some(s) = hostile[0].symbol.as_mut() {
            s.name = "pa\u{200b}rk\u{7f}\u{e0001}\u{1b}".into();
        }
        p.threads[0].frames = hostile.clone().into();
        p.threads[2].frames = hostile.into();
        for pretty in [false, true] {
            let plain = crate::tracer::text::to_json_inert(&SnapshotDoc::from(&p), pretty);
            let doc = SnapshotDoc::from(&p).with_shared_stacks(pretty);
            let written = |i: usize| {
                matches!(
                    doc.threads[i].frames.0,
                    Stack::Model {
                        written: Some(_),
                        ..
                    }
                )
            };
            assert_eq!(
                (0..4).map(written).collect::<Vec<_>>(),
                [true, false, true, false]
            );
            let shared = crate::tracer::text::to_json_inert(&doc, pretty).unwrap();
            let plain = plain.unwrap();
            assert_eq!(shared, plain);
            assert!(
                plain.contains(r#""pa\u200brk\u007f\udb40\udc01\u001b""#),
                "{plain}"
            );
            let unsafe_char = |c: char| crate::tracer::text::is_unsafe(c) && c != '\n';
            assert!(!plain.chars().any(unsafe_char), "{plain}");
        }
    }
}
