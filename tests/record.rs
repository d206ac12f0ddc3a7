//! `record`: a profile's shares against the truth a fixture measures in itself (tests/fixtures/
//! sampled.c: a busy thread splitting its CPU time between busy_f and busy_g, a sleeper on a
//! CPU about half the time), on a CPU and off it; and the command's file, summary, ends and
//! refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Fixture;
use rstack_tui::profile::{Profile, functions};
use rstack_tui::record::{self, End};
use rstack_tui::{TraceOptions, Tracer};

fn sampled_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = common::fixtures_dir().join("sampled.c");
        let args = ["-O1", "-g", "-pthread"].map(std::ffi::OsStr::new);
        let mut args = args.to_vec();
        args.push(src.as_os_str());
        common::gcc("sampledfixture", &args)
    })
}

/// The fixture's sums: (f_ns, g_ns, on_ns, off_ns, busy_tid, sleeper_tid).
struct Truth {
    f: f64,
    g: f64,
    on: f64,
    off: f64,
    busy: u32,
    sleeper: u32,
    late: f64,
}

fn report(fixture: &mut Fixture) -> Truth {
    fixture.send_line("report");
    let line = fixture.next_line();
    let v: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(v.len(), 7, "report line {line:?}");
    let n = |i: usize| v[i].parse::<f64>().unwrap();
    Truth {
        f: n(0),
        g: n(1),
        on: n(2),
        off: n(3),
        busy: v[4].parse().unwrap(),
        sleeper: v[5].parse().unwrap(),
        late: n(6),
    }
}

