//! Mixed Python + native stacks on real interpreters: every CPython under ~/.pyenv/versions
//! from 3.7 (and Debian's /usr/bin/python3) runs a script the test writes, with two threads
//! blocked in known functions at known lines and the main thread in a third; the trace must
//! show those Python frames, in order, each run of them right inside an evaluator frame.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::Fixture;
use common::python::{ONE_WAITER, interpreters, python_frames_as};
use rstack_tui::{FrameKind, Process, Thread};

/// The script; the line numbers below are those of its blocking lines. With an argument it
/// also starts a thread spinning in Python (lines 26-28).
const SCRIPT: &str = "\
import socket, sys, threading, time

ev = threading.Event()
lock = threading.Lock()
lock.acquire()
started = threading.Semaphore(0)
a, b = socket.socketpair()

def waiter_inner():
    started.release()
    ev.wait()

def waiter_outer():
    waiter_inner()

def locker():
    started.release()
    lock.acquire()

def reader():
    started.release()
    a.recv(1)

def spin():
    started.release()
    while True:
        n = 0
        n += 1

def main_wait():
    print('ready', flush=True)
    time.sleep(3600)

spinning = len(sys.argv) > 1
threading.Thread(target=waiter_outer, name='waiter-A', daemon=True).start()
threading.Thread(target=locker, name='locker-B', daemon=True).start()
threading.Thread(target=reader, name='reader-D', daemon=True).start()
if spinning:
    threading.Thread(target=spin, name='spinner-C', daemon=True).start()
for _ in range(3 + spinning):
    started.acquire()
main_wait()
";

/// The thread's Python frames as "function file:line" (file by basename), innermost first.
fn python_frames(t: &Thread) -> Vec<String> {
    python_frames_as(t, |path| path.rsplit('/').next().unwrap_or(""))
}

/// Whether the thread's Python frames include `function`.
fn runs(t: &Thread, function: &str) -> bool {
    python_frames(t)
        .iter()
        .any(|f| f.starts_with(&format!("{function} ")))
}

/// The thread whose Python frames include `function`.
fn thread_running<'p>(p: &'p Process, function: &str) -> &'p Thread {
    p.threads()
        .iter()
        .find(|t| runs(t, function))
        .unwrap_or_else(|| panic!("no thread runs {function}: {p:#?}"))
}

/// A blocked thread's stack starts with native frames (the blocking call's) and every run
/// of Python frames sits right inside an evaluator frame.
fn assert_spliced(t: &Thread) {
    assert_eq!(t.frames()[0].kind(), FrameKind::Native, "{:#?}", t.frames());
    assert_runs_in_evaluators(t);
}

/// Every run of Python frames sits right inside an evaluator frame (its inlined functions
/// aside).
fn assert_runs_in_evaluators(t: &Thread) {
    let frames = t.frames();
    for (i, f) in frames.iter().enumerate() {
        let last_of_run = f.kind() == FrameKind::Python
            && frames
                .get(i + 1)
                .is_none_or(|n| n.kind() != FrameKind::Python);
        if last_of_run {
            // The evaluator's own frame, after the functions inlined into it (same ip).
            let next = frames[i + 1..]
                .iter()
                .find(|n| !n.is_inlined())
                .and_then(|n| n.symbol())
                .map(|s| s.raw_name());
            assert!(
                next.is_some_and(|n| n.starts_with("_PyEval_EvalFrameDefault")),
                "Python frame {i} not followed by an evaluator: {:?}",
                next
            );
        }
    }
}

/// Keeps the frames of `script.py` and the threading frames' function names.
fn chain(t: &Thread) -> Vec<String> {
    python_frames(t)
        .into_iter()
        .map(|f| {
            if f.contains(" threading.py:") {
                f.split(' ').next().unwrap().to_string()
            } else {
                f
            }
        })
        .collect()
}

