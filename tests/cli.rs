//! `rstack-tui dump` as a user runs it: text and JSON on a real fixture, exit codes and
//! one-line messages for bad input, inert output for hostile names, and detach on SIGTERM.

mod common;

use std::process::{Command, Stdio};

use common::{Fixture, expected_worker_chain, run_cli, threads_bin, tid_named, wait_until};
use nix::sys::ptrace;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

#[test]
fn text_dump_lists_every_thread_with_frames() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let (code, out, err) = run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.starts_with(&format!("Process {} ", fx.pid())), "{out}");
    assert!(
        out.contains(&format!("Thread {} \"rsfixture\" (S sleeping", fx.pid())),
        "{out}"
    );
    for i in 0..3 {
        let header = out
            .lines()
            .position(|l| l.contains(&format!("\"worker-{i}\" (S sleeping")))
            .expect("worker header");
        assert!(
            out.lines().nth(header).unwrap().contains("in futex"),
            "{out}"
        );
        // The block's fixture frames, in order, in the `#n  0xIP  symbol+0xoff  (module)` form.
        // A condvar wait has a lock line ("  -- waiting on 0x…: not a glibc mutex") first.
        let lock = out.lines().nth(header + 1).unwrap();
        assert!(
            lock.starts_with("  -- waiting on 0x") && lock.contains("not a glibc mutex"),
            "{out}"
        );
        let block: Vec<&str> = out
            .lines()
            .skip(header + 2)
            .take_while(|l| l.starts_with("  #"))
            .collect();
        // Inlined functions (`[inlined] NAME  at FILE:LINE`) are listed too; the physical
        // frames are the chain.
        let names: Vec<String> = block
            .iter()
            .filter(|l| !l.contains("  [inlined] "))
            .filter_map(|l| l.split_whitespace().nth(2))
            .filter(|s| s.starts_with("threads_fixture::"))
            .map(|s| s.split("+0x").next().unwrap().to_string())
            .collect();
        assert_eq!(names, expected_worker_chain(i), "{out}");
        assert!(
            block.iter().all(|l| {
                let l = l.split("  at ").next().unwrap();
                l.contains(" 0x") && (l.contains("  [inlined] ") || l.trim_end().ends_with(')'))
            }),
            "{block:#?}"
        );
    }
    fx.assert_running();
}

#[test]
fn a_thread_id_dumps_its_process_with_the_thread_marked() {
    let fx = Fixture::spawn(threads_bin(), &["park", "3"]);
    let tid = tid_named(fx.pid(), "worker-1");
    let (code, out, err) = run_cli(&["dump", &tid.to_string()]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        err,
        format!(
            "rstack-tui: thread {tid} belongs to process {} (rsfixture): showing the process, \
             thread {tid} selected\n",
            fx.pid()
        )
    );
    assert!(out.starts_with(&format!("Process {} ", fx.pid())), "{out}");
    assert!(out.contains(" 4 threads, "), "{out}");
    // The thread asked for is marked as gdb marks the current thread, and only it.
    let marked: Vec<&str> = out.lines().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(marked.len(), 1, "{out}");
    assert!(
        marked[0].starts_with(&format!("* Thread {tid} \"worker-1\" (S sleeping")),
        "{out}"
    );
    assert!(
        out.contains(&format!("\nThread {} \"rsfixture\" (", fx.pid())),
        "{out}"
    );
    // The process's own id: no message, no mark; JSON is the process's, the message on stderr.
    let (code, out, err) = run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("* ")), "{out}");
    let (code, json, err) = run_cli(&["dump", "--json", &tid.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("thread {tid} belongs to process {}", fx.pid())));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["pid"], fx.pid());
    fx.assert_running();
}

