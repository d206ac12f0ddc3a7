//! Shared test support: builds the fixture programs once per test binary, spawns them, waits
//! for their "ready" line (never a sleep), and kills them by pid when dropped.

#![allow(dead_code)]

pub mod container;
pub mod panes;
pub mod python;
pub mod tmux;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rstack_tui::{Process, Thread, TraceOptions, UnwindMethod};

/// How long a fixture may take to print "ready" (building it is not included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a build command writing to a temporary name, then renames it into place, so test
/// binaries building the same fixture at once never see a half-written file.
fn build(out: &Path, mut cmd: Command, tmp: &Path) -> PathBuf {
    let result = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        result.status.success(),
        "building fixture failed (scripts/deps.sh installs gcc, g++, gcc-multilib, musl-tools and golang-go): {cmd:?}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::rename(tmp, out).unwrap();
    out.to_path_buf()
}

/// Builds `name` with gcc and `args` (flags and sources), see [`build`].
pub fn gcc(name: &str, args: &[&std::ffi::OsStr]) -> PathBuf {
    cc("gcc", name, args)
}

/// tests/fixtures/corrupt.c: -O0 with frame pointers, so each function is a real frame.
pub fn corrupt_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("corrupt.c");
        gcc(
            "corruptfixture",
            &[
                "-O0".as_ref(),
                "-g".as_ref(),
                "-fno-omit-frame-pointer".as_ref(),
                "-pthread".as_ref(),
                src.as_os_str(),
            ],
        )
    })
}

/// tests/fixtures/gounwind.go, built once with the Go toolchain (scripts/deps.sh installs
/// golang-go), its caches under the target directory. Go writes only `.debug_frame`.
pub fn gounwind_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = out_dir().join("gounwind");
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let mut cmd = Command::new("go");
        cmd.arg("build")
            .arg("-o")
            .arg(&tmp)
            .arg(fixtures_dir().join("gounwind.go"))
            .env("GOCACHE", target.join("go-cache"))
            .env("GOPATH", target.join("go-path"))
            .env("GOFLAGS", "");
        build(&out, cmd, &tmp)
    })
}

/// Builds tests/fixtures/fakegostripped.c (a stripped "Go" binary: .gopclntab and
/// .go.buildinfo without .symtab, no libc) as `name`, with `variant` (`-DTWO`, `-DNONE`) if any.
pub fn fake_go_stripped(name: &str, variant: Option<&str>) -> PathBuf {
    let src = fixtures_dir().join("fakegostripped.c");
    let flags = [
        "-O0",
        "-static",
        "-nostdlib",
        "-fno-stack-protector",
        "-no-pie",
        "-s",
    ];
    let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(std::ffi::OsStr::new).collect();
    args.extend(variant.map(std::ffi::OsStr::new));
    args.push(src.as_os_str());
    gcc(name, &args)
}

/// Builds `name` with C compiler `compiler` and `args`, see [`build`].
fn cc(compiler: &str, name: &str, args: &[&std::ffi::OsStr]) -> PathBuf {
    let out = out_dir().join(name);
    let tmp = tmp_name(&out);
    let mut cmd = Command::new(compiler);
    cmd.args(args).arg("-o").arg(&tmp);
    build(&out, cmd, &tmp)
}

fn tmp_name(out: &Path) -> PathBuf {
    out.with_extension(format!("tmp{}", std::process::id()))
}

/// The Rust fixture (tests/fixtures/threads.rs), built with rustc -O -g.
pub fn threads_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = out_dir().join("rsfixture");
        let tmp = tmp_name(&out);
        let mut cmd = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()));
        cmd.args([
            "-O",
            "-g",
            "--edition",
            "2021",
            "--crate-name",
            "threads_fixture",
        ])
        .arg(fixtures_dir().join("threads.rs"))
        .arg("-o")
        .arg(&tmp);
        build(&out, cmd, &tmp)
    })
}

