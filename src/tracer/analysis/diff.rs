//! Comparing two snapshots of one process: which threads appeared, exited or moved to another
//! stack, how much CPU each used in between, and how long a thread has sat on the same stack.
//! Pure functions over [`Process`] values; no tracing, no I/O.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::tracer::model::{Frame, FrameKind, Process, Thread};
use crate::tracer::snapshot::schema::rfc3339;

/// The identity of one frame: the demangled symbol name, or `module+0xoffset` when there is no
/// symbol, or `0xip` when there is no module either. The offset within a function is ignored.
/// A Python frame is its function with file and line (`worker (app.py:42)`): a Python thread
/// that moved to another line has moved, which is what its user asks of a diff.
pub fn frame_key(f: &Frame) -> String {
    if f.kind() == FrameKind::Python {
        let name = f.symbol().map_or("??", |s| s.name());
        return match f.location() {
            Some(l) => format!("{name} ({}:{})", l.file, l.line),
            None => name.to_owned(),
        };
    }
    match (f.symbol(), f.module()) {
        (Some(sym), _) => sym.name().to_owned(),
        (None, Some(m)) => format!("{}+0x{:x}", m.path, m.offset),
        (None, None) => format!("0x{:x}", f.ip()),
    }
}

/// The identity of a stack for comparison and grouping: one entry per frame, outermost LAST
/// (same order as [`Thread::frames`]), each the demangled symbol name, or "module+0xoffset"
/// when there is no symbol, or "0xip" when there is no module either. Offsets within a
/// function are ignored (a thread looping inside one function is "the same stack").
pub fn stack_key(t: &Thread) -> Vec<String> {
    t.frames().iter().map(frame_key).collect()
}

/// What happened to one thread between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Only in the new snapshot.
    New,
    /// Only in the old snapshot.
    Exited,
    /// In both, on a different stack. `common_outer` is how many OUTERMOST frames the two
    /// stacks share (compared from the outer end): frames `[0, len - common_outer)` of the new
    /// stack are the changed ones.
    Changed { common_outer: usize },
    /// In both, on the same stack.
    Unchanged,
}

/// One thread's entry in a [`Diff`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadDiff {
    pub tid: u32,
    pub name: Option<String>,
    pub change: Change,
    /// user+system CPU time used between the two snapshots (None for new/exited threads).
    /// Serialized as `cpu_used_us` (microseconds).
    #[serde(rename = "cpu_used_us", serialize_with = "opt_micros")]
    pub cpu_used: Option<Duration>,
    /// true when cpu_used is at least 5% of the wall time between the snapshots (and not zero).
    pub busy: bool,
}

/// The comparison of two snapshots of one process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub pid: u32,
    /// RFC 3339, UTC.
    pub old_taken_at: String,
    /// RFC 3339, UTC.
    pub new_taken_at: String,
    pub wall_ms: u64,
    /// The new snapshot's threads in its order, then the exited threads in the old order.
    pub threads: Vec<ThreadDiff>,
}

fn opt_micros<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_micros().min(u64::MAX as u128) as u64)),
        None => s.serialize_none(),
    }
}

fn cpu_time(t: &Thread) -> Duration {
    t.facts().user_time + t.facts().system_time
}

/// The time from `earlier` to `later` (zero when the clock went backwards).
fn between(earlier: &Process, later: &Process) -> Duration {
    later
        .taken_at()
        .duration_since(earlier.taken_at())
        .unwrap_or_default()
}

/// Index of each thread id (the first thread wins should an id repeat).
fn by_tid(p: &Process) -> HashMap<u32, &Thread> {
    let mut map = HashMap::with_capacity(p.threads().len());
    for t in p.threads() {
        map.entry(t.id()).or_insert(t);
    }
    map
}

