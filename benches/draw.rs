//! Frame-time benchmark of the inspector's UI (the issue's "2000 processes, 1000-thread
//! process" case), std only: `cargo bench --bench draw`.
//!
//! Builds an `App` from synthetic data (2000 processes; a 1000-thread snapshot of ~25 frames
//! per thread, taken twice so CPU% since the previous snapshot is computed), then times
//! `terminal.draw(|f| ui::render(&app, f))` on ratatui's `TestBackend` at 80x24 and 200x60,
//! and the `App::update` calls that feed it. Prints a markdown table of median and p95.
//!
//! Environment: `DRAW_BENCH_ITERS` (default 300 timed draws per case).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rstack_tui::Process;
use rstack_tui::app::{Action, App, Screen};
use rstack_tui::proclist::ProcessInfo;
use rstack_tui::tracer::schema::{FrameDoc, SnapshotDoc, SyscallDoc, ThreadDoc};
use rstack_tui::ui;

const PROCESSES: usize = 2000;
const THREADS: u32 = 1000;
const FRAMES: usize = 25;
const WARMUP: usize = 10;
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];
/// The inspected process's pid (one of the synthetic processes).
const TARGET_PID: u32 = 40_000;

/// A small deterministic PRNG (xorshift64*), so every run draws the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "bash",
    "sshd",
    "nginx",
    "postgres",
    "python3",
    "node",
    "java",
    "sleep",
    "systemd",
    "cron",
    "dockerd",
    "containerd",
    "redis-server",
    "chrome",
    "code",
    "cargo",
    "rustc",
    "vim",
    "tmux",
    "journald",
];
const USERS: &[&str] = &[
    "root",
    "alice",
    "bob",
    "www-data",
    "postgres",
    "redis",
    "nobody",
    "systemd-journal",
];
const ARGS: &[&str] = &[
    "--config /etc/app/config.toml",
    "-c 'while true; do sleep 1; done'",
    "--port 8080 --workers 16 --log-level debug",
    "/home/alice/src/project/target/debug/deps/app-3f2a1b --nocapture",
    "-D /var/lib/postgresql/16/main",
    "worker process",
    "--type=renderer --lang=en-US --enable-features=SharedArrayBuffer --field-trial-handle=1234",
    "",
];

/// 2000 processes with varied names, commands, users, states, threads, CPU and RSS; about 5 %
/// are kernel threads (hidden by default, as on a real machine).
fn process_list(seed: u64) -> Vec<ProcessInfo> {
    let mut rng = Rng(seed);
    (0..PROCESSES)
        .map(|i| {
            let pid = if i == 0 {
                TARGET_PID
            } else {
                1 + i as u32 * 17
            };
            let kernel = i % 20 == 7;
            let name = if kernel {
                format!("kworker/{}:{}", rng.below(2), rng.below(40))
            } else {
                rng.pick(NAMES).to_string()
            };
            let command = if kernel {
                format!("[{name}]")
            } else {
                format!("/usr/bin/{name} {}", rng.pick(ARGS))
                    .trim_end()
                    .to_string()
            };
            let cpu = match rng.below(10) {
                0 => rng.below(4000) as f64 / 10.0,
                1..=3 => rng.below(50) as f64 / 10.0,
                _ => 0.0,
            };
            ProcessInfo {
                pid,
                user: if kernel {
                    "root".into()
                } else {
                    rng.pick(USERS).into()
                },
                state: if cpu > 50.0 { 'R' } else { 'S' },
                threads: if pid == TARGET_PID {
                    THREADS + 1
                } else {
                    1 + rng.below(64) as u32
                },
                cpu_percent: cpu,
                rss_bytes: if kernel { 0 } else { rng.below(2 << 30) },
                name,
                command,
                kernel_thread: kernel,
            }
        })
        .collect()
}

fn frame(ip: u64, symbol: String, module: &str) -> FrameDoc<'static> {
    FrameDoc {
        ip,
        raw_symbol: Some(symbol.clone().into()),
        symbol: Some(symbol.into()),
        offset: Some(ip & 0xff),
        module: Some(module.to_owned().into()),
        module_offset: Some(ip & 0xf_ffff),
        is_signal: false,
        file: None,
        line: None,
        inlined: false,
        frameless: false,
        kind: None,
    }
}

