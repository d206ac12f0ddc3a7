//! The profile itself: frames interned once, stacks counted per thread and activity, and the
//! facts of the recording (when, how many snapshots, the target's longest stop).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use crate::tracer::{Frame, FrameKind, ModuleProblem, Process, Thread};

/// Most distinct frames and stacks kept: a target that makes endless new code (a JIT) or
/// stacks (deep recursion at random depths) cannot grow the profile without bound; samples
/// past it are counted in [`Profile::dropped`].
pub const MAX_FRAMES: usize = 1 << 20;
pub const MAX_STACKS: usize = 1 << 18;
/// Most build-ids kept (one per module).
const MAX_MODULES: usize = 1 << 14;

/// One frame as a profile names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// The function (demangled), or `None` when the address has no symbol.
    pub function: Option<String>,
    /// The symbol as the module names it (mangled), when it has one.
    pub system_name: Option<String>,
    pub file: Option<String>,
    /// 0 when unknown.
    pub line: u32,
    /// The module's path as the target sees it (None for a Python frame or unknown code).
    pub module: Option<String>,
    /// The address in the module's own address space (what addr2line takes); 0 if none.
    pub module_offset: u64,
    /// The instruction pointer in the target (0 for a Python frame).
    pub address: u64,
    /// Inlined into the frame that follows it (same address).
    pub inlined: bool,
    pub kind: FrameKind,
}

impl FrameInfo {
    fn of(f: &Frame) -> FrameInfo {
        let python = f.kind() == FrameKind::Python;
        FrameInfo {
            function: f.symbol().map(|s| s.name().to_string()),
            system_name: f.symbol().map(|s| s.raw_name().to_string()),
            file: f.location().map(|l| l.file.clone()),
            line: f.location().map_or(0, |l| l.line),
            module: f.module().map(|m| m.path.clone()),
            module_offset: f.module().map_or(0, |m| m.offset),
            address: if python { 0 } else { f.ip() },
            inlined: f.is_inlined(),
            kind: f.kind(),
        }
    }

    /// The name a flame graph or a table shows: the function, else the address and module.
    pub fn name(&self) -> String {
        match (&self.function, &self.module) {
            (Some(f), _) => f.clone(),
            (None, Some(m)) => format!("{:#x} ({})", self.address, basename(m)),
            (None, None) => format!("{:#x}", self.address),
        }
    }
}

/// `/usr/lib/libc.so.6` → `libc.so.6`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What a thread was doing when sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Running or ready to run (state R).
    OnCpu,
    /// Sleeping or waiting (S, D, ...), in this system call when one is known.
    OffCpu {
        state: char,
        syscall: Option<&'static str>,
    },
}

impl Activity {
    /// The thread's state as `/proc` showed it before any stop of ours (a stop changes it).
    pub fn of(t: &Thread) -> Activity {
        let facts = t.facts();
        let state = facts.state_before.or(facts.state).unwrap_or('?');
        if state == 'R' {
            Activity::OnCpu
        } else {
            Activity::OffCpu {
                state,
                syscall: facts.syscall.as_ref().and_then(|s| s.name()),
            }
        }
    }

    pub fn on_cpu(self) -> bool {
        self == Activity::OnCpu
    }

    /// The state letter.
    pub fn state(self) -> char {
        match self {
            Activity::OnCpu => 'R',
            Activity::OffCpu { state, .. } => state,
        }
    }
}

/// A thread seen in the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub tid: u32,
    /// The name it had when last sampled (its Python name where the OS one is generic).
    pub name: String,
    /// Snapshots it was in.
    pub samples: u64,
}

/// One stack of one thread in one activity, and how often it was sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackCount {
    /// Index into [`Profile::threads`].
    pub thread: usize,
    /// Indexes into [`Profile::frames`], innermost first (as a trace lists them).
    pub frames: Vec<u32>,
    pub activity: Activity,
    pub samples: u64,
}

/// Samples of a process's threads, aggregated.
#[derive(Debug, Clone)]
pub struct Profile {
    pub pid: u32,
    pub command: String,
    /// When the first snapshot was taken (None before it).
    pub started: Option<SystemTime>,
    /// When the last one was taken.
    pub ended: Option<SystemTime>,
    /// The time between two snapshots asked for (pprof's period).
    pub interval: Duration,
    /// Snapshots added.
    pub snapshots: u64,
    pub threads: Vec<ThreadInfo>,
    pub frames: Vec<FrameInfo>,
    pub stacks: Vec<StackCount>,
    /// The longest any thread was stopped, over all snapshots.
    pub longest_stop: Duration,
    /// Thread samples not counted because a bound was reached.
    pub dropped: u64,
    /// Build-ids (hex) of modules, by path: those the traces noted, and any a caller that
    /// can read the files adds ([`Profile::add_build_ids`]).
    pub build_ids: BTreeMap<String, String>,
    frame_ids: HashMap<FrameInfo, u32>,
    stack_ids: HashMap<(usize, Vec<u32>, Activity), usize>,
    thread_ids: HashMap<u32, usize>,
    /// Per thread, its last stack (the tracer's shared slice, held so that its address is
    /// not reused) and its frames' ids: a blocked thread's stack carried over by the tracer
    /// is the same slice, and is not interned again (1000 threads at 20/s).
    last_stack: HashMap<usize, (std::sync::Arc<[Frame]>, Vec<u32>)>,
}