/// How many outermost entries two keys share.
fn common_outer(a: &[String], b: &[String]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Compares two snapshots of the same process, `old` taken before `new`.
pub fn diff(old: &Process, new: &Process) -> Diff {
    let wall = between(old, new);
    let old_by_tid = by_tid(old);
    let new_by_tid = by_tid(new);
    let mut threads = Vec::with_capacity(new.threads().len());
    for t in new.threads() {
        let Some(before) = old_by_tid.get(&t.id()) else {
            threads.push(ThreadDiff {
                tid: t.id(),
                name: t.name().map(String::from),
                change: Change::New,
                cpu_used: None,
                busy: false,
            });
            continue;
        };
        let (old_key, new_key) = (stack_key(before), stack_key(t));
        let change = if old_key == new_key {
            Change::Unchanged
        } else {
            Change::Changed {
                common_outer: common_outer(&old_key, &new_key),
            }
        };
        let used = cpu_time(t).saturating_sub(cpu_time(before));
        threads.push(ThreadDiff {
            tid: t.id(),
            name: t.name().map(String::from),
            change,
            cpu_used: Some(used),
            busy: !used.is_zero() && used.as_nanos() * 20 >= wall.as_nanos(),
        });
    }
    for t in old.threads() {
        if !new_by_tid.contains_key(&t.id()) {
            threads.push(ThreadDiff {
                tid: t.id(),
                name: t.name().map(String::from),
                change: Change::Exited,
                cpu_used: None,
                busy: false,
            });
        }
    }
    Diff {
        pid: new.id(),
        old_taken_at: rfc3339(old.taken_at()),
        new_taken_at: rfc3339(new.taken_at()),
        wall_ms: wall.as_millis().min(u64::MAX as u128) as u64,
        threads,
    }
}

/// How long a thread's stack has stayed the same: a run of consecutive snapshots, advanced
/// one snapshot at a time so it can outlast any history kept. The one definition of "stuck",
/// for the inspector's SAME column and for [`unchanged_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct StackRun {
    /// Consecutive snapshots (ending with the newest) with this stack.
    pub snapshots: usize,
    /// When the first of them was taken.
    pub since: SystemTime,
    /// The stack's identity ([`stack_key`]).
    pub key: Vec<String>,
}

impl StackRun {
    /// The run of thread `t` in a snapshot taken at `taken_at`, given its run in the previous
    /// snapshot (None when it was not there): one longer when the stack is the same, else a
    /// new run. A thread without frames starts anew: an empty stack says nothing of where the
    /// thread is.
    pub fn next(before: Option<&StackRun>, t: &Thread, taken_at: SystemTime) -> StackRun {
        let key = stack_key(t);
        match before {
            Some(old) if old.key == key && !t.frames().is_empty() => StackRun {
                snapshots: old.snapshots + 1,
                since: old.since,
                key,
            },
            _ => StackRun {
                snapshots: 1,
                since: taken_at,
                key,
            },
        }
    }

    /// How long, as of snapshot time `now`.
    pub fn duration(&self, now: SystemTime) -> Duration {
        now.duration_since(self.since).unwrap_or_default()
    }
}

/// How long thread `tid` has had the same stack: over `history` (oldest first, newest last),
/// the number of consecutive snapshots ending with the newest in which `tid` exists with an
/// identical [`stack_key`], and the time from the first of those to the newest. None if tid is
/// not in the newest snapshot. (1, 0s) when it changed in the newest one.
pub fn unchanged_run(history: &[&Process], tid: u32) -> Option<(usize, Duration)> {
    let newest = history.last()?;
    let mut run: Option<StackRun> = None;
    for p in history {
        run = p
            .threads()
            .iter()
            .find(|t| t.id() == tid)
            .map(|t| StackRun::next(run.as_ref(), t, p.taken_at()));
    }
    run.map(|r| (r.snapshots, r.duration(newest.taken_at())))
}