/// The C++ fixture (tests/fixtures/cpp_threads.cpp), built with g++ -O2 -g -pthread.
pub fn cpp_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = out_dir().join("cppfixture");
        let tmp = tmp_name(&out);
        let mut cmd = Command::new("g++");
        cmd.args(["-O2", "-g", "-pthread"])
            .arg(fixtures_dir().join("cpp_threads.cpp"))
            .arg("-o")
            .arg(&tmp);
        build(&out, cmd, &tmp)
    })
}

/// tests/fixtures/long_names.cpp (a thread parked under a C++ name wider than any terminal),
/// built with g++ -O1 -g -pthread.
pub fn long_names_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("long_names.cpp");
        let mut args: Vec<&std::ffi::OsStr> = ["-O1", "-g", "-pthread"]
            .iter()
            .map(std::ffi::OsStr::new)
            .collect();
        args.push(src.as_os_str());
        cc("g++", "longnames", &args)
    })
}

/// Builds the C fixture `source` (in tests/fixtures) as `name` with gcc -O1 -g -pthread and
/// `extra` flags.
fn c_bin(name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = fixtures_dir().join(source);
    let mut args: Vec<&std::ffi::OsStr> = ["-O1", "-g", "-pthread"]
        .iter()
        .chain(extra)
        .map(std::ffi::OsStr::new)
        .collect();
    args.push(src.as_os_str());
    gcc(name, &args)
}

/// tests/fixtures/deadlock.c, built once per test binary with gcc -O1 -g -pthread.
pub fn deadlock_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("deadlockfixture", "deadlock.c", &[]))
}

/// tests/fixtures/chains_locks.c (processes waiting on file locks, children and a
/// process-shared mutex), built once per test binary.
pub fn chains_locks_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("chainslocks", "chains_locks.c", &[]))
}

/// tests/fixtures/chains_fds.c (processes waiting on pipes, FIFOs, sockets, epoll and poll
/// sets), built once per test binary.
pub fn chains_fds_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("chainsfds", "chains_fds.c", &[]))
}

/// tests/fixtures/mutex_chain.c (a chain of two mutexes and a deadlock), built once per test
/// binary.
pub fn mutex_chain_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("mutexchainfixture", "mutex_chain.c", &[]))
}

/// tests/fixtures/lockchain.c (a thread waiting for a mutex held by one that waits for a
/// second), built once per test binary.
pub fn lockchain_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("lockchainfixture", "lockchain.c", &[]))
}

/// tests/fixtures/waitchains.c (processes deadlocked through a socket and a flock; a parent
/// waiting for a child that reads a TCP peer), built once per test binary.
pub fn waitchains_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("waitchainsfixture", "waitchains.c", &[]))
}

/// The pid a fixture printed as "pid NAME PID" (a child it started), its next line.
pub fn printed_pid(fx: &Fixture, name: &str) -> u32 {
    let line = fx.next_line();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.get(..2), Some(&["pid", name][..]), "{line:?}");
    words[2].parse().unwrap()
}

/// tests/fixtures/sigframe.c (a thread blocked in a signal handler), built once per test
/// binary.
pub fn sigframe_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("sigframefixture", "sigframe.c", &[]))
}

/// tests/fixtures/storm.c (threads created and joined without end), built once per test
/// binary.
pub fn storm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("stormfixture", "storm.c", &[]))
}

/// tests/fixtures/frameless.c (assembly leaves without CFI in a program with unwind tables),
/// built once per test binary.
pub fn frameless_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("framelessfixture", "frameless.c", &[]))
}

/// tests/fixtures/nocfi.c, built without unwind tables or debug info (no CFI at all for its
/// own code), once per test binary.
pub fn nocfi_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("nocfi.c");
        let args: Vec<&std::ffi::OsStr> = [
            "-O1",
            "-pthread",
            "-fno-asynchronous-unwind-tables",
            "-fno-unwind-tables",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([src.as_os_str()])
        .collect();
        gcc("nocfifixture", &args)
    })
}