impl Profile {
    pub fn new(pid: u32, command: &str, interval: Duration) -> Profile {
        Profile {
            pid,
            command: command.to_string(),
            started: None,
            ended: None,
            interval,
            snapshots: 0,
            threads: Vec::new(),
            frames: Vec::new(),
            stacks: Vec::new(),
            longest_stop: Duration::ZERO,
            dropped: 0,
            build_ids: BTreeMap::new(),
            frame_ids: HashMap::new(),
            stack_ids: HashMap::new(),
            thread_ids: HashMap::new(),
            last_stack: HashMap::new(),
        }
    }

    /// A profile of one snapshot: one sample per thread (as Go's goroutine profile).
    pub fn of_snapshot(p: &Process) -> Profile {
        let mut profile = Profile::new(p.id(), p.command(), Duration::ZERO);
        profile.add(p);
        profile
    }

    /// Counts one sample of every thread of snapshot `p`.
    pub fn add(&mut self, p: &Process) {
        self.snapshots += 1;
        self.started.get_or_insert(p.taken_at());
        self.ended = Some(p.taken_at());
        self.longest_stop = self.longest_stop.max(p.longest_stop());
        for note in p.missing_debuginfo() {
            if let ModuleProblem::NoDebuginfo { build_id: Some(id) } = &note.problem
                && self.build_ids.len() < MAX_MODULES
            {
                let hex = id.iter().map(|b| format!("{b:02x}")).collect();
                self.build_ids.entry(note.module.clone()).or_insert(hex);
            }
        }
        let process_name = p
            .threads()
            .iter()
            .find(|t| t.id() == p.id())
            .and_then(|t| t.name())
            .map(str::to_string);
        for t in p.threads() {
            let name = crate::describe::shown_thread_name(t, process_name.as_deref());
            let thread = self.thread(t.id(), name);
            self.threads[thread].samples += 1;
            let frames = match self.same_stack(thread, t) {
                Some(ids) => ids,
                None => {
                    let mut frames = Vec::with_capacity(t.frames().len());
                    for f in t.frames() {
                        match self.frame(f) {
                            Some(id) => frames.push(id),
                            None => {
                                self.dropped += 1;
                                frames.clear();
                                break;
                            }
                        }
                    }
                    if frames.is_empty() && !t.frames().is_empty() {
                        continue;
                    }
                    self.remember_stack(thread, t, &frames);
                    frames
                }
            };
            let key = (thread, frames, Activity::of(t));
            match self.stack_ids.get(&key) {
                Some(&i) => self.stacks[i].samples += 1,
                None if self.stacks.len() >= MAX_STACKS => self.dropped += 1,
                None => {
                    self.stack_ids.insert(key.clone(), self.stacks.len());
                    self.stacks.push(StackCount {
                        thread: key.0,
                        frames: key.1,
                        activity: key.2,
                        samples: 1,
                    });
                }
            }
        }
    }

    /// Thread samples counted (a snapshot of N threads counts N).
    pub fn samples(&self) -> u64 {
        self.stacks.iter().map(|s| s.samples).sum()
    }

    /// Of those, the samples of threads on a CPU.
    pub fn on_cpu_samples(&self) -> u64 {
        self.stacks
            .iter()
            .filter(|s| s.activity.on_cpu())
            .map(|s| s.samples)
            .sum()
    }

    /// Asks `lookup` the build-id of every module of a frame that has none yet (e.g. read
    /// from the file the live target maps).
    pub fn add_build_ids(&mut self, mut lookup: impl FnMut(&str) -> Option<String>) {
        let mut modules: Vec<&String> = self
            .frames
            .iter()
            .filter_map(|f| f.module.as_ref())
            .collect();
        modules.sort();
        modules.dedup();
        let found: Vec<(String, String)> = modules
            .into_iter()
            .filter(|m| !self.build_ids.contains_key(*m))
            .take(MAX_MODULES.saturating_sub(self.build_ids.len()))
            .filter_map(|m| lookup(m).map(|id| (m.clone(), id)))
            .collect();
        self.build_ids.extend(found);
    }

    /// The time from the first snapshot to the last.
    pub fn duration(&self) -> Duration {
        match (self.started, self.ended) {
            (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
            _ => Duration::ZERO,
        }
    }

    /// The index of thread `tid`, its name brought up to date.
    fn thread(&mut self, tid: u32, name: &str) -> usize {
        if let Some(&i) = self.thread_ids.get(&tid) {
            if self.threads[i].name != name {
                self.threads[i].name = name.to_string();
            }
            return i;
        }
        self.thread_ids.insert(tid, self.threads.len());
        self.threads.push(ThreadInfo {
            tid,
            name: name.to_string(),
            samples: 0,
        });
        self.threads.len() - 1
    }

    /// The ids of thread `t`'s frames when they are the very slice thread `thread` had last
    /// time (the tracer carried its stack over; the slice is immutable, so the same slice is
    /// the same frames, Python ones included).
    fn same_stack(&self, thread: usize, t: &Thread) -> Option<Vec<u32>> {
        let (last, ids) = self.last_stack.get(&thread)?;
        std::sync::Arc::ptr_eq(last, &t.shared_frames()).then(|| ids.clone())
    }

    fn remember_stack(&mut self, thread: usize, t: &Thread, ids: &[u32]) {
        self.last_stack
            .insert(thread, (t.shared_frames(), ids.to_vec()));
    }

    /// The id of frame `f`, interned; None when the table is full.
    fn frame(&mut self, f: &Frame) -> Option<u32> {
        let info = FrameInfo::of(f);
        if let Some(&id) = self.frame_ids.get(&info) {
            return Some(id);
        }
        if self.frames.len() >= MAX_FRAMES {
            return None;
        }
        let id = self.frames.len() as u32;
        self.frame_ids.insert(info.clone(), id);
        self.frames.push(info);
        Some(id)
    }
}