/// Hand-built snapshots for the tests of this module, [`crate::tracer::analysis::group`] and the text output's.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::tracer::Process;
    use crate::tracer::snapshot::schema::SnapshotDoc;

    /// A thread: (tid, name, user CPU ms, frames innermost first). A frame is `name` (symbol
    /// at offset 0x10 in /srv/app), `name+0xNN` (that offset), `@/path+0xNN` (no symbol, in a
    /// module) or `@0xNN` (no module either).
    pub(crate) type T<'a> = (u32, &'a str, u64, &'a [&'a str]);

    /// A snapshot of pid 4242 taken `taken_ms` after the epoch.
    pub(crate) fn snapshot(taken_ms: u64, threads: &[T]) -> Process {
        let threads: Vec<serde_json::Value> = threads
            .iter()
            .map(|(tid, name, cpu_ms, frames)| {
                let frames: Vec<serde_json::Value> = frames
                    .iter()
                    .enumerate()
                    .map(|(i, f)| frame(*tid, i, f))
                    .collect();
                serde_json::json!({
                    "tid": tid, "name": if name.is_empty() { None } else { Some(name) },
                    "state": "S", "wchan": null, "syscall": null,
                    "user_time_ms": cpu_ms, "system_time_ms": 0, "stopped_us": 40,
                    "truncated": false, "error": null, "end_note": null, "frames": frames
                })
            })
            .collect();
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 1, "pid": 4242, "command": "/srv/app --workers 64",
            "taken_at": "", "taken_at_unix_ms": taken_ms, "mode": "rolling",
            "elapsed_us": 3100, "longest_stop_us": 85, "threads": threads
        }))
        .unwrap();
        doc.to_process()
    }

    fn frame(tid: u32, i: usize, f: &str) -> serde_json::Value {
        let ip = 0x5555_0000_1000u64 + (i as u64) * 0x40 + u64::from(tid) * 0x10_000;
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
        if let Some(rest) = f.strip_prefix('@') {
            return match rest.rsplit_once('+') {
                Some((path, off)) => serde_json::json!({
                    "ip": ip, "symbol": null, "raw_symbol": null, "offset": null,
                    "module": path, "module_offset": hex(off), "is_signal": false
                }),
                None => serde_json::json!({
                    "ip": hex(rest), "symbol": null, "raw_symbol": null, "offset": null,
                    "module": null, "module_offset": null, "is_signal": false
                }),
            };
        }
        let (name, offset) = match f.rsplit_once("+0x") {
            Some((name, off)) => (name, hex(off)),
            None => (f, 0x10),
        };
        serde_json::json!({
            "ip": ip, "symbol": name, "raw_symbol": name, "offset": offset,
            "module": "/srv/app", "module_offset": 0x1000 + offset, "is_signal": false
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::snapshot;
    use super::*;

    const T0: u64 = 1_795_953_600_000;

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn entry(d: &Diff, tid: u32) -> &ThreadDiff {
        d.threads.iter().find(|t| t.tid == tid).unwrap()
    }

    #[test]
    fn stack_key_by_symbol_module_or_ip() {
        let p = snapshot(
            T0,
            &[(
                1,
                "main",
                0,
                &["poll+0x24", "@/usr/lib/libfoo.so+0x3a0", "@0xdead0", "main"],
            )],
        );
        assert_eq!(
            stack_key(&p.threads()[0]),
            keys(&["poll", "/usr/lib/libfoo.so+0x3a0", "0xdead0", "main"])
        );
    }

    #[test]
    fn unchanged_and_changed_threads() {
        let old = snapshot(
            T0,
            &[
                (1, "main", 100, &["park", "main_loop", "main"]),
                (2, "worker", 0, &["a", "b", "c", "main"]),
            ],
        );
        let new = snapshot(
            T0 + 2000,
            &[
                (1, "main", 100, &["park", "main_loop", "main"]),
                (2, "worker", 0, &["x", "c", "main"]),
            ],
        );
        let d = diff(&old, &new);
        assert_eq!(d.pid, 4242);
        assert_eq!(d.wall_ms, 2000);
        assert_eq!(d.old_taken_at, "2026-11-29T12:00:00.000Z");
        assert_eq!(d.new_taken_at, "2026-11-29T12:00:02.000Z");
        assert_eq!(entry(&d, 1).change, Change::Unchanged);
        assert_eq!(entry(&d, 2).change, Change::Changed { common_outer: 2 });
        // Nothing in common, and one stack a suffix of the other.
        assert_eq!(common_outer(&keys(&["a", "b"]), &keys(&["c", "d"])), 0);
        assert_eq!(common_outer(&keys(&["x", "a", "b"]), &keys(&["a", "b"])), 2);
    }

    #[test]
    fn offsets_only_change_is_unchanged() {
        let old = snapshot(T0, &[(7, "spin", 0, &["hash+0x10", "run+0x80", "main"])]);
        let new = snapshot(
            T0 + 1000,
            &[(7, "spin", 0, &["hash+0x4c", "run+0x80", "main"])],
        );
        assert_ne!(old.threads()[0].frames()[0], new.threads()[0].frames()[0]);
        assert_eq!(diff(&old, &new).threads[0].change, Change::Unchanged);
    }

    #[test]
    fn modules_without_symbols_keyed_by_offset() {
        let old = snapshot(T0, &[(3, "", 0, &["@/lib/libx.so+0x100", "main"])]);
        let same = snapshot(T0 + 1, &[(3, "", 0, &["@/lib/libx.so+0x100", "main"])]);
        let moved = snapshot(T0 + 2, &[(3, "", 0, &["@/lib/libx.so+0x180", "main"])]);
        assert_eq!(diff(&old, &same).threads[0].change, Change::Unchanged);
        assert_eq!(
            diff(&old, &moved).threads[0].change,
            Change::Changed { common_outer: 1 }
        );
        assert_eq!(diff(&old, &same).threads[0].name, None);
    }

    #[test]
    fn new_and_exited_threads_in_order() {
        let old = snapshot(
            T0,
            &[
                (1, "main", 0, &["main"]),
                (2, "gone-a", 0, &["f"]),
                (3, "kept", 0, &["g"]),
                (4, "gone-b", 0, &["h"]),
            ],
        );
        let new = snapshot(
            T0 + 1000,
            &[
                (1, "main", 0, &["main"]),
                (5, "fresh", 0, &["f"]),
                (3, "kept", 0, &["g"]),
            ],
        );
        let d = diff(&old, &new);
        let order: Vec<(u32, &Change)> = d.threads.iter().map(|t| (t.tid, &t.change)).collect();
        assert_eq!(
            order,
            [
                (1, &Change::Unchanged),
                (5, &Change::New),
                (3, &Change::Unchanged),
                (2, &Change::Exited),
                (4, &Change::Exited),
            ]
        );
        assert_eq!(entry(&d, 2).name.as_deref(), Some("gone-a"));
        for tid in [5, 2, 4] {
            assert_eq!(entry(&d, tid).cpu_used, None);
            assert!(!entry(&d, tid).busy);
        }
    }

    #[test]
    fn cpu_used_and_busy() {
        let old = snapshot(
            T0,
            &[
                (1, "spin", 1000, &["work"]),
                (2, "idle", 50, &["park"]),
                (3, "edge", 0, &["park"]),
                (4, "odd", 500, &["park"]),
            ],
        );
        let new = snapshot(
            T0 + 2000,
            &[
                (1, "spin", 2900, &["work"]),
                (2, "idle", 60, &["park"]),
                (3, "edge", 100, &["park"]),
                // A reused tid or a bad file: CPU time never goes backwards.
                (4, "odd", 100, &["park"]),
            ],
        );
        let d = diff(&old, &new);
        assert_eq!(entry(&d, 1).cpu_used, Some(Duration::from_millis(1900)));
        assert!(entry(&d, 1).busy);
        assert_eq!(entry(&d, 2).cpu_used, Some(Duration::from_millis(10)));
        assert!(!entry(&d, 2).busy);
        // Exactly 5% of 2 s.
        assert!(entry(&d, 3).busy);
        assert_eq!(entry(&d, 4).cpu_used, Some(Duration::ZERO));
        assert!(!entry(&d, 4).busy);
    }

    #[test]
    fn serializes_with_kind_tags_and_micros() {
        let old = snapshot(T0, &[(1, "m", 0, &["a", "main"]), (2, "x", 0, &["a"])]);
        let new = snapshot(
            T0 + 1000,
            &[(1, "m", 3, &["b", "main"]), (9, "y", 0, &["a"])],
        );
        let v = serde_json::to_value(diff(&old, &new)).unwrap();
        assert_eq!(v["wall_ms"], 1000);
        assert_eq!(v["threads"][0]["change"]["kind"], "changed");
        assert_eq!(v["threads"][0]["change"]["common_outer"], 1);
        assert_eq!(v["threads"][0]["cpu_used_us"], 3000);
        assert_eq!(v["threads"][1]["change"]["kind"], "new");
        assert!(v["threads"][1]["cpu_used_us"].is_null());
        assert_eq!(v["threads"][2]["change"]["kind"], "exited");
    }

    #[test]
    fn unchanged_run_over_history() {
        let a: &[&str] = &["read", "loop", "main"];
        let b: &[&str] = &["park", "loop", "main"];
        let t = |i: u64| T0 + i * 1500;
        let history = [
            snapshot(t(1), &[(1, "main", 0, a), (2, "w", 0, a)]),
            snapshot(t(2), &[(1, "main", 0, a), (2, "w", 0, a)]),
            snapshot(t(3), &[(1, "main", 0, b), (2, "w", 0, a)]),
            snapshot(t(4), &[(1, "main", 0, b), (3, "late", 0, a)]),
            snapshot(
                t(5),
                &[(1, "main", 0, b), (2, "w", 0, a), (3, "late", 0, b)],
            ),
        ];
        let refs: Vec<&Process> = history.iter().collect();
        assert_eq!(
            unchanged_run(&refs, 1),
            Some((3, Duration::from_millis(t(5) - t(3))))
        );
        // Absent in snapshot 4: the run restarts at 5.
        assert_eq!(unchanged_run(&refs, 2), Some((1, Duration::ZERO)));
        // Changed in the newest.
        assert_eq!(unchanged_run(&refs, 3), Some((1, Duration::ZERO)));
        assert_eq!(unchanged_run(&refs, 99), None);
        assert_eq!(
            unchanged_run(&refs[..3], 2),
            Some((3, Duration::from_millis(3000)))
        );
        assert_eq!(unchanged_run(&[], 1), None);
    }

    #[test]
    fn a_stack_run_grows_step_by_step_and_an_empty_stack_restarts_it() {
        let a: &[&str] = &["read", "loop", "main"];
        let t = |i: u64| T0 + i * 1000;
        let at = |i: u64| std::time::UNIX_EPOCH + Duration::from_millis(t(i));
        let mut run: Option<StackRun> = None;
        for i in 1..=40 {
            let p = snapshot(t(i), &[(1, "main", 0, a)]);
            run = Some(StackRun::next(run.as_ref(), &p.threads()[0], p.taken_at()));
        }
        let run = run.unwrap();
        // Longer than any history kept: the run does not need the old snapshots.
        assert_eq!((run.snapshots, run.since), (40, at(1)));
        assert_eq!(run.duration(at(40)), Duration::from_secs(39));
        let empty = snapshot(t(41), &[(1, "main", 0, &[])]);
        let restarted = StackRun::next(Some(&run), &empty.threads()[0], empty.taken_at());
        let again = StackRun::next(Some(&restarted), &empty.threads()[0], at(42));
        assert_eq!((again.snapshots, again.since), (1, at(42)));
    }
}