#[test]
fn json_dump_follows_the_schema() {
    let fx = Fixture::spawn(threads_bin(), &["park", "2"]);
    // `--unwinder=ptrace`: libunwind's ptrace accessors, through the binary, whose own
    // `sigprocmask` libunwind's calls reach.
    for extra in [
        None,
        Some("--snapshot"),
        Some("--ptrace-attach"),
        Some("--unwinder=ptrace"),
    ] {
        let pid = fx.pid().to_string();
        let mut args = vec!["dump", pid.as_str(), "--json"];
        args.extend(extra);
        let (code, out, err) = run_cli(&args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["version"], 2);
        assert_eq!(doc["pid"], fx.pid());
        assert!(doc["taken_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            doc["mode"],
            if extra == Some("--snapshot") {
                "snapshot"
            } else {
                "rolling"
            }
        );
        let threads = doc["threads"].as_array().unwrap();
        assert_eq!(threads.len(), 3);
        for t in threads {
            assert!(
                t["tid"].as_u64().is_some()
                    && t["state"] == "S"
                    && t["syscall"]["name"] == "futex"
                    && t["wait"].is_string(),
                "{t}"
            );
            let name = t["name"].as_str().unwrap();
            let symbols: Vec<&str> = t["frames"]
                .as_array()
                .unwrap()
                .iter()
                .inspect(|f| assert!(f["ip"].as_u64().is_some() && f["module"].is_string(), "{f}"))
                .filter(|f| f["inlined"] == false)
                .filter_map(|f| f["symbol"].as_str())
                .filter(|s| s.starts_with("threads_fixture::"))
                .collect();
            match name.strip_prefix("worker-") {
                Some(i) => assert_eq!(
                    symbols,
                    expected_worker_chain(i.parse().unwrap()),
                    "{extra:?}"
                ),
                None => assert_eq!(
                    symbols,
                    ["threads_fixture::main_park", "threads_fixture::main"]
                ),
            }
        }
        fx.assert_running();
    }
}

#[test]
fn hostile_names_come_out_inert() {
    let fx = Fixture::spawn(threads_bin(), &["hostile", "\u{1b}[31marg\u{9b}"]);
    let pid = fx.pid().to_string();
    let (code, text, err) = run_cli(&["dump", &pid]);
    assert_eq!(code, 0, "{err}");
    let (code, json, err) = run_cli(&["dump", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    for out in [&text, &json] {
        assert!(
            !out.chars().any(|c| c == '\u{1b}'
                || c == '\u{7f}'
                || c == '\u{7}'
                || ('\u{80}'..='\u{9f}').contains(&c)),
            "{out:?}"
        );
    }
    // Quoted names escape their backslashes, so an escaped ESC cannot pass for a name that
    // spells out "\x1b".
    assert!(text.contains(r#""\\x1b]0;pwn\\x07\\x1b[2J""#), "{text}");
    assert!(text.contains(r#""\\u{9b}31m\\x7fdel""#), "{text}");
    assert!(text.contains(r#""\\xff\\xfe\\x1b[5mbad""#), "{text}");
    assert!(text.contains(r"\\x1b[31marg\\u{9b}"), "{text}");
    // The JSON still parses, and names read back as the same visible escapes.
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&r"\x1b]0;pwn\x07\x1b[2J"), "{names:?}");
    fx.assert_running();
}

fn assert_error(args: &[&str], needles: &[&str]) {
    assert_error_code(args, needles, 2);
}

fn assert_error_code(args: &[&str], needles: &[&str], want: i32) {
    let (code, out, err) = run_cli(args);
    assert_eq!(code, want, "{args:?}: stdout {out:?} stderr {err:?}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_a_message_and_exit_code_2() {
    // No such process has its own exit code, 4.
    assert_error_code(&["dump", "0"], &["rstack-tui: error: no process 0"], 4);
    assert_error_code(&["dump", "--", "-5"], &["no process -5"], 4);
    assert_error_code(&["dump", "1073741823"], &["no process 1073741823"], 4);
    assert_error(&["dump", "2"], &["kernel thread"]);
    // Not a pid: a name, and no process has it.
    assert_error_code(&["dump", "not-a-pid"], &["no process named 'not-a-pid'"], 4);
}

#[test]
fn our_own_pid_is_refused() {
    let bin = env!("CARGO_BIN_EXE_rstack-tui");
    // The shell execs rstack-tui, so $$ is rstack-tui's own pid.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {bin} dump $$"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("our own process"));
}

#[test]
fn zombie_gets_a_message_and_exit_code_2() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    wait_until("the child to become a zombie", || {
        common::thread_states(pid)
            .first()
            .is_some_and(|(_, s)| *s == 'Z')
    });
    assert_error(&["dump", &pid.to_string()], &["zombie"]);
    child.wait().unwrap();
}

#[test]
fn already_traced_names_the_tracer() {
    let fx = Fixture::spawn(threads_bin(), &["park", "1"]);
    let main = Pid::from_raw(fx.pid() as i32);
    ptrace::seize(main, ptrace::Options::empty()).unwrap();
    // Stopped, so that it can be detached again (PTRACE_DETACH needs a stopped tracee).
    ptrace::interrupt(main).unwrap();
    waitpid(main, Some(WaitPidFlag::__WALL)).unwrap();
    let result = std::panic::catch_unwind(|| {
        assert_error(
            &["dump", &fx.pid().to_string()],
            &["already traced by", "detach it first"],
        );
    });
    ptrace::detach(main, None).unwrap();
    result.unwrap();
    fx.assert_running();
}

#[test]
fn sigterm_during_a_dump_resumes_every_thread() {
    let fx = Fixture::spawn(threads_bin(), &["park", "300"]);
    for snapshot in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rstack-tui"));
        cmd.args(["dump", &fx.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if snapshot {
            cmd.arg("--snapshot");
        }
        let child = cmd.spawn().unwrap();
        // Signal it as soon as it holds a thread of the fixture (or has finished).
        wait_until("the dump to attach or finish", || {
            common::tracer_pid(fx.pid()) != 0
                || common::thread_states(fx.pid())
                    .iter()
                    .any(|(_, s)| *s == 't')
                || common::thread_states(child.id())
                    .first()
                    .is_none_or(|(_, s)| *s == 'Z')
        });
        nix::sys::signal::kill(
            Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        let code = out.status.code();
        assert!(
            code == Some(130) || code == Some(0),
            "snapshot={snapshot}: {code:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(130) {
            assert!(
                String::from_utf8_lossy(&out.stderr)
                    .contains("cancelled; every thread was detached")
            );
        }
        fx.assert_running();
    }
}
