//! JIT frames named from the target's perf map (`/tmp/perf-PID.map`): CPython 3.12 `-X perf`
//! (whose trampolines the walk also unwinds through), node `--perf-basic-prof`, a JVM after
//! `jcmd PID Compiler.perfmap`, hostile maps
//! (malformed lines, huge sizes, control characters, a symlink, a FIFO, an oversized file),
//! and a target in its own mount and pid namespace, found through its root and its NSpid.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Fixture, fixtures_dir, gcc, wait_until};
use rstack_tui::{Frame, Process, TraceOptions, Tracer};

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("perfmap");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tests/fixtures/perfjit.c: a thread parked in a stub in anonymous RX memory.
fn perfjit_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("perfjit.c");
        gcc("perfjit", &["-O1".as_ref(), src.as_os_str()])
    })
}

/// Removes a perf map (or whatever took its place) when dropped, after the process that
/// owned it is gone.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn host_map(pid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{pid}.map"))
}

/// (symbol name, module path) of a frame.
fn named(f: &Frame) -> (Option<&str>, Option<&str>) {
    (
        f.symbol().map(|s| s.name()),
        f.module().map(|m| m.path.as_str()),
    )
}

/// The dump's frame lines of its first thread, each cut to what follows the address.
fn dump_frames(pid: u32) -> Vec<String> {
    let (code, out, err) = common::run_cli(&["dump", &pid.to_string()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    out.lines()
        .skip_while(|l| !l.starts_with("Thread "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.trim_start().starts_with('#'))
        .map(|l| {
            // "  #7   0x00007f91feabf7c2  NAME+0x6  (MODULE)  at ..."
            let rest = l.trim_start().split_once("  ").map_or("", |(_, r)| r);
            let rest = rest.trim_start();
            rest.split_once("  ").map_or(rest, |(_, r)| r).to_string()
        })
        .collect()
}

/// Index of the first line from `from` on that starts with `prefix`.
fn find(lines: &[String], from: usize, prefix: &str) -> usize {
    from + lines[from..]
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no frame {prefix:?} from #{from} on in {lines:#?}"))
}

#[test]
fn cpython_perf_trampolines_are_named_and_unwound() {
    let Some(python) = std::fs::read_dir(std::env::var("HOME").unwrap() + "/.pyenv/versions")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("3.12."))
        })
        .map(|p| p.join("bin/python3.12"))
        .find(|p| p.exists())
    else {
        println!("skipped: no CPython 3.12 under ~/.pyenv/versions");
        return;
    };
    let script = out_dir().join("parked.py");
    std::fs::write(
        &script,
        "import time\n\
         def parked_here():\n    print('ready', flush=True)\n    time.sleep(600)\n\
         def outer():\n    parked_here()\n\
         outer()\n",
    )
    .unwrap();
    let script_s = script.to_str().unwrap();
    let mut remove = Remove(PathBuf::new());
    let fx = Fixture::spawn(&python, &["-X", "perf", script_s]);
    remove.0 = host_map(fx.pid());
    let frames = dump_frames(fx.pid());
    fx.assert_running();
    // The evaluator, the trampoline named as CPython names it, and on through the
    // trampoline (no unwind info, no frame pointer) to the next evaluator, up to main.
    let stub = |f: &str| format!("py::{f}:{script_s}+0x6  ([perf-map])");
    let parked = find(&frames, 0, &stub("parked_here"));
    assert!(frames[parked - 1].starts_with("_PyEval_EvalFrameDefault+"));
    assert!(frames[parked + 1].starts_with("py_trampoline_evaluator+"));
    let outer = find(&frames, parked + 1, &stub("outer"));
    assert!(frames[outer - 1].starts_with("_PyEval_EvalFrameDefault+"));
    let module = find(&frames, outer + 1, &stub("<module>"));
    let main = find(&frames, module + 1, "Py_BytesMain+");
    find(&frames, main + 1, "__libc_start_main+");
    assert!(frames.last().unwrap().starts_with("_start+"), "{frames:#?}");
    assert_eq!(
        frames.iter().filter(|f| f.contains("([perf-map])")).count(),
        3,
        "{frames:#?}"
    );
}