/// tests/fixtures/flipper.c, built once per test binary with gcc -O1 -g -pthread.
pub fn flipper_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("flipperfixture", "flipper.c", &[]))
}

/// tests/fixtures/musl_deadlock.c, built once per test binary with musl-gcc -O1 -g -pthread,
/// static (`static_link`) or dynamic (musl's loader, /lib/ld-musl-x86_64.so.1).
pub fn musl_deadlock_bin(static_link: bool) -> &'static Path {
    static STATIC: OnceLock<PathBuf> = OnceLock::new();
    static DYNAMIC: OnceLock<PathBuf> = OnceLock::new();
    let (cell, name) = if static_link {
        (&STATIC, "musldeadlock-static")
    } else {
        (&DYNAMIC, "musldeadlock-dynamic")
    };
    cell.get_or_init(|| {
        let out = out_dir().join(name);
        let tmp = tmp_name(&out);
        let mut cmd = Command::new("musl-gcc");
        cmd.args(["-O1", "-g", "-pthread"]);
        if static_link {
            cmd.arg("-static");
        }
        cmd.arg(fixtures_dir().join("musl_deadlock.c"))
            .arg("-o")
            .arg(&tmp);
        build(&out, cmd, &tmp)
    })
}

/// The binaries of tests/fixtures/chains.c, each with another kind of unwind tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chains {
    /// `gcc -static`: a non-PIE executable with `.eh_frame` and no `.eh_frame_hdr`.
    GlibcStatic,
    /// `musl-gcc -static`: the same with musl, whose own code has no unwind tables at all.
    MuslStatic,
    /// `gcc -fno-asynchronous-unwind-tables`: a PIE whose own functions are described only
    /// in `.debug_frame`.
    DebugFrameOnly,
    /// `gcc -Wl,--no-eh-frame-hdr`: a PIE (loaded at a random address) with `.eh_frame` and
    /// no `.eh_frame_hdr`.
    EhFramePie,
}

impl Chains {
    pub const ALL: [Chains; 3] = [
        Chains::GlibcStatic,
        Chains::MuslStatic,
        Chains::DebugFrameOnly,
    ];

    /// The fixture, built once per test binary (all with -O1 -g).
    pub fn bin(self) -> &'static Path {
        static BINS: [OnceLock<PathBuf>; 4] = [const { OnceLock::new() }; 4];
        let (i, compiler, name, flags): (usize, &str, &str, &[&str]) = match self {
            Chains::GlibcStatic => (0, "gcc", "chains-glibc-static", &["-pthread", "-static"]),
            // scripts/deps.sh installs musl-tools.
            Chains::MuslStatic => (1, "musl-gcc", "chains-musl-static", &["-static"]),
            Chains::DebugFrameOnly => (
                2,
                "gcc",
                "chains-debug-frame",
                &["-pthread", "-fno-asynchronous-unwind-tables"],
            ),
            Chains::EhFramePie => (
                3,
                "gcc",
                "chains-eh-frame-pie",
                &["-pthread", "-Wl,--no-eh-frame-hdr"],
            ),
        };
        BINS[i].get_or_init(|| {
            let src = fixtures_dir().join("chains.c");
            let mut args: Vec<&std::ffi::OsStr> = ["-O1", "-g"]
                .iter()
                .chain(flags)
                .map(std::ffi::OsStr::new)
                .collect();
            args.push(src.as_os_str());
            cc(compiler, name, &args)
        })
    }
}

/// A spawned fixture; killed (by pid) and reaped when dropped.
pub struct Fixture {
    child: Child,
    /// The fixture's stdout lines after "ready".
    lines: mpsc::Receiver<String>,
}

impl Fixture {
    /// Spawns `bin args...`, waits for its "ready" line, and then until every thread sleeps
    /// in the kernel: "ready" is the fixture's last write, so after it the only way to sleep is
    /// in the final parking call, and every stack is final.
    pub fn spawn(bin: &Path, args: &[&str]) -> Fixture {
        let fixture = Fixture::spawn_busy(bin, args);
        wait_until("every fixture thread to park", || {
            let states = fixture.thread_states();
            !states.is_empty() && states.iter().all(|(_, s)| *s == 'S')
        });
        fixture
    }