/// Saved as JSON and loaded back, the Python frames and facts are the same; native frames
/// carry no "kind".
fn round_trip(p: &Process) {
    let json = serde_json::to_string(&rstack_tui::tracer::schema::SnapshotDoc::from(p)).unwrap();
    let doc: rstack_tui::tracer::schema::SnapshotDoc<'static> =
        serde_json::from_str(&json).unwrap();
    let back = doc.to_process();
    for (a, b) in p.threads().iter().zip(back.threads()) {
        assert_eq!(python_frames(a), python_frames(b));
        assert_eq!(a.facts().python, b.facts().python);
    }
    let python = p
        .threads()
        .iter()
        .flat_map(|t| t.frames())
        .filter(|f| f.kind() == FrameKind::Python)
        .count();
    assert_eq!(json.matches(r#""kind":"python""#).count(), python);
    // A wait chain's links have a kind too (a thread in recv may have one): not frames.
    let links: usize = p
        .threads()
        .iter()
        .filter_map(|t| t.facts().chain.as_ref())
        .map(|c| c.links.len())
        .sum::<usize>()
        + p.wait_cycles().iter().map(|c| c.links.len()).sum::<usize>();
    assert_eq!(json.matches(r#""kind":"#).count(), python + links);
}

/// The script's path in a fresh directory.
fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rstack-python-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("script.py");
    std::fs::write(&path, text).unwrap();
    path
}

/// A thread spinning in Python holds the GIL; `dump` shows it, its Python frames and its name.
#[test]
fn busy_thread_holds_the_gil_in_dump() {
    let script = script(
        "busy",
        "import threading, time\n\
         def spin():\n\
         \x20   up.set()\n\
         \x20   while True:\n\
         \x20       pass\n\
         \x20       \n\
         up = threading.Event()\n\
         threading.Thread(target=spin, name='spinner-C', daemon=True).start()\n\
         up.wait()\n\
         print('ready', flush=True)\n\
         time.sleep(3600)\n",
    );
    for (version, python) in interpreters() {
        let fixture = Fixture::spawn_busy(&python, &[script.to_str().unwrap()]);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
            .args(["dump", &fixture.pid().to_string()])
            .env("XDG_CACHE_HOME", script.parent().unwrap())
            .output()
            .unwrap();
        fixture.assert_running();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{version}: {text}");
        let path = script.display().to_string();
        assert!(
            text.contains("  -- python: holds the GIL; thread \"spinner-C\"\n"),
            "{version}: {text}"
        );
        assert!(
            text.contains("  -- python: thread \"MainThread\"\n"),
            "{version}: {text}"
        );
        // The spinner is on one of its loop's lines.
        let spin = [4, 5].map(|l| format!("[py] spin  at {path}:{l}\n"));
        assert!(
            spin.iter().any(|s| text.contains(s.as_str())),
            "{version}: {text}"
        );
        assert!(
            text.contains(&format!("[py] <module>  at {path}:11\n")),
            "{version}: {text}"
        );
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

/// Every thread of the script with its spinner, checked: each chain, name and GIL state as
/// expected, or what differs.
fn check_blocked(p: &Process, version: &str, pid: u32) -> Result<(), String> {
    // Qualified names exist from 3.11 (Debian's is 3.11).
    let qualified = !["3.7.", "3.8.", "3.9.", "3.10."]
        .iter()
        .any(|v| version.starts_with(v));
    let (cond, event, thread) = if qualified {
        ("Condition.wait", "Event.wait", "Thread.")
    } else {
        ("wait", "wait", "")
    };
    let with_bootstrap = |own: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        v.extend([
            format!("{thread}run"),
            format!("{thread}_bootstrap_inner"),
            format!("{thread}_bootstrap"),
        ]);
        v
    };
    let find = |function: &str| {
        p.threads()
            .iter()
            .find(|t| runs(t, function))
            .ok_or_else(|| format!("no thread runs {function}"))
    };
    let main = find("main_wait")?;
    if main.id() != pid {
        return Err(format!(
            "main_wait runs on {}, not the main thread",
            main.id()
        ));
    }
    let spinner = find("spin")?;
    // The spinner is on one of its loop's lines.
    let spin_chain = chain(spinner);
    let spin_line = spin_chain
        .first()
        .and_then(|f| f.strip_prefix("spin script.py:"))
        .and_then(|l| l.parse::<u32>().ok());
    if !spin_line.is_some_and(|l| (26..=28).contains(&l)) {
        return Err(format!("spinner off its loop: {spin_chain:?}"));
    }
    let expected = [
        (
            main,
            "MainThread",
            vec![
                "main_wait script.py:32".into(),
                "<module> script.py:42".into(),
            ],
        ),
        (
            find("waiter_inner")?,
            "waiter-A",
            with_bootstrap(&[
                cond,
                event,
                "waiter_inner script.py:11",
                "waiter_outer script.py:14",
            ]),
        ),
        (
            find("locker")?,
            "locker-B",
            with_bootstrap(&["locker script.py:18"]),
        ),
        (
            find("reader")?,
            "reader-D",
            with_bootstrap(&["reader script.py:22"]),
        ),
        (
            spinner,
            "spinner-C",
            with_bootstrap(&[spin_chain[0].as_str()]),
        ),
    ];
    for (t, name, want) in expected {
        if chain(t) != want {
            return Err(format!("{name}: {:?}, not {want:?}", chain(t)));
        }
        let py = t
            .facts()
            .python
            .as_ref()
            .ok_or(format!("{name}: no Python facts"))?;
        // Every other thread is blocked with the GIL released, so the spinner is the one
        // thread that asks for it: once the others are in their blocking calls, it keeps it.
        let busy = name == "spinner-C";
        if py.holds_gil != busy || py.note.is_some() || py.name.as_deref() != Some(name) {
            return Err(format!("{name}: {py:?}"));
        }
    }
    Ok(())
}

#[test]
fn python_frames_of_every_interpreter() {
    let script = script("blocked", SCRIPT);
    let dir = script.parent().unwrap().to_path_buf();
    let interpreters = interpreters();
    assert!(!interpreters.is_empty(), "no CPython found");
    for (version, python) in interpreters {
        let fixture = Fixture::spawn_busy(&python, &[script.to_str().unwrap(), "spin"]);
        // After "ready" the main thread still has to reach its sleep and the spinner to take
        // the GIL back: trace until every thread is where it ends up (a bounded wait).
        let mut p = rstack_tui::trace(fixture.pid()).unwrap();
        let mut checked = check_blocked(&p, &version, fixture.pid());
        for _ in 0..200 {
            if checked.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            p = rstack_tui::trace(fixture.pid()).unwrap();
            checked = check_blocked(&p, &version, fixture.pid());
        }
        fixture.assert_running();
        checked.unwrap_or_else(|e| panic!("{version}: {e}"));
        for t in p.threads() {
            if chain(t).iter().any(|f| f.starts_with("spin ")) {
                // Stopped in its evaluator or in a C helper it called: its innermost frame
                // may be a Python one.
                assert_runs_in_evaluators(t);
            } else {
                assert_spliced(t);
            }
        }
        round_trip(&p);
        // A long-lived tracer reuses the stacks of threads that have not run since, their
        // Python frames and facts with them (the same allocation: not read again).
        let mut tracer = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new());
        let first = tracer.trace(fixture.pid()).unwrap();
        let again = tracer.trace(fixture.pid()).unwrap();
        assert!(again.timings().reused > 0, "{version}");
        let mut carried = 0;
        for (a, b) in first.threads().iter().zip(again.threads()) {
            assert_eq!(a.id(), b.id());
            if !chain(a).iter().any(|f| f.starts_with("spin ")) {
                assert_eq!(python_frames(a), python_frames(b), "{version}");
                assert_eq!(a.facts().python, b.facts().python, "{version}");
            }
            if Arc::ptr_eq(&a.shared_frames(), &b.shared_frames()) && !python_frames(a).is_empty() {
                carried += 1;
            }
        }
        assert!(carried > 0, "{version}: no Python stack carried over");
        check_blocked(&again, &version, fixture.pid()).unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(
            chain(thread_running(&again, "locker"))[0],
            "locker script.py:18"
        );
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A thread that moves from one Python line to another between two traces is "changed" in
/// the diff, and its old and new stacks differ in exactly that frame.
#[test]
fn diff_sees_a_python_thread_move() {
    let script = script(
        "move",
        "import time\n\
         def stage():\n\
         \x20   print('ready', flush=True)\n\
         \x20   input()\n\
         \x20   print('moved', flush=True)\n\
         \x20   time.sleep(3600)\n\
         stage()\n",
    );
    let python = interpreters().into_iter().next().expect("a CPython").1;
    let mut fixture = Fixture::spawn(&python, &[script.to_str().unwrap()]);
    let old = rstack_tui::trace(fixture.pid()).unwrap();
    fixture.send_line("go");
    assert_eq!(fixture.next_line(), "moved");
    common::wait_until("the script to sleep", || {
        fixture.thread_states().iter().all(|(_, s)| *s == 'S')
    });
    let new = rstack_tui::trace(fixture.pid()).unwrap();
    fixture.assert_running();
    let frames = |p: &Process| python_frames(&p.threads()[0]);
    assert_eq!(frames(&old), ["stage script.py:4", "<module> script.py:7"]);
    assert_eq!(frames(&new), ["stage script.py:6", "<module> script.py:7"]);
    let diff = rstack_tui::tracer::diff::diff(&old, &new);
    let main = diff
        .threads
        .iter()
        .find(|t| t.tid == fixture.pid())
        .unwrap();
    assert!(
        matches!(
            main.change,
            rstack_tui::tracer::diff::Change::Changed { .. }
        ),
        "{main:?}"
    );
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

/// Each Python frame of `now` that is not where it was in `before` (counted from the outer
/// end) is a frame of the script at `path`, in the changed part of the diff, and marked "!"
/// in its text; there is at least one.
fn assert_moved_marked(
    text: &str,
    before: &Thread,
    now: &Thread,
    common_outer: usize,
    path: &str,
    version: &str,
) {
    let key = rstack_tui::tracer::diff::stack_key(now);
    let changed = key.len() - common_outer;
    let (py_now, py_before) = (python_frames(now), python_frames(before));
    let mut marked = 0;
    for (i, f) in now.frames().iter().enumerate() {
        if f.kind() != FrameKind::Python {
            continue;
        }
        // Its place among the Python frames, from the outer end.
        let k = now.frames()[i..]
            .iter()
            .filter(|f| f.kind() == FrameKind::Python)
            .count();
        if py_now[py_now.len() - k] != py_before[py_before.len() - k] {
            // Only the script's frames move; the key names them by path and line.
            assert!(
                key[i].contains(&format!(" ({path}:")),
                "{version}: {}",
                key[i]
            );
            assert!(i < changed, "{version}: {i} {key:?}");
            let line = format!("  ! #{i:<2} {}\n", key[i]);
            assert!(text.contains(&line), "{version}: no {line:?} in {text}");
            marked += 1;
        }
    }
    assert!(marked > 0, "{version}: {py_before:?} -> {py_now:?}");
}

/// A thread looping through two functions is on other Python lines from one trace to the
/// next: the diff marks it changed, its moved Python frames "!" in the text, and never
/// counts it as stuck; the main thread, blocked, is the same.
#[test]
fn diff_follows_a_busy_python_thread() {
    let script = script("busydiff", STEPS);
    let path = script.display().to_string();
    for (version, python) in interpreters() {
        let fixture = Fixture::spawn_busy(&python, &[script.to_str().unwrap()]);
        let pid = fixture.pid();
        let spinner = |p: &Process| {
            p.threads()
                .iter()
                .find(|t| chain(t).iter().any(|f| f.starts_with("spin ")))
                .map(|t| (t.id(), python_frames(t)))
        };
        // The main thread's place once it waits (it may still be taking the GIL back).
        let main_waits = |p: &Process| {
            python_frames(&p.threads()[0]).last().map(String::as_str)
                == Some("<module> script.py:17")
        };
        // Trace until two snapshots in a row show the spinner at as many Python frames on
        // other lines (a bounded wait for the thread to move): then its innermost Python frame
        // is among the ones the diff marks. (The frames are read after the thread resumed, so
        // a caller's line may be from a moment later than its callee's: only that they moved
        // is asserted, not which call is on which line.)
        let mut tracer = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new());
        let mut old = tracer.trace(pid).unwrap();
        let mut pair = None;
        for _ in 0..200 {
            let new = tracer.trace(pid).unwrap();
            if let (Some((tid, a)), Some((_, b))) = (spinner(&old), spinner(&new))
                && a.len() == b.len()
                && a != b
                && main_waits(&old)
                && main_waits(&new)
            {
                pair = Some((tid, old, new));
                break;
            }
            old = new;
        }
        fixture.assert_running();
        let (tid, old, new) = pair.unwrap_or_else(|| panic!("{version}: the spinner never moved"));
        let d = rstack_tui::tracer::diff::diff(&old, &new);
        let change = |tid: u32| &d.threads.iter().find(|t| t.tid == tid).unwrap().change;
        let common_outer = match change(tid) {
            rstack_tui::tracer::diff::Change::Changed { common_outer } => *common_outer,
            other => panic!("{version}: the spinner is {other:?}"),
        };
        assert_eq!(
            change(pid),
            &rstack_tui::tracer::diff::Change::Unchanged,
            "{version}"
        );
        // Not stuck: its run of equal stacks starts anew at the newer snapshot.
        let run = rstack_tui::tracer::diff::unchanged_run(&[&old, &new], tid).unwrap();
        assert_eq!(run, (1, std::time::Duration::ZERO), "{version}");
        // The text: the thread changed, and each Python frame that is not where it was
        // (counted from the outer end) is in the changed part, marked "!".
        let text = rstack_tui::dump::diff_to_text(&d, &old, &new);
        assert!(
            text.contains(&format!("  [changed] {tid} ")),
            "{version}: {text}"
        );
        let now = new.threads().iter().find(|t| t.id() == tid).unwrap();
        let before = old.threads().iter().find(|t| t.id() == tid).unwrap();
        assert_moved_marked(&text, before, now, common_outer, &path, &version);
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

/// The script of the busy-thread tests: `spin` calls `step_a` on line 11 and `step_b` on
/// line 12, forever.
const STEPS: &str = "\
import threading
def step_a():
    for _ in range(300):
        pass
def step_b():
    for _ in range(300):
        pass
def spin():
    up.set()
    while True:
        step_a()
        step_b()
up = threading.Event()
threading.Thread(target=spin, name='spinner-C', daemon=True).start()
up.wait()
print('ready', flush=True)
threading.Event().wait()
";

/// A running thread's chain is never torn: `step_a` is only ever shown called from line 11
/// and `step_b` from line 12 (a chain left out with a note is fine, if rare). Read after the
/// thread resumed, 10-30% of 200 traces were torn on 3.7, 3.8 and 3.10-3.12 (a callee read
/// before a return joined to its caller's next call); the chain is now copied during the
/// thread's stop.
#[test]
fn busy_python_chains_are_never_torn() {
    let script = script("torn", STEPS);
    for (version, python) in interpreters() {
        let fixture = Fixture::spawn_busy(&python, &[script.to_str().unwrap()]);
        let mut tracer = rstack_tui::Tracer::new(rstack_tui::TraceOptions::new());
        let mut torn = Vec::new();
        let mut seen = 0;
        for _ in 0..200 {
            let p = tracer.trace(fixture.pid()).unwrap();
            let Some(t) = p
                .threads()
                .iter()
                .find(|t| chain(t).iter().any(|f| f.starts_with("spin ")))
            else {
                continue;
            };
            seen += 1;
            let frames = chain(t);
            let callee = frames[0].split(' ').next().unwrap();
            let want = match callee {
                "step_a" => "spin script.py:11",
                "step_b" => "spin script.py:12",
                _ => continue,
            };
            if frames[1] != want {
                torn.push(frames);
            }
        }
        fixture.assert_running();
        assert_eq!(
            torn,
            Vec::<Vec<String>>::new(),
            "{version}: {} torn",
            torn.len()
        );
        assert!(
            seen >= 180,
            "{version}: the spinner's chain in {seen} of 200 traces"
        );
        println!("{version}: {seen} of 200 traces show the spinner's chain, none torn");
    }
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

/// py-spy's `dump` of the blocked script lists, per thread, the same Python frames (function,
/// file and line, in order) as our trace, on 3.8, 3.11 and 3.13. py-spy is $PYSPY, else the
/// one scripts/deps.sh installs into target/py-spy; missing, the test fails, unless
/// RSTACK_NO_PYSPY is set (for machines that cannot install it).
#[test]
fn python_frames_equal_py_spy() {
    let py_spy = std::env::var_os("PYSPY").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).join("../py-spy/bin/py-spy"),
        PathBuf::from,
    );
    if !py_spy.exists() {
        assert!(
            std::env::var_os("RSTACK_NO_PYSPY").is_some(),
            "{} is missing: scripts/deps.sh installs it (PyPI's py-spy), or set PYSPY to one, \
             or RSTACK_NO_PYSPY=1 to skip this test",
            py_spy.display()
        );
        println!(
            "skipped: no py-spy at {} and RSTACK_NO_PYSPY is set",
            py_spy.display()
        );
        return;
    }
    let script = script("pyspy", SCRIPT);
    let mut checked = 0;
    for (version, python) in interpreters() {
        if !["3.8.", "3.11.", "3.13."]
            .iter()
            .any(|v| version.starts_with(v))
        {
            continue;
        }
        let fixture = Fixture::spawn(&python, &[script.to_str().unwrap()]);
        let p = rstack_tui::trace(fixture.pid()).unwrap();
        let out = std::process::Command::new(&py_spy)
            .args(["dump", "--pid", &fixture.pid().to_string()])
            .output()
            .unwrap();
        fixture.assert_running();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut theirs: Vec<Vec<String>> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with("Thread ") {
                theirs.push(Vec::new());
            } else if let (Some(frames), Some(f)) = (theirs.last_mut(), line.strip_prefix("    "))
                && !f.starts_with(' ')
            {
                // "function (file:line)", file as py-spy shortens it: compare basenames.
                let (name, place) = f.rsplit_once(" (").unwrap();
                let place = place.trim_end_matches(')');
                let base = place.rsplit('/').next().unwrap();
                frames.push(format!("{name} {base}"));
            }
        }
        let mut ours: Vec<Vec<String>> = p
            .threads()
            .iter()
            .map(python_frames)
            .filter(|f| !f.is_empty())
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{version}");
        checked += 1;
        println!("{version}: equal to py-spy");
    }
    assert_eq!(checked, 3, "3.8, 3.11 and 3.13 are installed");
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

/// A thread running a subinterpreter has a thread state in each interpreter: the
/// subinterpreter's frames are the inner ones, both spliced at their own evaluator frames.
#[test]
fn subinterpreter_frames_are_inside_the_main_ones() {
    let script = script(
        "sub",
        "import os, threading, time\n\
         try:\n\
         \x20   import _xxsubinterpreters as interpreters\n\
         except ImportError:\n\
         \x20   try:\n\
         \x20       import _interpreters as interpreters\n\
         \x20   except ImportError:\n\
         \x20       interpreters = None\n\
         r, w = os.pipe()\n\
         code = f'import os, time\\ndef in_sub():\\n    os.write({w}, b\"x\")\\n    time.sleep(3600)\\nin_sub()\\n'\n\
         def runner():\n\
         \x20   iid = interpreters.create()\n\
         \x20   run = getattr(interpreters, 'run_string', None) or interpreters.exec\n\
         \x20   run(iid, code)\n\
         if interpreters:\n\
         \x20   threading.Thread(target=runner, name='runner', daemon=True).start()\n\
         \x20   os.read(r, 1)\n\
         print('ready', flush=True)\n\
         print('sub' if interpreters else 'nosub', flush=True)\n\
         time.sleep(3600)\n",
    );
    for (version, python) in interpreters() {
        let fixture = Fixture::spawn(&python, &[script.to_str().unwrap()]);
        if fixture.next_line() == "nosub" {
            println!("skipped {version}: no subinterpreter module");
            continue;
        }
        let qualified = !["3.7.", "3.8.", "3.9.", "3.10."]
            .iter()
            .any(|v| version.starts_with(v));
        let thread = if qualified { "Thread." } else { "" };
        let want = [
            "in_sub <string>:4".to_string(),
            "<module> <string>:5".into(),
            "runner script.py:14".into(),
            format!("{thread}run"),
            format!("{thread}_bootstrap_inner"),
            format!("{thread}_bootstrap"),
        ];
        // The runner may still be taking the GIL back after its write: trace until it sleeps.
        let mut got = Vec::new();
        for _ in 0..50 {
            let p = rstack_tui::trace(fixture.pid()).unwrap();
            let t = thread_running(&p, "runner");
            got = chain(t);
            if got == want {
                assert_spliced(t);
                assert_eq!(
                    t.facts().python.as_ref().and_then(|p| p.name.as_deref()),
                    Some("runner")
                );
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(got, want, "{version}");
        fixture.assert_running();
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(script.parent().unwrap());
}

#[test]
fn brief_leaves_out_the_interpreters_frames_between_python_frames() {
    let script = script("brief", ONE_WAITER);
    for (version, python) in interpreters() {
        let fixture = Fixture::spawn(&python, &[script.to_str().unwrap()]);
        let dump = |brief: bool| {
            let mut args = vec!["dump".to_string(), fixture.pid().to_string()];
            if brief {
                args.push("--brief".into());
            }
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
                .args(&args)
                .env("XDG_CACHE_HOME", script.parent().unwrap())
                .output()
                .unwrap();
            assert!(out.status.success(), "{version}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // The waiter's block, brief and whole.
        let waiter = |text: &str| -> Vec<String> {
            let block = text
                .split("\n\n")
                .find(|b| b.contains("-- python: thread \"waiter-A\""))
                .unwrap_or_else(|| panic!("{version}: no waiter in {text}"));
            block.lines().map(str::to_owned).collect()
        };
        let (brief, whole) = (waiter(&dump(true)), waiter(&dump(false)));
        fixture.assert_running();
        let py = |lines: &[String]| -> Vec<usize> {
            (0..lines.len())
                .filter(|&i| lines[i].contains("[py] "))
                .collect()
        };
        let (bp, wp) = (py(&brief), py(&whole));
        assert_eq!(bp.len(), wp.len(), "{version}: the Python frames all stay");
        assert!(bp.len() >= 3, "{version}: {brief:#?}");
        // Between the first and last Python frame: only Python frames and the markers of
        // what was left out; no evaluator frame.
        for line in &brief[bp[0]..=*bp.last().unwrap()] {
            assert!(
                line.contains("[py] ") || line.contains(" interpreter frames"),
                "{version}: {line}"
            );
        }
        let evaluators = |lines: &[String]| {
            lines
                .iter()
                .filter(|l| l.contains("_PyEval_EvalFrameDefault"))
                .count()
        };
        // Where the whole stack has evaluator frames between Python frames (a call through
        // C, as Thread.run's up to 3.11), the brief one says how many frames it left out.
        if evaluators(&whole[wp[0]..=*wp.last().unwrap()]) > 0 {
            assert!(
                brief.iter().any(|l| l.contains(" interpreter frames")),
                "{version}: {brief:#?}"
            );
        }
        // Above the innermost Python frame (the C code it called) and below the outermost,
        // the frames are the same.
        assert_eq!(brief[..bp[0]], whole[..wp[0]], "{version}");
        assert_eq!(
            brief[*bp.last().unwrap() + 1..],
            whole[*wp.last().unwrap() + 1..],
            "{version}"
        );
    }
}
