//! A Go process's goroutines, read from its runtime after the threads resumed: each `g` of
//! `runtime.allgs` (in a stripped binary, the one candidate that holds goroutines) and its
//! stack, walked by `.gopclntab`'s frame sizes as Go walks it. Bounded: at most
//! [`MAX_GOROUTINES`] goroutines and [`MAX_FRAMES_TOTAL`] frames.

use std::collections::HashMap;
use std::time::Duration;

use crate::tracer::golang::golayout::GoLayout;
use crate::tracer::golang::gostripped::MAX_CANDIDATES;
use crate::tracer::memory::RemoteMemory;
use crate::tracer::model::{Frame, Goroutine};
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::symbolize::symbols::{GoModule, KeyCache, Resolved, Symbolizer, Want};
use crate::tracer::text;

/// Most goroutines listed; the rest are counted in the note.
pub const MAX_GOROUTINES: usize = 100_000;
/// Most frames of one goroutine (Go's own traceback prints 100).
const MAX_FRAMES: usize = 256;
/// Most frames walked for all goroutines together.
pub const MAX_FRAMES_TOTAL: usize = 1_000_000;
/// Most entries of a candidate `allgs` checked before it is believed.
const CHECKED_GS: usize = 64;
/// Largest capacity of a candidate `allgs` believed.
const MAX_CAP: u64 = 1 << 32;
/// Largest goroutine stack (Go's limit on 64-bit systems is 1 GB).
const MAX_STACK: u64 = 1 << 30;
/// Longest wait reason or status name read from the target.
const MAX_NAME: usize = 128;

/// `g.atomicstatus` values (runtime2.go), the same from Go 1.0 to today.
const G_RUNNING: u32 = 2;
const G_SYSCALL: u32 = 3;
const G_WAITING: u32 = 4;
const G_DEAD: u32 = 6;
const G_LEAKED: u32 = 10;
const G_SCAN: u32 = 0x1000;
/// `gStatusStrings` of the current Go, for a binary whose own table we cannot read.
const STATUSES: [&str; 12] = [
    "idle",
    "runnable",
    "running",
    "syscall",
    "waiting",
    "moribund",
    "dead",
    "enqueue",
    "copystack",
    "preempted",
    "leaked",
    "waiting for cgo callback",
];

/// Functions at which a goroutine's (or a thread's system) stack starts.
const ROOTS: [&str; 4] = [
    "runtime.goexit",
    "runtime.mstart",
    "runtime.rt0_go",
    "runtime.mcall",
];

/// The goroutines of process `pid`, or `None` when it is not a Go process; with a note when
/// they could not all be listed.
pub fn list(
    pid: i32,
    symbolizer: &mut Symbolizer,
    maps: &MemoryMaps,
    keys: &mut KeyCache,
    want: Want,
) -> Option<(Vec<Goroutine>, Option<String>)> {
    let go = symbolizer.go_module(maps, keys)?;
    let rt = &go.runtime;
    let version = rt.version.as_deref().unwrap_or("an unknown Go version");
    if rt.allgs.is_none() && rt.allgs_candidates.is_empty() {
        return not_listed("runtime.allgs not found (the binary has no .symtab)".into());
    }
    let Some(layout) = rt.layout else {
        return not_listed(format!(
            "the binary has no DWARF for runtime.g, and {version} has no table here"
        ));
    };
    let mem = RemoteMemory::new(pid);
    let allgs = match rt.allgs {
        Some(allgs) => allgs.wrapping_add(go.bias),
        None => match pick_allgs(&mem, &rt.allgs_candidates, go.bias, &layout) {
            Ok(allgs) => allgs,
            Err(why) => return not_listed(why),
        },
    };
    let Some(header) = mem.words(allgs, 2) else {
        return not_listed("runtime.allgs unreadable".into());
    };
    let (array, len) = (header[0], header[1]);
    let count = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .min(MAX_GOROUTINES);
    let mut note = (len > count as u64)
        .then(|| format!("goroutines cut at {MAX_GOROUTINES} of the {len} runtime.allgs claims"));
    let Some(gs) = mem.words(array, count) else {
        return not_listed("runtime.allgs unreadable".into());
    };
    let names = RuntimeNames::read(&mem, &go);
    let mut budget = MAX_FRAMES_TOTAL;
    let mut memo = HashMap::new();
    let mut out = Vec::new();
    for g in gs {
        let Some(fields) = read_g(&mem, g, &layout) else {
            continue;
        };
        let status = fields.status & !G_SCAN;
        if status == G_DEAD || fields.goid == 0 {
            continue;
        }
        let thread = (fields.m != 0)
            .then(|| mem.words(fields.m.wrapping_add(layout.m_procid), 1))
            .flatten()
            .and_then(|w| u32::try_from(w[0]).ok())
            .filter(|&tid| tid != 0);
        let (raw, end_note) = if status == G_RUNNING {
            (Vec::new(), Some(running_note(thread)))
        } else if budget == 0 {
            (
                Vec::new(),
                Some("stack not walked: the trace's frame budget is spent".into()),
            )
        } else {
            let (pc, sp) = fields.stack_top(status);
            walk(&mem, &go, pc, sp, &mut budget)
        };
        let frames = symbolize(symbolizer, maps, keys, want, &raw, &mut memo);
        out.push(Goroutine {
            id: fields.goid,
            status: names.status(status),
            wait_reason: names.wait_reason(status, fields.reason),
            waiting_for: names.waiting_for(status, fields.since),
            thread,
            frames: frames.into(),
            end_note,
        });
    }
    if out.is_empty() && note.is_none() && count > 0 {
        note = Some(format!(
            "no live goroutine among the {count} of runtime.allgs"
        ));
    }
    Some((out, note))
}