    /// Spawns `bin args...` and waits for its "ready" line only (for fixtures that keep
    /// running after it).
    pub fn spawn_busy(bin: &Path, args: &[&str]) -> Fixture {
        let mut child = spawn_retrying(
            Command::new(bin)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let (line_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match ready.take() {
                    Some(tx) if line.trim() == "ready" => {
                        let _ = tx.send(());
                    }
                    Some(tx) => ready = Some(tx),
                    None => {
                        let _ = line_tx.send(line);
                    }
                }
            }
        });
        let fixture = Fixture { child, lines };
        rx.recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|_| panic!("fixture {} {args:?} never printed ready", bin.display()));
        fixture
    }

    /// Writes a line to the fixture's stdin.
    pub fn send_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("fixture stdin");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line the fixture prints after "ready" (bounded wait).
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(READY_TIMEOUT)
            .expect("fixture printed nothing more")
    }

    /// A line already printed and not yet read, if any.
    pub fn pending_line(&self) -> Option<String> {
        self.lines.try_recv().ok()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The state letters of every thread, from /proc.
    pub fn thread_states(&self) -> Vec<(u32, char)> {
        thread_states(self.pid())
    }

    /// Waits until every thread sleeps (state `S`). For a fixture whose only wake-up is its
    /// stdin this means none will run again until it is sent a line: the threads it woke
    /// before printing its line may still be on their way to sleep when the line arrives.
    pub fn wait_all_asleep(&self) {
        wait_until("every thread of the fixture asleep", || {
            let states = self.thread_states();
            !states.is_empty() && states.iter().all(|(_, s)| *s == 'S')
        });
    }

    /// Asserts that no thread of the fixture is stopped or traced (state `T` or `t`), and
    /// that nobody traces it.
    pub fn assert_running(&self) {
        let states = self.thread_states();
        assert!(!states.is_empty(), "fixture {} is gone", self.pid());
        for (tid, state) in states {
            assert!(
                !matches!(state, 'T' | 't'),
                "thread {tid} of fixture {} left in state {state}",
                self.pid()
            );
        }
        assert_eq!(
            tracer_pid(self.pid()),
            0,
            "fixture {} still traced",
            self.pid()
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let tids = self.thread_states();
        let _ = self.child.kill();
        // A thread this test thread still traces must be reaped by us (with __WALL) before the
        // process as a whole can be; for threads we do not trace this returns ECHILD at once.
        for (tid, _) in tids.into_iter().filter(|(t, _)| *t != self.pid()) {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(tid as i32),
                Some(nix::sys::wait::WaitPidFlag::__WALL),
            );
        }
        let _ = self.child.wait();
    }
}

/// The state letter of every thread of `pid`.
pub fn thread_states(pid: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let state = stat.rsplit(')').next()?.trim_start().chars().next()?;
        Some((tid, state))
    })
    .collect()
}

/// The id of the thread of `pid` named `name` (its comm).
pub fn tid_named(pid: u32, name: &str) -> u32 {
    thread_states(pid)
        .into_iter()
        .map(|(tid, _)| tid)
        .find(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .is_ok_and(|c| c.trim_end() == name)
        })
        .unwrap_or_else(|| panic!("no thread {name} in process {pid}"))
}

