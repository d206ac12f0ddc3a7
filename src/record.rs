//! `record`: snapshots of one process taken at a steady rate by one tracer (so blocked threads
//! that have not run cost no unwind) and added to a profile, until a duration, a cancel or the
//! target's exit; and the text summary printed when no file is asked for.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::profile::{Profile, functions};
use crate::tracer::{Error, Tracer};

/// The rates `record` takes, in snapshots a second.
pub const RATES: std::ops::RangeInclusive<u32> = 1..=200;

/// What to record.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Snapshots a second (within [`RATES`]).
    pub rate: u32,
    /// When to stop; None records until cancelled or the target exits.
    pub duration: Option<Duration>,
}

/// Why a recording ended.
#[derive(Debug)]
pub enum End {
    /// The duration asked for passed.
    Duration,
    /// The cancel flag was set (a signal).
    Cancelled,
    /// The target exited (or became a zombie) after the first snapshot.
    TargetExited,
    /// A snapshot failed for another reason after the first one; the samples before it stand.
    Failed(Error),
}

/// Where a recording stands, for its progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub snapshots: u64,
    /// Snapshots a second so far.
    pub rate: f64,
    /// The target's longest stop so far.
    pub longest_stop: Duration,
    /// The largest share of the elapsed time one thread spent stopped, in percent.
    pub stopped_share: f64,
}

/// A finished recording: the profile and how it went.
#[derive(Debug)]
pub struct Recording {
    pub profile: Profile,
    pub end: End,
    /// From the first snapshot's end to the last one's.
    pub elapsed: Duration,
    /// Snapshots a second achieved after the first.
    pub rate: f64,
    /// Thread samples whose stack the tracer carried over from the previous snapshot
    /// (blocked, not run since), and the thread samples, of the snapshots after the first.
    pub reused: u64,
    pub thread_samples: u64,
    /// The first snapshot's wall time (it loads the symbol tables).
    pub first_snapshot: Duration,
    /// The longest of the others.
    pub slowest_snapshot: Duration,
    /// The largest share of the elapsed time one thread spent stopped, in percent (the
    /// snapshots after the first).
    pub stopped_share: f64,
}

/// Records `pid` with `tracer` until `opts.duration` passes, `cancel` is set or the target
/// exits; `progress` is called after each snapshot. The first snapshot's failure is the
/// error (nothing was recorded); a later one ends the recording with what it has.
pub fn record(
    tracer: &mut Tracer,
    pid: u32,
    opts: Options,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Recording, Error> {
    let period = Duration::from_secs(1) / opts.rate.clamp(*RATES.start(), *RATES.end());
    // The first snapshot loads the symbol tables (often most of a second): the clock, the
    // duration and the rate start at its end, and it counts as a sample.
    let first = tracer.trace(pid)?;
    let mut profile = Profile::new(pid, first.command(), period);
    let mut stats = Stats {
        first: first.elapsed(),
        ..Stats::default()
    };
    profile.add(&first);
    drop(first);
    let start = Instant::now();
    let mut next = start + period;
    let end = loop {
        let now = Instant::now();
        progress(&Progress {
            elapsed: now - start,
            snapshots: profile.snapshots,
            rate: rate(profile.snapshots - 1, now - start),
            longest_stop: profile.longest_stop,
            stopped_share: stats.stopped_share(now - start),
        });
        if opts.duration.is_some_and(|d| now - start >= d) {
            break End::Duration;
        }
        // A snapshot longer than the period makes the next start at once: the rate falls
        // rather than snapshots piling up.
        if now >= next {
            next = now;
        }
        if !sleep_until(next, opts.duration.map(|d| start + d), cancel) {
            break if cancel.load(Ordering::Relaxed) {
                End::Cancelled
            } else {
                End::Duration
            };
        }
        next += period;
        match tracer.trace(pid) {
            Ok(p) => stats.add(&p, &mut profile),
            Err(Error::Cancelled { .. }) => break End::Cancelled,
            Err(
                Error::NoSuchProcess { .. } | Error::ProcessExited { .. } | Error::Zombie { .. },
            ) => break End::TargetExited,
            // Gone between our look at /proc and the stops: the error says only what failed.
            Err(_) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => {
                break End::TargetExited;
            }
            Err(e) => break End::Failed(e),
        }
    };
    let elapsed = stats.last_end.map_or(Duration::ZERO, |t| t - start);
    Ok(Recording {
        rate: rate(profile.snapshots - 1, elapsed),
        profile,
        end,
        elapsed,
        reused: stats.reused,
        thread_samples: stats.thread_samples,
        first_snapshot: stats.first,
        slowest_snapshot: stats.slowest,
        stopped_share: stats.stopped_share(elapsed),
    })
}

#[derive(Default)]
struct Stats {
    first: Duration,
    reused: u64,
    thread_samples: u64,
    slowest: Duration,
    last_end: Option<Instant>,
    /// Each thread's stops added up: what sampling cost it.
    stopped: std::collections::HashMap<u32, Duration>,
}

impl Stats {
    fn add(&mut self, p: &crate::tracer::Process, profile: &mut Profile) {
        self.reused += p.timings().reused as u64;
        self.thread_samples += p.threads().len() as u64;
        self.slowest = self.slowest.max(p.elapsed());
        self.last_end = Some(Instant::now());
        for t in p.threads().iter().filter(|t| !t.stopped_for().is_zero()) {
            *self.stopped.entry(t.id()).or_default() += t.stopped_for();
        }
        profile.add(p);
    }

    fn stopped_share(&self, elapsed: Duration) -> f64 {
        let most = self.stopped.values().max().copied().unwrap_or_default();
        if elapsed.is_zero() {
            0.0
        } else {
            100.0 * most.as_secs_f64() / elapsed.as_secs_f64()
        }
    }
}

fn rate(snapshots: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        snapshots as f64 / elapsed.as_secs_f64()
    }
}

