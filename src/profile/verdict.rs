//! Verdicts over time: from a run of snapshots of one process, what each thread has been doing
//! (stuck, spinning, busy or idle), by the thresholds below, and no verdict while the snapshots
//! are too few to tell. Fed one snapshot at a time, so a stuck time outlasts any history kept.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime};

use crate::tracer::diff::StackRun;
use crate::tracer::{Process, Thread};

/// No verdict from fewer snapshots of a thread than this (two intervals)...
pub const MIN_SNAPSHOTS: usize = 3;
/// ...or from snapshots spanning less time: CPU times move in 10 ms ticks, so a shorter span
/// cannot tell 2% from nothing.
pub const MIN_SPAN: Duration = Duration::from_secs(1);
/// The window CPU shares and stacks are judged over: the last this many snapshots...
pub const WINDOW_SNAPSHOTS: usize = 8;
/// ...none older than this, unless fewer than [`MIN_SNAPSHOTS`] would be left (slow refreshes).
pub const WINDOW: Duration = Duration::from_secs(30);
/// "No CPU": at most this share of one core (or one clock tick, whichever is more).
pub const QUIET_CPU: f64 = 0.02;
/// The kernel's CPU time granularity (USER_HZ 100): one tick is never more than "no CPU".
pub const TICK: Duration = Duration::from_millis(10);
/// "Near 100% of one core": spinning and busy threads use at least this share...
pub const SPIN_CPU: f64 = 0.8;
/// ...or, on a loaded machine, at least this share while runnable (R) in every snapshot of
/// the window: it wanted a core all along and got less.
pub const RUNNABLE_CPU: f64 = 0.2;
/// "CPU high" for a busy thread whose stack moves.
pub const BUSY_CPU: f64 = 0.25;
/// Spinning: on at most this many distinct stacks, each seen in MIN_SNAPSHOTS snapshots on
/// average (one stack in 3 snapshots, two in 6, three in 9 or more).
pub const SPIN_STACKS: usize = 3;

/// What a thread has been doing over the window.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// On the same stack with no CPU since `since`, not in an idle wait (or holding a lock
    /// other threads wait for, idle wait or not).
    Stuck {
        since: SystemTime,
        stuck_for: Duration,
    },
    /// Near a full core on the same stack or the same few stacks.
    Spinning { cpu: f64 },
    /// High CPU, its stack moving.
    Busy { cpu: f64 },
    /// No CPU, blocked in a known idle wait (`wait` names it: "epoll_wait", "a condition
    /// variable", ...).
    Idle { wait: &'static str },
    /// Too little evidence yet: so many snapshots of the thread over so long.
    Pending { snapshots: usize, span: Duration },
    /// The evidence fits no verdict: some CPU but not much, or a moving stack without CPU
    /// outside an idle wait.
    Unclear { cpu: f64 },
}

impl Verdict {
    /// The threads pane's cell: "stuck 12m", "spinning", "busy", "idle"; None when there
    /// is no verdict.
    pub fn cell(&self) -> Option<String> {
        Some(match self {
            Verdict::Stuck { stuck_for, .. } => format!("stuck {}", short_duration(*stuck_for)),
            Verdict::Spinning { .. } => "spinning".into(),
            Verdict::Busy { .. } => "busy".into(),
            Verdict::Idle { .. } => "idle".into(),
            Verdict::Pending { .. } | Verdict::Unclear { .. } => return None,
        })
    }

    /// The verdict with its evidence, for `dump`: "spinning, 98% of a core".
    pub fn text(&self) -> String {
        match self {
            Verdict::Stuck { stuck_for, .. } => {
                format!("stuck {}: same stack, no CPU", short_duration(*stuck_for))
            }
            Verdict::Spinning { cpu } => format!("spinning, {} of a core", percent(*cpu)),
            Verdict::Busy { cpu } => format!("busy, {} of a core, stack moving", percent(*cpu)),
            Verdict::Idle { wait } => format!("idle in {wait}"),
            Verdict::Pending { snapshots, span } => format!(
                "no verdict yet: {snapshots} snapshot{} over {:.1} s ({MIN_SNAPSHOTS} over {} s needed)",
                if *snapshots == 1 { "" } else { "s" },
                span.as_secs_f64(),
                MIN_SPAN.as_secs()
            ),
            Verdict::Unclear { cpu } => format!("no verdict: {} of a core", percent(*cpu)),
        }
    }

