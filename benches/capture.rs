//! The tracer's per-thread cost on a real process: `cargo bench --bench capture`.
//!
//! Builds tests/fixtures/parked.c (THREADS workers parked 20 frames deep, one spinning thread)
//! with gcc, starts it, and traces it RUNS times: with a fresh `Tracer` each time (what `dump`
//! pays) and with one kept `Tracer` (an inspector's refresh). Prints the median per thread of
//! each phase (capture, unwind, symbolize, waits, JSON and text output), and the trace's wall
//! and CPU time, as a markdown table.
//! Source lines come from a line cache in the target directory, warm after the first trace.
//!
//! Environment: `CAPTURE_BENCH_THREADS` (default `100,1000`), `CAPTURE_BENCH_RUNS` (default 15).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rstack_tui::{TraceOptions, Tracer, dump};

const DEPTH: &str = "20";
const PARK_TIMEOUT: Duration = Duration::from_secs(30);

/// The fixture, killed and reaped however the bench ends.
struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn build_fixture() -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parked.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("parked");
    let status = Command::new("gcc")
        .args(["-O2", "-g", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("running gcc");
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}

/// Starts the fixture and waits for its "ready" line, then until every worker sleeps in the
/// kernel (only the spinner runs), so every trace sees the same stacks.
fn start(bin: &PathBuf, threads: usize) -> Target {
    let mut child = Command::new(bin)
        .args([&threads.to_string(), DEPTH])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the fixture");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("fixture stdout");
    let target = Target(child);
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading the fixture");
    assert_eq!(line.trim(), "ready", "the fixture did not start");
    let pid = target.0.id();
    let deadline = Instant::now() + PARK_TIMEOUT;
    while sleeping(pid) < threads + 1 {
        assert!(
            Instant::now() < deadline,
            "the fixture's workers never parked"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    target
}

/// How many threads of `pid` sleep (state S).
fn sleeping(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('S'))
        })
        .count()
}

/// The CPU time (user and system) this thread has used: on a busy machine the wall times
/// of the phases grow with the load, this much less.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes the rusage it is given, which lives on our stack.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One trace's costs, in microseconds per thread, in the table's column order.
fn costs(tracer: &mut Tracer, pid: u32) -> [f64; 8] {
    let (t, cpu) = (Instant::now(), thread_cpu());
    let p = tracer.trace(pid).expect("tracing the fixture");
    let (total, cpu) = (t.elapsed(), thread_cpu() - cpu);
    let t = Instant::now();
    std::hint::black_box(dump::to_json(&p, false));
    let json = t.elapsed();
    let t = Instant::now();
    std::hint::black_box(dump::to_text(&p));
    let text = t.elapsed();
    let n = p.threads().len().max(1) as f64;
    let timings = p.timings();
    [
        timings.capture,
        timings.unwind,
        timings.symbolize,
        timings.waits,
        json,
        text,
        total,
        cpu,
    ]
    .map(|d| d.as_secs_f64() * 1e6 / n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let threads: Vec<usize> = std::env::var("CAPTURE_BENCH_THREADS")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("CAPTURE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15)
        .max(1);
    let bin = build_fixture();
    // Lines from a line cache of the bench's own, warmed by the first trace, as `dump` reads
    // them from ~/.cache.
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capture-bench-lines");
    let options = || {
        let mut o = TraceOptions::new();
        o.line_cache(Some(cache.clone()));
        o
    };
    println!(
        "Medians of {runs} traces, µs per thread (trace: the whole `Tracer::trace`, wall and CPU).\n"
    );
    println!(
        "| threads | tracer | capture | unwind | symbolize | waits | JSON | text | trace | trace CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &n in &threads {
        let target = start(&bin, n);
        let pid = target.0.id();
        let mut kept = Tracer::new(options());
        costs(&mut kept, pid);
        for (name, fresh) in [("fresh (dump)", true), ("kept (refresh)", false)] {
            let mut rows: Vec<Vec<f64>> = vec![Vec::new(); 8];
            for _ in 0..runs {
                let c = if fresh {
                    costs(&mut Tracer::new(options()), pid)
                } else {
                    costs(&mut kept, pid)
                };
                for (row, v) in rows.iter_mut().zip(c) {
                    row.push(v);
                }
            }
            let cells: Vec<String> = rows
                .into_iter()
                .map(|r| format!("{:.1}", median(r)))
                .collect();
            println!("| {} | {name} | {} |", n + 2, cells.join(" | "));
        }
    }
}
