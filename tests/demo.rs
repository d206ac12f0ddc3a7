//! The bundled demo process (`rstack_tui::demo::run_target`), traced live: every thread with
//! its name, state and the demo's own call chain, and the process left running afterwards.
//! The demo runs as `rstack-tui __demo-target`, as `rstack-tui demo` starts it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{frames_with_prefix, thread_states, tracer_pid, wait_until};
use rstack_tui::Thread;

/// How long the demo may take to print "ready".
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The demo's function names share this prefix.
const DEMO: &str = "rstack_tui::demo::";

/// The entry point of the demo child: does nothing unless `RSTACK_DEMO_CHILD` is set.
#[test]
fn demo_subcommand_threads_have_their_stacks() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rstack-tui"));
    cmd.arg("__demo-target");
    Demo::spawn(cmd).check();
}

/// A running demo process; killed (by pid) and reaped when dropped.
struct Demo {
    child: Child,
}

impl Demo {
    /// Spawns `cmd` and waits (bounded) for the exact line "ready" on its stdout.
    fn spawn(mut cmd: Command) -> Demo {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let demo = Demo { child };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Keep draining after "ready" so the demo never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "ready"
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|_| panic!("demo {cmd:?} never printed ready"));
        demo
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Traces the demo and checks every thread.
    fn check(&self) {
        let pid = self.pid();
        // "ready" is the runner's last write: wait until it, too, sleeps in `main_wait`.
        let busy = names(pid)
            .into_iter()
            .find(|(_, name)| name == "busy")
            .map(|(tid, _)| tid)
            .expect("a thread named busy");
        wait_until("every demo thread but busy to sleep", || {
            let states = thread_states(pid);
            !states.is_empty()
                && states
                    .iter()
                    .all(|(tid, state)| *tid == busy || *state == 'S')
        });

        let p = rstack_tui::trace(pid).expect("trace the demo");
        self.assert_running();

        let main_comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        let mut expected: Vec<String> = vec![main_comm.trim_end_matches('\n').to_string()];
        expected.extend((0..8).map(|i| format!("pool-{i}")));
        expected.extend(
            ["busy", "sleeper", "deadlock-a", "deadlock-b"]
                .iter()
                .map(|s| s.to_string()),
        );
        expected.sort();
        let mut got: Vec<String> = p
            .threads()
            .iter()
            .map(|t| t.name().expect("thread names requested").to_string())
            .collect();
        got.sort();
        assert_eq!(got, expected, "thread names");

        for t in p.threads() {
            let name = t.name().unwrap();
            assert_eq!(t.error(), None, "{name}");
            let chain = demo_chain(t);
            let state = t.facts().state;
            if name == "busy" {
                assert_eq!(state, Some('R'), "busy state");
                // Caught anywhere in its loop: in hash_block or in crunch_numbers itself.
                assert!(
                    chain == [fq("hash_block"), fq("crunch_numbers")]
                        || chain == [fq("crunch_numbers")],
                    "busy frames {chain:?}: {:#?}",
                    t.frames()
                );
                continue;
            }
            assert_eq!(state, Some('S'), "{name} state");
            let expected: Vec<String> = match name {
                "sleeper" => vec![fq("nap"), fq("sleeper_loop")],
                "deadlock-a" => vec![fq("PthreadMutex::lock"), fq("transfer_a_to_b")],
                "deadlock-b" => vec![fq("PthreadMutex::lock"), fq("transfer_b_to_a")],
                n if n.starts_with("pool-") => vec![fq("wait_for_job"), fq("pool_worker")],
                _ if t.id() == pid => vec![fq("main_wait"), fq("run_target")],
                other => panic!("unexpected thread {other:?}"),
            };
            assert_eq!(chain, expected, "{name} frames: {:#?}", t.frames());
        }
        assert_eq!(p.threads()[0].id(), pid, "the main thread comes first");
        // The two glibc mutexes held crosswise are diagnosed as a deadlock.
        let tid_of = |n: &str| {
            p.threads()
                .iter()
                .find(|t| t.name() == Some(n))
                .unwrap()
                .id()
        };
        let (a, b) = (tid_of("deadlock-a"), tid_of("deadlock-b"));
        let expected = if a < b { vec![a, b] } else { vec![b, a] };
        assert_eq!(p.deadlocks(), [expected], "deadlocks");
    }

    /// Asserts that no thread of the demo is stopped or traced, and that nobody traces it.
    fn assert_running(&self) {
        let states = thread_states(self.pid());
        assert!(!states.is_empty(), "demo {} is gone", self.pid());
        for (tid, state) in states {
            assert!(
                !matches!(state, 'T' | 't'),
                "thread {tid} of the demo left in state {state}"
            );
        }
        assert_eq!(tracer_pid(self.pid()), 0, "demo still traced");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rstack_tui::demo::<f>`.
fn fq(f: &str) -> String {
    format!("{DEMO}{f}")
}

/// A thread's frames in the demo module, innermost first, without closures (the thread entry
/// closures are inlined or not depending on the build profile).
fn demo_chain(t: &Thread) -> Vec<String> {
    frames_with_prefix(t, DEMO)
        .into_iter()
        .filter(|n| !n.contains('{'))
        .collect()
}

/// (tid, comm) of every thread of `pid`.
fn names(pid: u32) -> Vec<(u32, String)> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        Some((tid, comm.trim_end_matches('\n').to_string()))
    })
    .collect()
}