    /// A verdict was reached (not pending, not unclear).
    pub fn is_verdict(&self) -> bool {
        self.cell().is_some()
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// "45s", "12m", "2h05m": a stuck time in a few columns (minutes and hours rounded down).
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// One snapshot of one thread, as the window keeps it.
#[derive(Debug, Clone)]
struct Sample {
    at: SystemTime,
    cpu: Duration,
    /// The stack's identity ([`StackRun::key`]) hashed: only counted, never shown. None
    /// without frames: where the thread is was not seen.
    stack: Option<u64>,
    runnable: bool,
}

/// What is known of one thread.
#[derive(Debug, Clone)]
struct Track {
    run: StackRun,
    samples: VecDeque<Sample>,
    /// Since when its stack has stayed the same with no CPU in any interval.
    quiet_since: Option<SystemTime>,
    /// How many snapshots that quiet stretch holds (its first included).
    quiet_snapshots: usize,
    /// The idle wait it is blocked in, in the newest snapshot.
    idle: Option<&'static str>,
}

/// Verdicts of one process's threads, fed its snapshots in order.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    threads: HashMap<u32, Track>,
    /// The newest snapshot's thread ids, in its order.
    order: Vec<u32>,
    /// Per thread of the newest snapshot that holds a lock others wait for: the waiters.
    waited_on: HashMap<u32, Vec<u32>>,
    snapshots: usize,
}

impl Tracker {
    /// Verdicts from `snapshots`, oldest first.
    pub fn of<'a>(snapshots: impl IntoIterator<Item = &'a Process>) -> Tracker {
        let mut t = Tracker::default();
        for p in snapshots {
            t.push(p);
        }
        t
    }

    /// Adds the next snapshot (taken after the ones before). Threads gone from it are
    /// forgotten: a reused thread id starts anew.
    pub fn push(&mut self, p: &Process) {
        let at = p.taken_at();
        let mut threads = HashMap::with_capacity(p.threads().len());
        self.order.clear();
        for th in p.threads() {
            if threads.contains_key(&th.id()) {
                continue;
            }
            self.order.push(th.id());
            let old = self.threads.remove(&th.id());
            let run = StackRun::next(old.as_ref().map(|o| &o.run), th, at);
            let sample = Sample {
                at,
                cpu: cpu_time(th),
                stack: (!run.key.is_empty()).then(|| hash_key(&run.key)),
                runnable: th.facts().state == Some('R'),
            };
            let mut track = match old {
                Some(t) => t,
                None => Track {
                    run: run.clone(),
                    samples: VecDeque::new(),
                    quiet_since: None,
                    quiet_snapshots: 0,
                    idle: None,
                },
            };
            let quiet = match track.samples.back() {
                Some(prev) if run.snapshots > 1 => {
                    let interval = at.duration_since(prev.at).unwrap_or_default();
                    let used = sample.cpu.saturating_sub(prev.cpu);
                    (used <= quiet_allowance(interval)).then_some(prev.at)
                }
                _ => None,
            };
            (track.quiet_since, track.quiet_snapshots) = match (quiet, track.quiet_since) {
                (Some(_), Some(since)) => (Some(since), track.quiet_snapshots + 1),
                (Some(prev), None) => (Some(prev), 2),
                (None, _) => (None, 0),
            };
            track.run = run;
            track.idle = idle_wait(th);
            track.samples.push_back(sample);
            while track.samples.len() > WINDOW_SNAPSHOTS
                || (track.samples.len() > MIN_SNAPSHOTS
                    && track
                        .samples
                        .front()
                        .is_some_and(|f| at.duration_since(f.at).unwrap_or_default() > WINDOW))
            {
                track.samples.pop_front();
            }
            threads.insert(th.id(), track);
        }
        self.threads = threads;
        self.waited_on.clear();
        let live: HashSet<u32> = self.order.iter().copied().collect();
        for th in p.threads() {
            if let Some(owner) = th.facts().lock.as_ref().and_then(|l| l.owner)
                && owner != th.id()
                && live.contains(&owner)
            {
                self.waited_on.entry(owner).or_default().push(th.id());
            }
        }
        self.snapshots += 1;
    }