/// A snapshot of a 1000-thread process (plus its main thread), ~25 frames a thread; `taken_ms`
/// and `round` vary the CPU times so the second snapshot shows CPU% since the first.
fn snapshot(taken_ms: u64, round: u64) -> Process {
    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    const EXE: &str = "/srv/app/bin/server";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let threads = (0..=THREADS)
        .map(|i| {
            let tid = TARGET_PID + i;
            let busy = i % 50 == 3;
            let base = 0x5555_0000_0000u64 + u64::from(i) * 0x1_0000;
            let mut frames = Vec::with_capacity(FRAMES);
            if busy {
                frames.push(frame(base, format!("server::hash::block_{}", i % 7), EXE));
            } else {
                frames.push(frame(base, "syscall".into(), LIBC));
                frames.push(frame(
                    base + 0x40,
                    "std::sys::sync::condvar::futex::Condvar::wait".into(),
                    EXE,
                ));
            }
            while frames.len() < FRAMES - 3 {
                let k = frames.len();
                frames.push(frame(
                    base + 0x40 * k as u64,
                    format!(
                        "server::module_{}::Handler<T>::function_{}::{{{{closure}}}}",
                        (u64::from(i) + k as u64) % 13,
                        rng.below(1000)
                    ),
                    EXE,
                ));
            }
            for s in ["std::thread::start", "start_thread", "__clone3"] {
                let k = frames.len() as u64;
                frames.push(frame(
                    base + 0x40 * k,
                    s.into(),
                    if s == "std::thread::start" { EXE } else { LIBC },
                ));
            }
            let cpu_ms = if busy {
                round * 1900 + u64::from(i)
            } else {
                u64::from(i % 5)
            };
            ThreadDoc {
                tid,
                name: Some(if i == 0 {
                    "server".into()
                } else {
                    format!("worker-{}", i - 1).into()
                }),
                state: Some(if busy { "R" } else { "S" }.into()),
                wchan: (!busy).then(|| "futex_do_wait".into()),
                syscall: (!busy).then(|| SyscallDoc {
                    number: 202,
                    name: Some("futex".into()),
                    args: [0; 6],
                }),
                user_time_ms: cpu_ms,
                system_time_ms: cpu_ms / 10,
                stopped_us: 40,
                truncated: false,
                error: None,
                end_note: None,
                frames: frames.into_iter().collect(),
                wait: None,
                kernel_stack: Default::default(),
                lock: None,
                end: None,
                state_before: None,
                leaving: None,
                python: None,
                chain: None,
            }
        })
        .collect();
    SnapshotDoc {
        version: 1,
        pid: TARGET_PID,
        command: "/srv/app/bin/server --port 8080 --workers 1000".into(),
        taken_at: "".into(),
        taken_at_unix_ms: taken_ms,
        mode: "rolling".into(),
        elapsed_us: 250_000,
        longest_stop_us: 85,
        threads,
        deadlocks: Default::default(),
        missing_debuginfo: Default::default(),
        goroutines: Vec::new(),
        goroutines_note: None,
        wait_cycles: Vec::new(),
    }
    .to_process()
}

/// Median and p95 of a set of durations.
struct Stats {
    median: Duration,
    p95: Duration,
    n: usize,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort_unstable();
    let n = v.len();
    Stats {
        median: v[n / 2],
        p95: v[(n * 95 / 100).min(n - 1)],
        n,
    }
}

fn iters() -> usize {
    std::env::var("DRAW_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(300)
}

/// Times `iters` full draws of the app at `w`x`h`, after a few warm-up draws.
fn time_draws(app: &App, w: u16, h: u16, iters: usize) -> Stats {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    for _ in 0..WARMUP {
        terminal.draw(|f| ui::render(app, f)).expect("draw");
    }
    let times = (0..iters)
        .map(|_| {
            let t = Instant::now();
            terminal.draw(|f| ui::render(app, f)).expect("draw");
            t.elapsed()
        })
        .collect();
    black_box(terminal.backend().buffer());
    stats(times)
}

/// Times `iters` runs of `step` on a fresh input from `input` (built outside the timing).
fn time_updates<T>(
    iters: usize,
    mut input: impl FnMut(usize) -> T,
    mut step: impl FnMut(T),
) -> Stats {
    for i in 0..WARMUP {
        step(input(i));
    }
    let times = (0..iters)
        .map(|i| {
            let x = input(i);
            let t = Instant::now();
            step(x);
            t.elapsed()
        })
        .collect();
    stats(times)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn row(what: &str, size: &str, s: &Stats) {
    println!(
        "| {what} | {size} | {} | {} | {} |",
        ms(s.median),
        ms(s.p95),
        s.n
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us too: keep that quick.
    let iters = if std::env::args().any(|a| a == "--bench") {
        iters()
    } else {
        5
    };
    let lists: Vec<Vec<ProcessInfo>> = (0..4).map(|k| process_list(0x5eed + k)).collect();
    let mut app = App::new();
    app.update(Action::ProcessesListed(lists[0].clone()));
    let visible = app.process_list().visible().len();

    println!(
        "{PROCESSES} processes ({visible} shown, kernel threads hidden); \
         a process of {} threads x {FRAMES} frames\n",
        THREADS + 1
    );
    println!("| what | size | median | p95 | n |");
    println!("|---|---|---|---|---|");

    for (w, h) in SIZES {
        let s = time_draws(&app, w, h, iters);
        row("draw: process list", &format!("{w}x{h}"), &s);
    }
    let s = time_updates(
        iters,
        |i| lists[i % lists.len()].clone(),
        |list| {
            black_box(app.update(Action::ProcessesListed(list)));
        },
    );
    row("update: ProcessesListed(2000)", "-", &s);

    // The process view: inspect the 1000-thread process, two snapshots 2 s apart.
    let first = Arc::new(snapshot(1_795_953_600_000, 0));
    let second = Arc::new(snapshot(1_795_953_602_000, 1));
    app.update(Action::Inspect(TARGET_PID));
    app.update(Action::Snapshot(first.clone()));
    app.update(Action::Snapshot(second.clone()));
    assert_eq!(app.screen(), Screen::Inspector);
    assert_eq!(
        app.inspector().expect("inspecting").thread_rows().len(),
        THREADS as usize + 1
    );
    assert!(
        app.inspector()
            .expect("inspecting")
            .thread_rows()
            .iter()
            .any(|r| r.cpu_percent.unwrap_or(0.0) > 1.0),
        "CPU% since the previous snapshot is computed"
    );
    for (w, h) in SIZES {
        let s = time_draws(&app, w, h, iters);
        row("draw: process view", &format!("{w}x{h}"), &s);
    }
    let s = time_updates(
        iters,
        |i| {
            if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            }
        },
        |p| {
            black_box(app.update(Action::Snapshot(p)));
        },
    );
    row("update: Snapshot(1001 threads)", "-", &s);
}