#[test]
fn node_functions_are_named() {
    if Command::new("node").arg("--version").output().is_err() {
        println!("skipped: no node on PATH");
        return;
    }
    let script = out_dir().join("parked.js");
    std::fs::write(
        &script,
        "function parkedHere() {\n  console.log('ready');\n  \
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\n}\nparkedHere();\n",
    )
    .unwrap();
    let script_s = script.to_str().unwrap();
    let mut remove = Remove(PathBuf::new());
    let fx = Fixture::spawn_busy(
        Path::new("node"),
        &[
            "--perf-basic-prof",
            "--interpreted-frames-native-stack",
            // No isolate-*-v8.log left in the working directory (the name it is given per
            // isolate is no path that can be created).
            "--logfile=/dev/null",
            script_s,
        ],
    );
    remove.0 = host_map(fx.pid());
    let pid = fx.pid();
    wait_until("node's main thread to wait", || {
        fx.thread_states()
            .iter()
            .any(|&(t, s)| t == pid && s == 'S')
            && std::fs::read_to_string(host_map(pid)).is_ok_and(|m| m.contains("parkedHere"))
    });
    let p = TraceOptions::new().trace(pid).expect("trace");
    fx.assert_running();
    let main = p.threads().iter().find(|t| t.id() == pid).unwrap();
    let names: Vec<_> = main.frames().iter().map(named).collect();
    let parked = format!("JS:~parkedHere {script_s}:1:20");
    let at = names
        .iter()
        .position(|n| *n == (Some(parked.as_str()), Some("[perf-map]")))
        .unwrap_or_else(|| panic!("no {parked} in {names:#?}"));
    let top = format!("JS:~ {script_s}:1:1");
    assert_eq!(
        names[at + 1],
        (Some(top.as_str()), Some("[perf-map]")),
        "{names:#?}"
    );
    assert!(
        names[at..]
            .iter()
            .any(|n| n.0 == Some("Builtins_JSEntry") && n.1 == Some("/usr/bin/node")),
        "the walk goes on below the JIT frames: {names:#?}"
    );
}

