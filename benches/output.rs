//! Benchmark of `dump`'s output (the "JSON and text for 1000 threads"), std only:
//! `cargo bench --bench output`. Prints a markdown table of median and p95 wall time, and
//! median CPU time, per output.
//!
//! Two synthetic processes of 1002 threads: "parked", shaped like the bench fixture
//! (`fixture.c 1000 20`: 1000 workers parked in one 24-frame stack with inlined frames and
//! lines, a main thread and a running one), and "distinct", where no two stacks are equal
//! (the worst case for sharing written stacks). Environment: `OUTPUT_BENCH_ITERS` (default
//! 200), `OUTPUT_BENCH_FILTER` (only the rows whose "stacks output" holds it).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rstack_tui::Process;
use rstack_tui::dump;
use rstack_tui::tracer::schema::{FrameDoc, LockDoc, SnapshotDoc, SyscallDoc, ThreadDoc};

const WORKERS: u32 = 1000;
const WARMUP: usize = 5;
const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
const EXE: &str = "/tmp/benchfix";

fn frame(
    ip: u64,
    symbol: &str,
    offset: u64,
    module: &str,
    line: Option<(&str, u32)>,
) -> FrameDoc<'static> {
    FrameDoc {
        ip,
        symbol: Some(symbol.to_owned().into()),
        raw_symbol: Some(symbol.to_owned().into()),
        offset: Some(offset),
        module: Some(module.to_owned().into()),
        module_offset: Some(ip & 0xf_ffff),
        is_signal: false,
        file: line.map(|(f, _)| f.to_owned().into()),
        line: line.map(|(_, l)| l),
        inlined: false,
        frameless: false,
        kind: None,
    }
}

/// A worker's stack as the fixture parks it: futex wait (two inlined levels), then a
/// recursion `fixture_level_{a,b,c}` down to the thread's start. `salt` moves every address
/// (0: the stack all workers share).
fn worker_stack(salt: u64) -> Vec<FrameDoc<'static>> {
    let libc = 0x7fb2_6940_0000 + salt * 0x1000;
    let exe = 0x55af_5dc9_0000 + salt * 0x1000;
    let mut frames = vec![
        FrameDoc {
            inlined: true,
            ..frame(
                libc + 0xb5f16,
                "__futex_abstimed_wait_common64",
                0,
                LIBC,
                Some(("./nptl/futex-internal.c", 57)),
            )
        },
        frame(
            libc + 0xb5f16,
            "__futex_abstimed_wait_common",
            0xc6,
            LIBC,
            Some(("./nptl/futex-internal.c", 87)),
        ),
        FrameDoc {
            inlined: true,
            ..frame(
                libc + 0xb85d8,
                "__pthread_cond_wait_common",
                0,
                LIBC,
                Some(("./nptl/pthread_cond_wait.c", 503)),
            )
        },
        frame(
            libc + 0xb85d8,
            "pthread_cond_wait",
            0x1e8,
            LIBC,
            Some(("./nptl/pthread_cond_wait.c", 618)),
        ),
        frame(
            exe + 0xf5db,
            "fixture_park",
            0x3b,
            EXE,
            Some(("/work/shared/bench/fixture.c", 119)),
        ),
    ];
    for k in 0..17 {
        let (name, ip, line) = [
            ("fixture_level_b", 0xfae0, 100),
            ("fixture_level_a", 0xfb20, 93),
            ("fixture_level_c", 0xfaa0, 107),
        ][k % 3];
        frames.push(frame(
            exe + ip,
            name,
            0x30,
            EXE,
            Some(("/work/shared/bench/fixture.c", line)),
        ));
    }
    frames.push(frame(
        libc + 0x8b1c4,
        "start_thread",
        0x2f4,
        LIBC,
        Some(("./nptl/pthread_create.c", 447)),
    ));
    frames.push(frame(libc + 0x10c85c, "__clone3", 0x2c, LIBC, None));
    frames
}