fn cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("record-line-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Samples of thread `tid` with `function` anywhere on the stack, and of the thread in all,
/// and of those on a CPU.
fn thread_counts(p: &Profile, tid: u32, function: &str) -> (u64, u64, u64) {
    let with = functions(p, Some(tid))
        .iter()
        .find(|r| r.name == function)
        .map_or(0, |r| r.total_samples);
    let (mut all, mut on) = (0, 0);
    for s in &p.stacks {
        if p.threads[s.thread].tid == tid {
            all += s.samples;
            if s.activity.on_cpu() {
                on += s.samples;
            }
        }
    }
    (with, all, on)
}

/// Snapshots the accuracy test takes, at 50 a second: a debug build's tracer cannot keep 100
/// (it would run without a break, and a CPU-bound sampler on a loaded machine delays the
/// sleeper's wake-ups unseen: its on-CPU share came out 4-5 points low at 100/s with the load
/// average at 10 on 2 cores, 1.4 at 20/s).
const SNAPSHOTS: u64 = 600;

#[test]
fn shares_match_what_the_fixture_measured_within_5_points() {
    let mut fixture = Fixture::spawn_busy(sampled_bin(), &[]);
    // The sampler on the busy thread's CPU (it preempts that nice-19 thread at once), never on
    // the sleeper's.
    pin_to_first_cpu();
    let mut options = TraceOptions::new();
    options.line_cache(Some(cache_dir()));
    let mut tracer = Tracer::new(options);
    // The window: the fixture's report before the first snapshot and after the last.
    let before = report(&mut fixture);
    // Enough samples that chance alone stays well inside 5 points (one share's standard error
    // at 600 samples is about 2 points, less for the sleeper's long phases), however fast this
    // machine snapshots: the progress callback ends the recording through the cancel flag.
    let cancel = AtomicBool::new(false);
    let opts = record::Options {
        rate: 50,
        duration: Some(Duration::from_secs(60)),
    };
    let mut enough = |p: &record::Progress| {
        if p.snapshots >= SNAPSHOTS {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let recording = record::record(&mut tracer, fixture.pid(), opts, &cancel, &mut enough)
        .expect("the recording");
    let after = report(&mut fixture);
    drop(tracer);
    fixture.assert_running();
    assert!(
        matches!(recording.end, End::Cancelled | End::Duration),
        "{:?}",
        recording.end
    );
    let p = &recording.profile;
    // The busy threads were stopped for their captures: some of their time, never more than
    // every snapshot's longest stop added up.
    let bound =
        100.0 * p.longest_stop.as_secs_f64() * p.snapshots as f64 / recording.elapsed.as_secs_f64();
    assert!(
        recording.stopped_share > 0.0 && recording.stopped_share <= bound,
        "stopped {:.3}% of the time, bound {bound:.3}%",
        recording.stopped_share
    );
    assert!(
        p.snapshots >= SNAPSHOTS / 2,
        "only {} snapshots at {:.1}/s",
        p.snapshots,
        recording.rate
    );

    // Busy thread: of its samples in busy_f or busy_g, the share in busy_f, against the CPU
    // time it measured in each. It is always runnable: every sample is on a CPU.
    let (f, all, on) = thread_counts(p, before.busy, "busy_f");
    let (g, _, _) = thread_counts(p, before.busy, "busy_g");
    assert_eq!(on, all, "the busy thread is always on a CPU");
    assert!(
        f + g >= all * 95 / 100,
        "{f} + {g} of {all} samples in busy_f/busy_g"
    );
    let measured = (after.f - before.f) / (after.f - before.f + after.g - before.g);
    let sampled = f as f64 / (f + g) as f64;
    eprintln!(
        "busy_f: sampled {:.1}% of {} samples, measured {:.1}%",
        sampled * 100.0,
        f + g,
        measured * 100.0
    );
    assert!(
        (sampled - measured).abs() <= 0.05,
        "busy_f share: sampled {sampled:.3}, measured {measured:.3}"
    );

    // Sleeper: the share of its samples on a CPU (runnable), and the share off it asleep in
    // sleeper_off's nanosleep, against the time it measured runnable and asleep.
    let (_, all, on) = thread_counts(p, before.sleeper, "sleeper_on");
    let asleep: u64 = p
        .stacks
        .iter()
        .filter(|s| p.threads[s.thread].tid == before.sleeper && !s.activity.on_cpu())
        .filter(|s| {
            s.frames
                .iter()
                .any(|&i| p.frames[i as usize].name() == "sleeper_off")
        })
        .map(|s| s.samples)
        .sum();
    let measured = (after.on - before.on) / (after.on - before.on + after.off - before.off);
    let (sampled, sampled_off) = (on as f64 / all as f64, asleep as f64 / all as f64);
    let late = (after.late - before.late) / (after.on - before.on + after.off - before.off);
    eprintln!(
        "sleeper: on a CPU in {:.1}% of {all} samples, asleep in sleeper_off {:.1}%; measured on {:.1}% (of which woken, waiting for a CPU {:.1}%)",
        sampled * 100.0,
        sampled_off * 100.0,
        measured * 100.0,
        late * 100.0
    );
    assert!(
        (sampled - measured).abs() <= 0.05,
        "sleeper on-CPU share: sampled {sampled:.3}, measured {measured:.3}"
    );
    assert!(
        (sampled_off - (1.0 - measured)).abs() <= 0.05,
        "sleeper off-CPU share: sampled {sampled_off:.3}, measured {:.3}",
        1.0 - measured
    );
    assert_eq!(before.sleeper, after.sleeper);
}

/// Pins the calling thread to the first CPU it may use.
fn pin_to_first_cpu() {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes; pid 0 is the calling thread.
    assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
    // SAFETY: CPU_ISSET reads a bit of the set, in range by the bound.
    let first = (0..libc::CPU_SETSIZE as usize)
        .find(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .unwrap();
    // SAFETY: as above; CPU_ZERO and CPU_SET write bits of the set, `first` in range.
    unsafe {
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
    }
}

fn rstack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(args)
        .env("XDG_CACHE_HOME", cache_dir())
        .output()
        .expect("running rstack-tui")
}

#[test]
fn record_writes_folded_stacks_or_prints_a_summary() {
    let fixture = Fixture::spawn_busy(sampled_bin(), &[]);
    let pid = fixture.pid().to_string();
    // One second at 50 a second, and `more` arguments.
    let record_1s = |more: &[&str]| {
        let mut args = vec!["record", &pid, "--rate", "50", "--duration", "1"];
        args.extend_from_slice(more);
        rstack(&args)
    };
    let file = out_file("out.folded");
    let out = record_1s(&["-o", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ended: the duration passed"), "{stderr}");
    let folded = std::fs::read_to_string(&file).unwrap();
    let busy = format!("busy ({});", common::tid_named(fixture.pid(), "busy"));
    // busy_f's spin (inlined), innermost or in its clock_gettime call: a running thread stops
    // at its next entry into the kernel if that comes before the interrupt that stops it,
    // which on this VM it mostly does (the spin makes a system call every few microseconds).
    assert!(
        folded.lines().any(|l| l.starts_with(&busy)
            && (l.contains(";busy_main;busy_f;spin ")
                || l.contains(";busy_main;busy_f;spin;now;clock_gettime;"))),
        "{folded}"
    );
    assert!(
        folded
            .lines()
            .any(|l| l.starts_with("sleeper (") && l.contains(";sleeper_off;")),
        "{folded}"
    );
    // Every line: a stack and a count; the counts add up to snapshots × threads (3).
    let total: u64 = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total % 3, 0, "{folded}");

    // Without -o: the summary, its tables naming the fixture's functions and threads.
    // Enough rows for busy_f, whatever share its clock_gettime calls take above it.
    let out = record_1s(&["--top", "40"]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("top functions:"), "{summary}");
    let row = summary
        .lines()
        .find(|l| l.ends_with("  busy_f"))
        .unwrap_or_else(|| panic!("{summary}"));
    // self%, total%, on-CPU%: busy_f always runs.
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[2], "100.0", "{row}");
    let sleeper = summary
        .lines()
        .find(|l| l.contains(" sleeper "))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(sleeper.trim_end().ends_with("clock_nanosleep"), "{sleeper}");
    fixture.assert_running();
}

/// A fresh fixture, and `record` of it at `rate` into `name` once it has taken two snapshots.
fn recording(name: &str, rate: &str) -> (Fixture, PathBuf, std::process::Child) {
    let fixture = Fixture::spawn_busy(sampled_bin(), &[]);
    let file = out_file(name);
    let stops = busy_stops(fixture.pid());
    let child = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(["record", &fixture.pid().to_string(), "--rate", rate, "-o"])
        .arg(&file)
        .env("XDG_CACHE_HOME", cache_dir())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("record to take two snapshots", || {
        busy_stops(fixture.pid()) >= stops + 2
    });
    (fixture, file, child)
}

#[test]
fn record_keeps_the_profile_when_the_target_exits_or_a_signal_ends_it() {
    // The target exits: what was recorded is written, and said.
    let (fixture, file, mut child) = recording("exit.folded", "50");
    drop(fixture);
    let out = wait_output(&mut child);
    assert!(out.0.success(), "{}", out.1);
    assert!(out.1.contains("ended: the target exited"), "{}", out.1);
    assert!(std::fs::read_to_string(&file).unwrap().contains("busy ("));

    // SIGTERM: the same, every thread resumed.
    let (fixture, file, mut child) = recording("term.folded", "200");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = wait_output(&mut child);
    assert!(out.0.success(), "{}", out.1);
    assert!(out.1.contains("ended: interrupted"), "{}", out.1);
    assert!(std::fs::read_to_string(&file).unwrap().contains("busy ("));
    fixture.assert_running();
}

/// The busy thread's voluntary context switches: it never blocks, so each is a stop of a
/// snapshot (rolling snapshots stop it once each). Two more than before record started mean
/// its first snapshot is done, so it has samples to keep.
fn busy_stops(pid: u32) -> u64 {
    let busy = common::tid_named(pid, "busy");
    std::fs::read_to_string(format!("/proc/{pid}/task/{busy}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn out_file(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Waits (bounded) for `child` and reads its stderr.
fn wait_output(child: &mut std::process::Child) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap(), err)
}

#[test]
fn record_refuses_bad_input_in_one_line() {
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["record", "1", "--rate", "0"],
            2,
            "rstack-tui: error: --rate must be between 1 and 200 snapshots a second\n",
        ),
        (
            &["record", "1", "--rate", "201"],
            2,
            "rstack-tui: error: --rate must be between 1 and 200 snapshots a second\n",
        ),
        (
            &["record", "1", "--duration", "0"],
            2,
            "rstack-tui: error: --duration must be a number of seconds above 0\n",
        ),
        (
            &["record", "1", "-o", "/tmp/x.bin"],
            2,
            "rstack-tui: error: the format of '/tmp/x.bin' is not told by its extension (.pb.gz, .folded, .speedscope.json): give --format\n",
        ),
        (
            &["record", "999999999", "--duration", "1"],
            4,
            "rstack-tui: error: no process 999999999\n",
        ),
    ];
    for (args, code, message) in cases {
        let out = rstack(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{args:?}");
        assert!(out.stdout.is_empty());
    }
    let out = rstack(&["record", "1", "-o", "/tmp/x", "--format", "svg"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rstack-tui: error: no format 'svg' (pprof, folded or speedscope)\n"
    );
}