/// Sleeps until `at` in short naps, so a signal's cancel is seen within 20 ms; false when
/// cancelled, or when `deadline` comes first.
fn sleep_until(at: Instant, deadline: Option<Instant>, cancel: &AtomicBool) -> bool {
    loop {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= at && now >= d) {
            return false;
        }
        if now >= at {
            return true;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(20)));
    }
}

/// The progress line: "recording 12.3 s, 245 snapshots at 19.9/s, longest stop 0.06 ms, a
/// thread stopped 0.12% of the time at most".
pub fn progress_line(p: &Progress) -> String {
    format!(
        "recording {:.1} s, {} snapshots at {:.1}/s, longest stop {:.2} ms, a thread stopped {:.2}% of the time at most",
        p.elapsed.as_secs_f64(),
        p.snapshots,
        p.rate,
        p.longest_stop.as_secs_f64() * 1000.0,
        p.stopped_share,
    )
}

/// How the recording ended, in one line ("5.0 s, 100 snapshots at 20.0/s (20 asked); ...").
pub fn end_line(r: &Recording, asked: u32) -> String {
    let why = match &r.end {
        End::Duration => "the duration passed".to_string(),
        End::Cancelled => "interrupted".to_string(),
        End::TargetExited => "the target exited".to_string(),
        End::Failed(e) => format!("a snapshot failed: {}", crate::text::error_line(e)),
    };
    let share = |n: u64| {
        if r.thread_samples == 0 {
            0.0
        } else {
            100.0 * n as f64 / r.thread_samples as f64
        }
    };
    format!(
        "recorded {:.1} s, {} snapshots at {:.1}/s ({asked} asked), ended: {why}; longest stop {:.2} ms, a thread stopped {:.2}% of the time at most, first snapshot {:.1} ms, slowest after it {:.1} ms, {:.0}% of thread samples reused unchanged stacks",
        r.elapsed.as_secs_f64(),
        r.profile.snapshots,
        r.rate,
        r.profile.longest_stop.as_secs_f64() * 1000.0,
        r.stopped_share,
        r.first_snapshot.as_secs_f64() * 1000.0,
        r.slowest_snapshot.as_secs_f64() * 1000.0,
        share(r.reused),
    )
}

/// The text summary: the top `top` functions of the whole process (self %, total % and the
/// share of its samples on a CPU), then per thread its samples on and off a CPU, and the
/// system call it waited in most.
pub fn summary_text(p: &Profile, top: usize) -> String {
    let all = p.samples();
    let pct = |n: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            100.0 * n as f64 / of as f64
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "process {} ({}): {} snapshots, {} thread samples, {:.1}% on a CPU{}",
        p.pid,
        p.command,
        p.snapshots,
        all,
        pct(p.on_cpu_samples(), all),
        if p.dropped > 0 {
            format!(", {} dropped (bounds reached)", p.dropped)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "\ntop functions:");
    let _ = writeln!(
        out,
        "{:>7} {:>7} {:>7}  function",
        "self%", "total%", "on-CPU%"
    );
    for row in functions(p, None).iter().take(top) {
        let _ = writeln!(
            out,
            "{:>7.1} {:>7.1} {:>7.1}  {}",
            pct(row.self_samples, all),
            pct(row.total_samples, all),
            pct(row.total_on_cpu, row.total_samples),
            row.name
        );
    }
    let _ = writeln!(out, "\nthreads:");
    let _ = writeln!(
        out,
        "{:>8} {:>8} {:>7} {:>8}  {:<16} waits most in",
        "tid", "samples", "on-CPU%", "off-CPU%", "name"
    );
    for (i, t) in p.threads.iter().enumerate() {
        let mut on = 0;
        let mut waits: std::collections::BTreeMap<&str, u64> = Default::default();
        for s in p.stacks.iter().filter(|s| s.thread == i) {
            match s.activity {
                crate::profile::Activity::OnCpu => on += s.samples,
                crate::profile::Activity::OffCpu { syscall, .. } => {
                    *waits.entry(syscall.unwrap_or("-")).or_default() += s.samples
                }
            }
        }
        let counted: u64 = on + waits.values().sum::<u64>();
        let wait = waits
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .map_or("", |(name, _)| name);
        let _ = writeln!(
            out,
            "{:>8} {:>8} {:>7.1} {:>8.1}  {:<16} {}",
            t.tid,
            t.samples,
            pct(on, counted),
            pct(counted - on, counted),
            t.name,
            wait
        );
    }
    out
}