    /// How many snapshots were pushed.
    pub fn snapshots(&self) -> usize {
        self.snapshots
    }

    /// How long thread `tid`'s stack has not changed (the inspector's SAME), as of the
    /// newest snapshot.
    pub fn run(&self, tid: u32) -> Option<&StackRun> {
        self.threads.get(&tid).map(|t| &t.run)
    }

    /// The threads of the newest snapshot that wait for a lock `tid` holds.
    pub fn waiters(&self, tid: u32) -> &[u32] {
        self.waited_on.get(&tid).map_or(&[], Vec::as_slice)
    }

    /// Thread `tid`'s verdict as of the newest snapshot (None: not in it).
    pub fn verdict(&self, tid: u32) -> Option<Verdict> {
        let track = self.threads.get(&tid)?;
        let (first, last) = (track.samples.front()?, track.samples.back()?);
        let n = track.samples.len();
        let span = last.at.duration_since(first.at).unwrap_or_default();
        if n < MIN_SNAPSHOTS || span < MIN_SPAN {
            return Some(Verdict::Pending { snapshots: n, span });
        }
        let now = last.at;
        // The latest evidence first: on one stack with no CPU for long enough is blocked for
        // good (or idle), whatever it did before in the window.
        if let Some(since) = track.quiet_since
            && track.quiet_snapshots >= MIN_SNAPSHOTS
            && now.duration_since(since).unwrap_or_default() >= MIN_SPAN
        {
            return Some(match track.idle {
                Some(wait) if self.waiters(tid).is_empty() => Verdict::Idle { wait },
                _ => Verdict::Stuck {
                    since,
                    stuck_for: now.duration_since(since).unwrap_or_default(),
                },
            });
        }
        let used = last.cpu.saturating_sub(first.cpu);
        let cpu = used.as_secs_f64() / span.as_secs_f64();
        let stacks: HashSet<Option<u64>> = track.samples.iter().map(|s| s.stack).collect();
        let few =
            !stacks.contains(&None) && stacks.len() <= (n / MIN_SNAPSHOTS).clamp(1, SPIN_STACKS);
        let wants_core = track.samples.iter().all(|s| s.runnable) && cpu >= RUNNABLE_CPU;
        if few && (cpu >= SPIN_CPU || wants_core) {
            return Some(Verdict::Spinning { cpu });
        }
        if cpu >= BUSY_CPU || wants_core {
            return Some(Verdict::Busy { cpu });
        }
        match track.idle {
            Some(wait) if used <= quiet_allowance(span) && self.waiters(tid).is_empty() => {
                Some(Verdict::Idle { wait })
            }
            _ => Some(Verdict::Unclear { cpu }),
        }
    }

    /// Every thread of the newest snapshot with its verdict, in the snapshot's order.
    pub fn verdicts(&self) -> Vec<(u32, Verdict)> {
        self.order
            .iter()
            .filter_map(|&tid| Some((tid, self.verdict(tid)?)))
            .collect()
    }
}

/// The most CPU an interval may show and still count as none.
fn quiet_allowance(interval: Duration) -> Duration {
    interval.mul_f64(QUIET_CPU).max(TICK)
}

fn cpu_time(t: &Thread) -> Duration {
    t.facts().user_time + t.facts().system_time
}