/// TracerPid of /proc/PID/status.
pub fn tracer_pid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits (bounded) until `cond` holds, polling; for states the kernel reaches on its own.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The names of a thread's frames that belong to `prefix` (e.g. "threads_fixture::"),
/// innermost first.
pub fn frames_with_prefix(t: &Thread, prefix: &str) -> Vec<String> {
    t.frames()
        .iter()
        .filter(|f| !f.is_inlined())
        .filter_map(|f| f.symbol())
        .map(|s| s.name().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The fixture functions worker `i` of tests/fixtures/threads.rs parks in, innermost first.
pub fn expected_worker_chain(i: usize) -> Vec<String> {
    let depth = 1 + i % 3;
    let mut chain = vec!["threads_fixture::park".to_string()];
    for level in ["level_three", "level_two", "level_one"]
        .iter()
        .skip(3 - depth)
    {
        chain.push(format!("threads_fixture::{level}"));
    }
    chain.push("threads_fixture::worker_main".into());
    chain
}

/// Asserts that `p` holds exactly the main thread and `workers` workers of the Rust fixture in
/// `park` mode, each with its exact name and exact chain of fixture frames.
pub fn assert_parked_fixture(p: &Process, workers: usize) {
    let summary: Vec<_> = p
        .threads()
        .iter()
        .map(|t| (t.id(), t.name(), t.error()))
        .collect();
    let live = thread_states(p.id());
    assert_eq!(
        p.threads().len(),
        workers + 1,
        "thread count of {}: traced {summary:?}, live {live:?}",
        p.id()
    );
    let main = &p.threads()[0];
    assert_eq!(main.id(), p.id());
    assert_eq!(main.name(), Some("rsfixture"));
    assert_eq!(
        frames_with_prefix(main, "threads_fixture::"),
        ["threads_fixture::main_park", "threads_fixture::main"],
        "main thread frames: {:#?}",
        main.frames()
    );
    let mut seen = vec![false; workers];
    for t in &p.threads()[1..] {
        let name = t.name().expect("thread names requested");
        let i: usize = name
            .strip_prefix("worker-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected thread name {name:?}"));
        assert!(!seen[i], "worker-{i} twice");
        seen[i] = true;
        assert_eq!(t.error(), None, "worker-{i}");
        assert_eq!(
            frames_with_prefix(t, "threads_fixture::"),
            expected_worker_chain(i),
            "worker-{i} frames: {:#?}",
            t.frames()
        );
        // The unwind reaches the thread entry in std and libc, below worker_main.
        let last_fixture = t.frames().iter().rposition(|f| {
            f.symbol()
                .is_some_and(|s| s.name() == "threads_fixture::worker_main")
        });
        assert!(
            last_fixture.is_some_and(|i| i + 2 < t.frames().len()),
            "worker-{i} stack ends at worker_main"
        );
    }
    assert!(seen.iter().all(|s| *s), "missing workers");
}

/// Starts the rstack-tui binary with `args`, its output discarded (a run to kill or wait for).
pub fn spawn_cli(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rstack-tui")
}

/// Runs the rstack-tui binary with `args`; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(args)
        .output()
        .expect("run rstack-tui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// tests/fixtures/checker.c (a target that does real work and reports any harm), built once
/// per test binary with gcc -O1 -g -pthread.
pub fn checker_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("checkerfixture", "checker.c", &["-Wall"]))
}

/// The thread names of the checker fixture, main thread first.
pub const CHECKER_THREADS: [&str; 13] = [
    "checkerfixture",
    "writer-0",
    "writer-1",
    "pipecheck",
    "filler",
    "drainer",
    "nanosleep",
    "clocksleep",
    "condwait",
    "timerfd",
    "poller",
    "sigcount",
    "epoller",
];

/// One `report` line of the checker fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Blocking calls done and checked.
    pub ops: u64,
    /// Bytes that went through a pipe and were checked.
    pub bytes: u64,
    /// Harm seen (EINTR, early wakeups, lost, duplicated or reordered data).
    pub errors: u64,
    /// SIGRTMIN deliveries counted.
    pub signals: u64,
    /// Times epoll_wait returned EINTR (after a stop of the thread; not counted as errors).
    pub epintr: u64,
    /// SIGUSR1 handler runs.
    pub usr1: u64,
    /// The first few errors, or "-".
    pub first: String,
}