/// Of a stripped binary's candidates for `runtime.allgs` (module addresses), the run-time
/// address of the one that holds goroutines: candidates that read as the same slice are one.
fn pick_allgs(
    mem: &RemoteMemory,
    candidates: &[u64],
    bias: u64,
    layout: &GoLayout,
) -> Result<u64, String> {
    let mut found: Vec<(u64, u64, u64)> = Vec::new();
    for &candidate in candidates.iter().take(MAX_CANDIDATES) {
        let at = candidate.wrapping_add(bias);
        let Some(header) = mem.words(at, 3) else {
            continue;
        };
        let (array, len, cap) = (header[0], header[1], header[2]);
        if holds_gs(mem, array, len, cap, layout)
            && !found.iter().any(|&(_, a, l)| (a, l) == (array, len))
        {
            found.push((at, array, len));
        }
    }
    let from = "the code of runtime.allgadd and runtime.forEachG (the binary has no .symtab)";
    match found.as_slice() {
        [(at, _, _)] => Ok(*at),
        [] => Err(format!(
            "runtime.allgs not found: none of the {} candidates from {from} holds goroutines",
            candidates.len()
        )),
        more => Err(format!(
            "runtime.allgs not found: {} candidates from {from} hold different goroutines",
            more.len()
        )),
    }
}

/// Whether the slice (`array`, `len`, `cap`) looks like `allgs` under `layout`: its first
/// [`CHECKED_GS`] entries are readable `g`s with known statuses, stacks that are stacks, and
/// distinct goroutine ids.
fn holds_gs(mem: &RemoteMemory, array: u64, len: u64, cap: u64, layout: &GoLayout) -> bool {
    if array == 0 || !array.is_multiple_of(8) || len == 0 || len > cap || cap > MAX_CAP {
        return false;
    }
    let Some(gs) = mem.words(array, len.min(CHECKED_GS as u64) as usize) else {
        return false;
    };
    let mut ids = Vec::with_capacity(gs.len());
    for g in gs {
        if !g.is_multiple_of(8) {
            return false;
        }
        let (Some(fields), Some(stack)) = (read_g(mem, g, layout), mem.words(g, 2)) else {
            return false;
        };
        let status = fields.status & !G_SCAN;
        // g.stack (lo, hi) leads runtime.g in every version; a dead g's may be freed (0, 0),
        // and its id is given when it is reused.
        let (lo, hi) = (stack[0], stack[1]);
        let live = status != G_DEAD;
        let stack_ok = if live {
            lo < hi && hi - lo <= MAX_STACK
        } else {
            lo <= hi
        };
        if status as usize >= STATUSES.len() || !stack_ok {
            return false;
        }
        if live && fields.goid != 0 {
            if ids.contains(&fields.goid) {
                return false;
            }
            ids.push(fields.goid);
        }
    }
    !ids.is_empty()
}