fn thread(tid: u32, name: &str, frames: Vec<FrameDoc<'static>>) -> ThreadDoc<'static> {
    ThreadDoc {
        tid,
        name: Some(name.to_owned().into()),
        state: Some("S".into()),
        wchan: None,
        syscall: Some(SyscallDoc {
            number: 202,
            name: Some("futex".into()),
            args: [0x55af_5dca_21e8, 393, 0, 0, 0, 0xffff_ffff],
        }),
        user_time_ms: 0,
        system_time_ms: 0,
        stopped_us: 0,
        truncated: false,
        error: None,
        end_note: None,
        frames: frames.into_iter().collect(),
        wait: Some("futex_wait_bitset(0x55af5dca21e8)".into()),
        kernel_stack: Default::default(),
        lock: Some(LockDoc {
            address: 0x55af_5dca_21e8,
            owner: None,
            note: Some("not a glibc mutex (a condition variable, a Rust or other lock)".into()),
        }),
        end: None,
        state_before: None,
        leaving: None,
        python: None,
        chain: None,
    }
}

/// 1002 threads: main, 1000 workers (all in one stack unless `distinct`), a running one.
fn process(distinct: bool) -> Process {
    let mut threads = vec![thread(
        100,
        "benchfix",
        vec![
            frame(
                0x7fb2_6950_3df2,
                "pause",
                0x32,
                LIBC,
                Some(("./posix/pause.c", 29)),
            ),
            frame(
                0x55af_5dc9_f47d,
                "main",
                0x22d,
                EXE,
                Some(("/work/shared/bench/fixture.c", 313)),
            ),
            frame(0x55af_5dc9_f4d1, "_start", 0x21, EXE, None),
        ],
    )];
    for i in 0..WORKERS {
        let salt = if distinct { u64::from(i) + 1 } else { 0 };
        threads.push(thread(101 + i, &format!("worker-{i}"), worker_stack(salt)));
    }
    let mut running = thread(
        101 + WORKERS,
        "spinner",
        vec![frame(
            0x55af_5dc9_f700,
            "fixture_spin",
            0x12,
            EXE,
            Some(("/work/shared/bench/fixture.c", 140)),
        )],
    );
    running.state = Some("R".into());
    running.syscall = None;
    running.wait = None;
    running.lock = None;
    running.stopped_us = 30;
    threads.push(running);
    SnapshotDoc {
        version: 1,
        pid: 100,
        command: "/tmp/benchfix 1000 20".into(),
        taken_at: "".into(),
        taken_at_unix_ms: 1_795_953_600_000,
        mode: "rolling".into(),
        elapsed_us: 60_000,
        longest_stop_us: 30,
        threads,
        deadlocks: Default::default(),
        missing_debuginfo: Default::default(),
        goroutines: Vec::new(),
        goroutines_note: None,
        wait_cycles: Vec::new(),
    }
    .to_process()
}

struct Stats {
    median: Duration,
    p95: Duration,
    cpu_median: Duration,
    n: usize,
}

/// This thread's CPU time: on a shared machine, what the output costs apart from waiting for
/// a core.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn time(iters: usize, mut f: impl FnMut() -> String) -> (Stats, usize) {
    let mut bytes = 0;
    for _ in 0..WARMUP {
        bytes = black_box(f()).len();
    }
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..iters)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_time());
            let out = f();
            let e = (t.elapsed(), cpu_time() - c);
            drop(black_box(out));
            e
        })
        .unzip();
    wall.sort_unstable();
    cpu.sort_unstable();
    let n = wall.len();
    let stats = Stats {
        median: wall[n / 2],
        p95: wall[(n * 95 / 100).min(n - 1)],
        cpu_median: cpu[n / 2],
        n,
    };
    (stats, bytes)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: keep that quick.
    let iters = if std::env::args().any(|a| a == "--bench") {
        std::env::var("OUTPUT_BENCH_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(200)
    } else {
        3
    };
    let filter = std::env::var("OUTPUT_BENCH_FILTER").unwrap_or_default();
    println!("| stacks | output | median | p95 | CPU median | bytes | n |");
    println!("|---|---|---|---|---|---|---|");
    for (label, distinct) in [("parked", false), ("distinct", true)] {
        let p = process(distinct);
        assert_eq!(p.threads().len(), WORKERS as usize + 2);
        let outputs: [(&str, &dyn Fn() -> String); 3] = [
            ("json", &|| dump::to_json(&p, false)),
            ("json --pretty", &|| dump::to_json(&p, true)),
            ("text", &|| dump::to_text(&p)),
        ];
        for (what, f) in outputs {
            if !filter.is_empty() && !format!("{label} {what}").contains(&filter) {
                continue;
            }
            let (s, bytes) = time(iters, f);
            println!(
                "| {label} | {what} | {} | {} | {} | {bytes} | {} |",
                ms(s.median),
                ms(s.p95),
                ms(s.cpu_median),
                s.n
            );
        }
    }
}