impl Report {
    fn parse(line: &str) -> Report {
        let rest = line
            .strip_prefix("report ")
            .unwrap_or_else(|| panic!("not a report: {line:?}"));
        let (counts, first) = rest.split_once(" first=").expect("first= in the report");
        let mut n = counts.split(' ').map(|kv| {
            kv.split_once('=')
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("bad field {kv:?} in {line:?}"))
        });
        let mut next = || n.next().expect("six counts");
        Report {
            ops: next(),
            bytes: next(),
            errors: next(),
            signals: next(),
            epintr: next(),
            usr1: next(),
            first: first.to_string(),
        }
    }
}

impl Fixture {
    /// The next line the fixture prints, if it prints one within `within`.
    pub fn next_line_within(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Asks the checker fixture for its report; `None` if it does not answer within `within`
    /// (e.g. because it is stopped).
    pub fn try_report(&mut self, within: Duration) -> Option<Report> {
        self.send_line("report");
        self.next_line_within(within).map(|l| Report::parse(&l))
    }

    /// Asks the checker fixture for its report (bounded wait).
    pub fn report(&mut self) -> Report {
        self.try_report(Duration::from_secs(20)).unwrap_or_else(|| {
            panic!(
                "checker {} did not report: {:?}",
                self.pid(),
                self.thread_states()
            )
        })
    }
}

/// The tasks of `pid` that have a tracer, as (tid, tracer pid).
pub fn traced_tasks(pid: u32) -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let tid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
        let tracer: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))?
            .trim()
            .parse()
            .ok()?;
        (tracer != 0).then_some((tid, tracer))
    })
    .collect()
}

/// A small seeded PRNG (SplitMix64), so that a failing random schedule can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `$var` if set, otherwise from the clock; prints the seed either way.
    pub fn from_env(var: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("seed {seed} (set {var}={seed} to replay)");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// xorshift64* from a fixed seed: the same sequence every run, for garbling files and fuzzing
/// reproducibly (`Rng` is seeded afresh, for random schedules).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n` (0 for n = 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A count from `$var`, or `default`.
pub fn env_count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The child processes of `pid` (of all its threads).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// True while process `pid` exists and is not a zombie.
/// Whether `pid` has exited (no /proc entry, or a zombie).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => matches!(
            stat.rsplit(')')
                .next()
                .and_then(|s| s.trim_start().chars().next()),
            Some('Z' | 'X') | None
        ),
    }
}

pub fn is_running(pid: u32) -> bool {
    thread_states(pid).first().is_some_and(|(_, s)| *s != 'Z')
}

impl Fixture {
    /// Waits (bounded by `within`) for the fixture to exit by itself; its exit code, or
    /// `None` if it is still there.
    pub fn exit_code_within(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// The C mover fixture (tests/fixtures/mover.c): parked threads and one that moves on command.
pub fn mover_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| c_bin("moverfixture", "mover.c", &[]))
}

/// Traces `pid` with `method`, stopping blocked threads too if `stop_blocked`.
pub fn trace_with(pid: u32, method: UnwindMethod, stop_blocked: bool) -> Process {
    TraceOptions::new()
        .unwind_method(method)
        .stop_blocked(stop_blocked)
        .trace(pid)
        .unwrap()
}

/// `cmd.spawn()`, again while it fails with ETXTBSY: a binary a test just wrote can still be
/// open for writing in a child another test thread forked meanwhile, until that child's exec
/// closes it (a moment later).
pub fn spawn_retrying(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 200 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Processes a test did not start through Fixture (a fixture's children), killed by pid when
/// dropped, so a failing assertion leaves none behind.
pub struct KilledOnDrop(pub Vec<u32>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `gcore`'s core of `pid`, in `dir`.
pub fn gcore(pid: u32, dir: &Path) -> PathBuf {
    let prefix = dir.join("core");
    let out = std::process::Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .output()
        .expect("run gcore (the gdb package)");
    let core = dir.join(format!("core.{pid}"));
    assert!(
        out.status.success() && core.exists(),
        "gcore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    core
}