/// No goroutines, and the note that says why.
fn not_listed(why: String) -> Option<(Vec<Goroutine>, Option<String>)> {
    Some((Vec::new(), Some(format!("goroutines not listed: {why}"))))
}

/// What a listing reads once for all goroutines: the runtime's own names of its statuses and
/// wait reasons (empty when unreadable), and the clock that `g.waitsince` counts on.
struct RuntimeNames {
    statuses: Vec<String>,
    reasons: Vec<String>,
    now: u64,
}

impl RuntimeNames {
    fn read(mem: &RemoteMemory, go: &GoModule) -> RuntimeNames {
        let rt = &go.runtime;
        let reasons = rt
            .wait_reasons
            .map(|t| go_strings(mem, t, go.bias))
            .unwrap_or_default();
        let statuses = rt
            .statuses
            .map(|t| go_strings(mem, t, go.bias))
            .unwrap_or_default();
        RuntimeNames {
            statuses,
            reasons,
            now: monotonic_ns(),
        }
    }

    /// The name of `status` (without the scan bit): the binary's own, else the current Go's.
    fn status(&self, status: u32) -> String {
        self.statuses
            .get(status as usize)
            .filter(|s| !s.is_empty())
            .cloned()
            .or_else(|| STATUSES.get(status as usize).map(|s| s.to_string()))
            .unwrap_or_else(|| format!("status {status}"))
    }

    /// Why a waiting (or leaked) goroutine waits.
    fn wait_reason(&self, status: u32, reason: u8) -> Option<String> {
        ((status == G_WAITING || status == G_LEAKED) && reason != 0).then(|| {
            self.reasons
                .get(reason as usize)
                .filter(|r| !r.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("wait reason {reason}"))
        })
    }

    /// How long a waiting goroutine, or one in a system call, has been so (when the runtime
    /// recorded since when).
    fn waiting_for(&self, status: u32, since: i64) -> Option<Duration> {
        (since > 0 && (status == G_WAITING || status == G_SYSCALL))
            .then(|| self.now.checked_sub(since as u64).map(Duration::from_nanos))
            .flatten()
    }
}

fn running_note(thread: Option<u32>) -> String {
    match thread {
        Some(tid) => format!("running on thread {tid}: its stack is that thread's"),
        None => "running: its stack is its thread's".into(),
    }
}

/// The fields of one `g` a listing reads.
struct GFields {
    goid: u64,
    status: u32,
    reason: u8,
    since: i64,
    sched_sp: u64,
    sched_pc: u64,
    syscall_sp: u64,
    syscall_pc: u64,
    m: u64,
}

impl GFields {
    /// Where the walk of a goroutine of `status` starts (pc, sp): where it entered its system
    /// call, or where it was last switched out.
    fn stack_top(&self, status: u32) -> (u64, u64) {
        if status == G_SYSCALL && self.syscall_sp != 0 {
            (self.syscall_pc, self.syscall_sp)
        } else {
            (self.sched_pc, self.sched_sp)
        }
    }
}

fn read_g(mem: &RemoteMemory, g: u64, l: &GoLayout) -> Option<GFields> {
    let offsets = [
        l.goid,
        l.status,
        l.wait_reason,
        l.wait_since,
        l.sched_sp,
        l.sched_pc,
        l.syscall_sp,
        l.syscall_pc,
        l.m,
    ];
    let span = offsets.iter().max()? + 8;
    if span > 4096 || g == 0 {
        return None;
    }
    let mut buf = vec![0u8; span as usize];
    mem.read_exact(g, &mut buf).then_some(())?;
    let word = |off: u64| {
        let at = off as usize;
        u64::from_le_bytes(buf[at..at + 8].try_into().unwrap_or_default())
    };
    Some(GFields {
        goid: word(l.goid),
        status: word(l.status) as u32,
        reason: buf[l.wait_reason as usize],
        since: word(l.wait_since) as i64,
        sched_sp: word(l.sched_sp),
        sched_pc: word(l.sched_pc),
        syscall_sp: word(l.syscall_sp),
        syscall_pc: word(l.syscall_pc),
        m: word(l.m),
    })
}