fn hash_key(key: &[String]) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Functions a thread waits in, innermost first decides: a lock's wait is not idle, a
/// condition variable's, a semaphore's, a park or a join is.
const LOCK_WAITS: &[&str] = &[
    "pthread_mutex_lock",
    "pthread_mutex_timedlock",
    "pthread_mutex_clocklock",
    "__lll_lock_wait",
    "pthread_rwlock_",
    "lock_contended",
    "lock_slow",
    "take_gil",
];
const IDLE_WAITS: &[(&str, &str)] = &[
    ("pthread_cond_", "a condition variable"),
    ("Condvar::wait", "a condition variable"),
    ("condition_variable::wait", "a condition variable"),
    ("sem_wait", "a semaphore"),
    ("sem_timedwait", "a semaphore"),
    ("sem_clockwait", "a semaphore"),
    ("thread::park", "a park"),
    ("pthread_join", "a join"),
    ("pthread_clockjoin", "a join"),
    ("pthread_timedjoin", "a join"),
    ("JoinInner", "a join"),
    ("runtime.notesleep", "the Go scheduler"),
    ("runtime.futexsleep", "the Go scheduler"),
];

/// The known idle wait thread `t` is blocked in, if any: waiting for events, connections,
/// input on a socket or a terminal, a timer, a signal, a child, or (a futex) a condition variable, a
/// semaphore, a park or a join. A futex wait on a mutex with an owner never is.
pub fn idle_wait(t: &Thread) -> Option<&'static str> {
    let f = t.facts();
    let name = f.syscall.as_ref()?.name()?;
    match name {
        "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => Some("epoll_wait"),
        "poll" | "ppoll" | "select" | "pselect6" => Some("poll"),
        "accept" | "accept4" => Some("accept"),
        "nanosleep" | "clock_nanosleep" => Some("a sleep"),
        "pause" | "rt_sigsuspend" | "rt_sigtimedwait" => Some("a signal wait"),
        "wait4" | "waitid" => Some("a child wait"),
        "read" | "readv" | "recvfrom" | "recvmsg" | "recvmmsg" => {
            // Waiting for a peer or a user; a pipe or a file may be a hang.
            let w = f.wait.as_deref()?;
            if w.contains("→ socket:[") {
                Some("a socket read")
            } else if w.contains("→ /dev/pts/") || w.contains("→ /dev/tty") {
                Some("a terminal read")
            } else {
                None
            }
        }
        "futex" if f.lock.as_ref().is_none_or(|l| l.owner.is_none()) => {
            for fr in t.frames() {
                let Some(sym) = fr.symbol().map(|s| s.name()) else {
                    continue;
                };
                if LOCK_WAITS.iter().any(|w| sym.contains(w)) {
                    return None;
                }
                if let Some((_, what)) = IDLE_WAITS.iter().find(|(w, _)| sym.contains(w)) {
                    return Some(what);
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, LOCKED, READ, SPIN, T, T0, snapshot};
    use super::*;

    const COND: &[&str] = &[
        "__futex_abstimed_wait",
        "pthread_cond_wait",
        "idler",
        "start_thread",
    ];

    /// A thread named "t": the verdicts go by tid.
    fn t<'a>(tid: u32, cpu_ms: u64, sc: Option<i64>, frames: &'a [&'a str]) -> T<'a> {
        fixture::t(tid, "t", cpu_ms, sc, frames)
    }

    /// Verdicts after snapshots every 500 ms, `threads(i)` the i-th.
    fn run(n: u64, threads: impl Fn(u64) -> Vec<T<'static>>) -> Tracker {
        let snaps: Vec<Process> = (0..n)
            .map(|i| snapshot(T0 + i * 500, &threads(i), &[]))
            .collect();
        Tracker::of(&snaps)
    }

    #[test]
    fn no_verdict_until_three_snapshots_over_a_second() {
        let threads = |i: u64| vec![t(1, i * 500, None, SPIN), t(2, 0, Some(0), READ)];
        let two = run(2, threads);
        assert_eq!(
            two.verdict(1),
            Some(Verdict::Pending {
                snapshots: 2,
                span: Duration::from_millis(500)
            })
        );
        assert_eq!(
            two.verdict(1).unwrap().text(),
            "no verdict yet: 2 snapshots over 0.5 s (3 over 1 s needed)"
        );
        // Three snapshots 500 ms apart span exactly the second needed.
        let three = run(3, threads);
        assert_eq!(
            three.verdict(1).and_then(|v| v.cell()).as_deref(),
            Some("spinning")
        );
        assert_eq!(
            three.verdict(2).and_then(|v| v.cell()).as_deref(),
            Some("stuck 1s")
        );
        assert_eq!(three.verdict(9), None);
        // Three snapshots over less than a second are not enough.
        let quick: Vec<Process> = (0..3)
            .map(|i| snapshot(T0 + i * 100, &[t(2, 0, Some(0), READ)], &[]))
            .collect();
        assert!(matches!(
            Tracker::of(&quick).verdict(2),
            Some(Verdict::Pending { snapshots: 3, .. })
        ));
    }

    #[test]
    fn spinning_busy_idle_stuck_and_unclear() {
        let moving: [&'static [&'static str]; 4] = [
            &["hash", "work", "start_thread"],
            &["parse", "work", "start_thread"],
            &["alloc", "parse", "work", "start_thread"],
            &["write_out", "work", "start_thread"],
        ];
        let tr = run(5, |i| {
            vec![
                // 490 ms of each 500: spinning on one stack.
                t(1, i * 490, None, SPIN),
                // 400 ms of each 500 on a new stack each time: busy.
                t(2, i * 400, None, moving[i as usize % 4]),
                // In pthread_cond_wait, no CPU: idle.
                t(3, 7, Some(202), COND),
                // Blocked in read on a pipe (not a socket), no CPU: stuck.
                t(4, 3, Some(0), READ),
                // 50 ms of each 500 and moving: no verdict.
                t(5, i * 50, Some(0), moving[i as usize % 4]),
            ]
        });
        let v: Vec<String> = tr.verdicts().iter().map(|(_, v)| v.text()).collect();
        assert_eq!(
            v,
            [
                "spinning, 98% of a core",
                "busy, 80% of a core, stack moving",
                "idle in a condition variable",
                "stuck 2s: same stack, no CPU",
                "no verdict: 10% of a core",
            ]
        );
    }

    #[test]
    fn one_tick_is_no_cpu_and_a_stack_change_restarts_stuck() {
        let tr = run(7, |i| {
            vec![
                // A tick now and then (the kernel's accounting granularity): still no CPU.
                t(1, i / 2 * 10, Some(0), READ),
                // Moved once, at snapshot 4: stuck since then only.
                t(2, 0, Some(0), if i < 4 { LOCKED } else { READ }),
            ]
        });
        assert_eq!(tr.verdict(1).unwrap().cell().as_deref(), Some("stuck 3s"));
        assert_eq!(
            tr.verdict(2),
            Some(Verdict::Stuck {
                since: std::time::UNIX_EPOCH + Duration::from_millis(T0 + 2000),
                stuck_for: Duration::from_millis(1000)
            })
        );
        // Ten ticks in one interval is CPU: the quiet run restarts after it.
        let tr = run(6, |i| {
            vec![t(1, if i >= 3 { 100 } else { 0 }, Some(0), READ)]
        });
        assert_eq!(tr.verdict(1).unwrap().cell().as_deref(), Some("stuck 1s"));
    }

    #[test]
    fn a_loaded_spinner_that_wanted_a_core_still_spins() {
        // 110 ms of each 500 (22%), runnable in every snapshot: spinning.
        let tr = run(4, |i| vec![t(1, i * 110, None, SPIN)]);
        assert_eq!(tr.verdict(1).unwrap().text(), "spinning, 22% of a core");
        // The same share while sleeping between: no verdict.
        let tr = run(4, |i| {
            let mut th = t(1, i * 110, None, SPIN);
            th.state = 'S';
            vec![th]
        });
        assert_eq!(tr.verdict(1).unwrap().cell(), None);
    }

    #[test]
    fn a_few_stacks_spin_many_are_busy() {
        let two: [&'static [&'static str]; 2] = [SPIN, &["cmpxchg", "spinner", "start_thread"]];
        // Two stacks over six snapshots: spinning; over three: busy.
        let six = run(6, |i| vec![t(1, i * 500, None, two[i as usize % 2])]);
        assert_eq!(six.verdict(1).unwrap().cell().as_deref(), Some("spinning"));
        let three = run(3, |i| vec![t(1, i * 500, None, two[i as usize % 2])]);
        assert_eq!(three.verdict(1).unwrap().cell().as_deref(), Some("busy"));
        // No stack (a process read from /proc only): busy, never spinning.
        let blind = run(6, |i| vec![t(1, i * 500, None, &[])]);
        assert_eq!(blind.verdict(1).unwrap().cell().as_deref(), Some("busy"));
    }

    #[test]
    fn a_holder_others_wait_for_is_stuck_even_in_an_idle_wait() {
        let sleep: &'static [&'static str] = &["clock_nanosleep", "holder", "start_thread"];
        let tr = run(4, |_| {
            let mut waiter = t(2, 0, Some(202), LOCKED);
            waiter.owner = Some(1);
            vec![t(1, 0, Some(230), sleep), waiter, t(3, 0, Some(230), sleep)]
        });
        assert_eq!(tr.waiters(1), [2]);
        assert_eq!(tr.verdict(1).unwrap().cell().as_deref(), Some("stuck 1s"));
        // The waiter's futex is a mutex's: not idle though its owner's frames may say so.
        assert_eq!(tr.verdict(2).unwrap().cell().as_deref(), Some("stuck 1s"));
        // Nobody waits for thread 3.
        assert_eq!(tr.verdict(3).unwrap().text(), "idle in a sleep");
    }

    #[test]
    fn a_verdict_outlasts_the_window_and_a_reused_tid_starts_anew() {
        // Ten minutes of snapshots every 30 s: the window keeps a few, the stuck time all.
        let snaps: Vec<Process> = (0..21)
            .map(|i| snapshot(T0 + i * 30_000, &[t(1, 0, Some(0), READ)], &[]))
            .collect();
        let mut tr = Tracker::of(&snaps);
        assert_eq!(tr.verdict(1).unwrap().cell().as_deref(), Some("stuck 10m"));
        assert_eq!(tr.threads[&1].samples.len(), MIN_SNAPSHOTS);
        assert_eq!(tr.run(1).map(|r| r.snapshots), Some(21));
        tr.push(&snapshot(T0 + 631_000, &[t(2, 0, Some(0), READ)], &[]));
        tr.push(&snapshot(T0 + 632_000, &[t(1, 0, Some(0), READ)], &[]));
        assert!(matches!(
            tr.verdict(1),
            Some(Verdict::Pending { snapshots: 1, .. })
        ));
        assert_eq!(tr.snapshots(), 23);
    }

    #[test]
    fn idle_waits_known_by_call_and_frames() {
        let p = snapshot(
            T0,
            &[
                t(1, 0, Some(232), &["epoll_wait", "main"]),
                t(2, 0, Some(202), COND),
                t(3, 0, Some(202), LOCKED),
                // A condition variable re-taking its mutex: a lock wait.
                t(
                    4,
                    0,
                    Some(202),
                    &["__lll_lock_wait", "pthread_cond_wait", "w"],
                ),
                t(5, 0, Some(202), &["futex_wait", "std::thread::park", "w"]),
                t(6, 0, Some(202), &["futex_wait", "unknown_lock", "w"]),
                t(7, 0, Some(0), READ),
                t(8, 0, None, SPIN),
                T {
                    wait: Some("read(fd 4 → socket:[12345])"),
                    ..t(9, 0, Some(0), READ)
                },
                T {
                    wait: Some("read(fd 0 → /dev/pts/3)"),
                    ..t(10, 0, Some(0), READ)
                },
                T {
                    wait: Some("read(fd 5 → pipe:[777])"),
                    ..t(11, 0, Some(0), READ)
                },
            ],
            &[],
        );
        let idle: Vec<Option<&str>> = p.threads().iter().map(idle_wait).collect();
        assert_eq!(
            idle,
            [
                Some("epoll_wait"),
                Some("a condition variable"),
                None,
                None,
                Some("a park"),
                None,
                None,
                None,
                Some("a socket read"),
                Some("a terminal read"),
                None
            ]
        );
    }

    #[test]
    fn short_durations() {
        let d = |s| short_duration(Duration::from_secs(s));
        assert_eq!(
            [d(0), d(59), d(60), d(725), d(3599)],
            ["0s", "59s", "1m", "12m", "59m"]
        );
        assert_eq!(d(7500), "2h05m");
    }
}