#[test]
fn jvm_compiled_methods_are_named() {
    // Looked up, not run: every JDK tool is a JVM that leaves /tmp/hsperfdata_* behind
    // unless told not to.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let has = |tool: &str| std::env::split_paths(&path).any(|d| d.join(tool).is_file());
    if !["java", "javac", "jcmd"].into_iter().all(has) {
        println!("skipped: no java, javac and jcmd on PATH");
        return;
    }
    let classes = out_dir().join("java");
    let src = fixtures_dir().join("PerfSpin.java");
    let built = Command::new("javac")
        .arg("-J-XX:-UsePerfData")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .unwrap();
    assert!(built.success(), "javac {}", src.display());
    // Also the attach socket jcmd makes the JVM open, left by a killed JVM.
    let mut remove = [Remove(PathBuf::new()), Remove(PathBuf::new())];
    let fx = Fixture::spawn_busy(
        Path::new("java"),
        &[
            // No /tmp/hsperfdata_root/PID left behind.
            "-XX:-UsePerfData",
            "-XX:CompileCommand=quiet",
            "-XX:CompileCommand=dontinline,PerfSpin::spinHere",
            "-cp",
            classes.to_str().unwrap(),
            "PerfSpin",
        ],
    );
    let pid = fx.pid();
    remove[0].0 = host_map(pid);
    remove[1].0 = PathBuf::from(format!("/tmp/.java_pid{pid}"));
    let wanted = (Some("long PerfSpin.spinHere(long)"), Some("[perf-map]"));
    // The map is a snapshot of the code cache when jcmd asks for it; the spinning thread is
    // caught in the method nearly always, between two calls of it seldom.
    let mut seen = Vec::new();
    for _ in 0..20 {
        // jcmd is a JVM too: no perf data files of its own either.
        let out = Command::new("jcmd")
            .args(["-J-XX:-UsePerfData", &pid.to_string(), "Compiler.perfmap"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let p = TraceOptions::new().trace(pid).expect("trace");
        fx.assert_running();
        let tops: Vec<_> = p
            .threads()
            .iter()
            .filter_map(|t| t.frames().first())
            .map(|f| {
                let (n, m) = named(f);
                (n.map(str::to_string), m.map(str::to_string))
            })
            .collect();
        if tops
            .iter()
            .any(|(n, m)| (n.as_deref(), m.as_deref()) == wanted)
        {
            return;
        }
        seen.push(tops);
    }
    panic!("no thread's innermost frame is {wanted:?} in 20 traces: {seen:#?}");
}

/// The innermost frame of the perfjit fixture's only thread, traced by `tracer`.
fn stub_frame(tracer: &mut Tracer, pid: u32) -> (Option<String>, Option<String>, Option<u64>) {
    let p: Process = tracer.trace(pid).expect("trace");
    let f = &p.threads()[0].frames()[0];
    // Named from the map means JIT code; unnamed, it stays a native frame.
    let want = if f.symbol().is_some() {
        rstack_tui::FrameKind::Jit
    } else {
        rstack_tui::FrameKind::Native
    };
    assert_eq!(f.kind(), want);
    (
        f.symbol().map(|s| s.name().to_string()),
        f.module().map(|m| m.path.clone()),
        f.symbol().map(|s| s.offset()),
    )
}

#[test]
fn hostile_perf_maps() {
    let fx = Fixture::spawn(perfjit_bin(), &[]);
    let pid = fx.pid();
    let stub = u64::from_str_radix(&fx.next_line(), 16).unwrap();
    // In pause, at the instruction after its `syscall` (offset 7): printed before the stub
    // runs, so it may still be at the `mov` (offset 5).
    wait_until("the stub to sleep in pause", || {
        fx.thread_states().iter().all(|(_, s)| *s == 'S')
    });
    let path = host_map(pid);
    let _remove = Remove(path.clone());
    let mut tracer = Tracer::new(TraceOptions::new());
    let unnamed = (None, Some(String::new()), None);
    let jit = |name: &str| (Some(name.to_string()), Some("[perf-map]".into()), Some(7));

    // No map: the frame is as before, in anonymous memory without a name.
    assert_eq!(stub_frame(&mut tracer, pid), unnamed);

    // Malformed lines skipped, sizes that overflow refused, a huge range that covers the stub
    // overruled by later lines for it; the last one wins, its control characters made inert.
    let map = format!(
        "0 7fffffffffffffff everything\n\
         nothex 10 bad\n{stub:x}\n{stub:x} zz bad\n{stub:x} 0 empty\n\
         ffffffffffffff00 1000 overflow\n{stub:x} 9 \n\
         0x{stub:x} 0x9 first\n{stub:x} 9 jit \x1b[2J\u{202e}stub\x07\n"
    );
    std::fs::write(&path, map).unwrap();
    assert_eq!(
        stub_frame(&mut tracer, pid),
        jit("jit \\x1b[2J\\u{202e}stub\\x07")
    );

    // Rewritten (a JIT's later code): read again by the same tracer.
    std::fs::write(&path, format!("{stub:x} 9 again with spaces\n")).unwrap();
    assert_eq!(stub_frame(&mut tracer, pid), jit("again with spaces"));

    // A map that ends without its newline, past 64 MiB: the first 64 MiB are read, the line
    // cut there is not taken, and no more is read or kept.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "{stub:x} 9 big").unwrap();
        f.set_len(65 << 20).unwrap();
    }
    assert_eq!(stub_frame(&mut tracer, pid), jit("big"));

    // A symbolic link in the target's /tmp is never followed, even to a good map.
    std::fs::remove_file(&path).unwrap();
    let target = out_dir().join(format!("linked-{pid}.map"));
    std::fs::write(&target, format!("{stub:x} 9 via-link\n")).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    assert_eq!(stub_frame(&mut tracer, pid), unnamed);
    std::fs::remove_file(&target).unwrap();

    // A FIFO with no writer neither hangs the trace nor names anything.
    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let started = Instant::now();
    assert_eq!(stub_frame(&mut tracer, pid), unnamed);
    assert!(started.elapsed() < Duration::from_secs(10));

    // Gone again: nothing kept from before is used.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, format!("{stub:x} 9 back\n")).unwrap();
    assert_eq!(stub_frame(&mut tracer, pid), jit("back"));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(stub_frame(&mut tracer, pid), unnamed);
    fx.assert_running();
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[test]
fn a_map_in_another_mount_and_pid_namespace() {
    // SAFETY: a plain query.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: new namespaces need root");
        return;
    }
    // The fixture is opened before the tmpfs covers /tmp (a checkout under /tmp would be
    // hidden by it) and run through that descriptor.
    let cmd = format!(
        "exec 3<'{}' && mount -t tmpfs perfmap-test /tmp && exec /proc/self/fd/3",
        perfjit_bin().display()
    );
    let fx = Fixture::spawn_busy(
        Path::new("unshare"),
        &[
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "sh",
            "-c",
            &cmd,
        ],
    );
    let stub = u64::from_str_radix(&fx.next_line(), 16).unwrap();
    let inner = children(fx.pid());
    assert_eq!(inner.len(), 1, "{inner:?}");
    let inner = inner[0];
    let status = std::fs::read_to_string(format!("/proc/{inner}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "{nspid}");
    wait_until("the fixture to park", || {
        common::thread_states(inner).iter().all(|&(_, s)| s == 'S')
    });
    // Its own /tmp (a tmpfs only it sees) has its map, under the pid it knows itself by;
    // ours has a decoy under the pid we know it by.
    let own = PathBuf::from(format!("/proc/{inner}/root/tmp/perf-1.map"));
    std::fs::write(&own, format!("{stub:x} 9 in-namespace\n")).unwrap();
    let decoy = host_map(inner);
    let _remove = Remove(decoy.clone());
    std::fs::write(&decoy, format!("{stub:x} 9 host-decoy\n")).unwrap();
    let mut tracer = Tracer::new(TraceOptions::new());
    assert_eq!(
        stub_frame(&mut tracer, inner),
        (
            Some("in-namespace".into()),
            Some("[perf-map]".into()),
            Some(7)
        )
    );
    assert!(!common::gone(inner));
    // SAFETY: a signal to the process this test started (in its namespace), by pid.
    unsafe { libc::kill(inner as i32, libc::SIGKILL) };
}