/// Walks a goroutine's stack from a saved `pc` and `sp`, as the Go runtime's unwinder does
/// on amd64: the function's `pcsp` value is the distance from `sp` to its return address.
/// Returns (ip, lookup address) per frame, and why the walk ended short, if it did.
fn walk(
    mem: &RemoteMemory,
    go: &GoModule,
    mut pc: u64,
    mut sp: u64,
    budget: &mut usize,
) -> (Vec<(u64, u64)>, Option<String>) {
    let mut frames = Vec::new();
    if pc == 0 {
        return (frames, Some("no saved program counter".into()));
    }
    loop {
        if frames.len() == MAX_FRAMES || *budget == 0 {
            let note = format!("stack cut at {} frames", frames.len());
            return (frames, Some(note));
        }
        *budget -= 1;
        let vaddr = pc.wrapping_sub(go.bias);
        let Some(f) = go.table.find(vaddr) else {
            return (frames, Some(format!("no Go function at {pc:#x}")));
        };
        // A return address is looked up inside its call; a function's entry (a goroutine
        // not started yet) as it is.
        let lookup = if vaddr > f.entry { pc - 1 } else { pc };
        frames.push((pc, lookup));
        let name = go.table.name(f).unwrap_or_default();
        if ROOTS.iter().any(|r| r.as_bytes() == name) {
            return (frames, None);
        }
        let Some(delta) = go.table.sp_delta(f, vaddr) else {
            return (frames, Some(format!("no frame size for {pc:#x}")));
        };
        let Some(fp) = sp.checked_add(delta).and_then(|a| a.checked_add(8)) else {
            return (frames, Some("stack pointer out of range".into()));
        };
        let Some(ret) = mem.words(fp - 8, 1) else {
            return (
                frames,
                Some(format!("cannot read the return address at {:#x}", fp - 8)),
            );
        };
        if ret[0] == 0 {
            return (frames, None);
        }
        pc = ret[0];
        sp = fp;
    }
}

/// Symbols, lines and inlined functions of walked frames, like a thread's.
fn symbolize(
    symbolizer: &mut Symbolizer,
    maps: &MemoryMaps,
    keys: &mut KeyCache,
    want: Want,
    raw: &[(u64, u64)],
    memo: &mut HashMap<(u64, u64), Resolved>,
) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(raw.len());
    for &(ip, lookup) in raw {
        let Some(mapping) = maps.find(ip) else {
            frames.push(Frame {
                kind: crate::tracer::FrameKind::Native,
                ip,
                is_signal: false,
                symbol: None,
                module: None,
                location: None,
                inlined: false,
                frameless: false,
            });
            continue;
        };
        let r = memo
            .entry((ip, lookup))
            .or_insert_with(|| symbolizer.resolve(mapping, ip, lookup, want, keys));
        for (symbol, location) in &r.inlined {
            frames.push(Frame {
                kind: crate::tracer::FrameKind::Native,
                ip,
                is_signal: false,
                symbol: symbol.clone(),
                module: r.module.clone(),
                location: location.clone(),
                inlined: true,
                frameless: false,
            });
        }
        frames.push(Frame {
            kind: crate::tracer::FrameKind::Native,
            ip,
            is_signal: false,
            symbol: r.symbol.clone(),
            module: r.module.clone(),
            location: r.location.clone(),
            inlined: false,
            frameless: false,
        });
    }
    frames
}

/// A Go `[N]string` at module address `table.0` (N = `table.1`, at most 256), read from the
/// running target: each made inert and bounded; an unreadable one empty.
fn go_strings(mem: &RemoteMemory, (address, count): (u64, u64), bias: u64) -> Vec<String> {
    let count = count.min(256) as usize;
    let Some(words) = mem.words(address.wrapping_add(bias), count * 2) else {
        return Vec::new();
    };
    words
        .chunks_exact(2)
        .map(|w| {
            let len = w[1].min(MAX_NAME as u64) as usize;
            let mut buf = vec![0u8; len];
            if mem.read_exact(w[0], &mut buf) {
                text::inert_bounded(&text::from_bytes(&buf), MAX_NAME)
            } else {
                String::new()
            }
        })
        .collect()
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of Go's `nanotime`, shared by all processes.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
