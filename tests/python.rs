//! Mixed Python + native stacks on real interpreters: every CPython under ~/.pyenv/versions
//! from 3.7 (and Debian's /usr/bin/python3) runs a script the test writes, with two threads
//! blocked in known functions at known lines and the main thread in a third; the trace must
//! show those Python frames, in order, each run of them right inside an evaluator frame.

mod common;

use std::path::{Path, PathBuf};

use common::Fixture;
use rstack_tui::{FrameKind, Process, Thread};

/// The script; the line numbers below are those of its blocking lines.
const SCRIPT: &str = "\
import threading, time

ev = threading.Event()
lock = threading.Lock()
lock.acquire()
started = threading.Semaphore(0)

def waiter_inner():
    started.release()
    ev.wait()

def waiter_outer():
    waiter_inner()

def locker():
    started.release()
    lock.acquire()

def main_wait():
    print('ready', flush=True)
    time.sleep(3600)

threading.Thread(target=waiter_outer, name='waiter-A', daemon=True).start()
threading.Thread(target=locker, name='locker-B', daemon=True).start()
started.acquire()
started.acquire()
main_wait()
";

/// The interpreters to test: every pyenv CPython 3.7+, then Debian's.
fn interpreters() -> Vec<(String, PathBuf)> {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut found = Vec::new();
    for minor in 7..=13 {
        let dir = Path::new(&home).join(".pyenv/versions");
        let version = std::fs::read_dir(&dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with(&format!("3.{minor}.")))
        });
        match version {
            Some(v) => found.push((v.clone(), dir.join(v).join("bin/python3"))),
            None => println!("skipped CPython 3.{minor}: not under {}", dir.display()),
        }
    }
    let debian = PathBuf::from("/usr/bin/python3");
    if debian.exists() {
        found.push(("debian".into(), debian));
    } else {
        println!("skipped Debian's python3: no /usr/bin/python3");
    }
    found
}

/// The thread's Python frames as "function file:line" (file by basename), innermost first.
fn python_frames(t: &Thread) -> Vec<String> {
    t.frames()
        .iter()
        .filter(|f| f.kind() == FrameKind::Python)
        .map(|f| {
            let l = f.location().expect("python frame location");
            let base = l.file.rsplit('/').next().unwrap_or("");
            format!("{} {base}:{}", f.symbol().unwrap().name(), l.line)
        })
        .collect()
}

/// The thread whose Python frames include `function`.
fn thread_running<'p>(p: &'p Process, function: &str) -> &'p Thread {
    p.threads()
        .iter()
        .find(|t| {
            python_frames(t)
                .iter()
                .any(|f| f.starts_with(&format!("{function} ")))
        })
        .unwrap_or_else(|| panic!("no thread runs {function}: {p:#?}"))
}

/// Every run of Python frames sits right inside an evaluator frame (its inlined functions
/// aside), and the stack starts
/// with native frames (the blocking call's).
fn assert_spliced(t: &Thread) {
    let frames = t.frames();
    assert_eq!(frames[0].kind(), FrameKind::Native, "{frames:#?}");
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

#[test]
fn python_frames_of_every_interpreter() {
    let dir = std::env::temp_dir().join(format!("rstack-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let interpreters = interpreters();
    assert!(!interpreters.is_empty(), "no CPython found");
    for (version, python) in interpreters {
        let fixture = Fixture::spawn(&python, &[script.to_str().unwrap()]);
        let p = rstack_tui::trace(fixture.pid()).unwrap();
        fixture.assert_running();
        // Qualified names exist from 3.11 (Debian's is 3.11).
        let qualified = !["3.7.", "3.8.", "3.9.", "3.10."]
            .iter()
            .any(|v| version.starts_with(v));
        let (cond, event, thread) = if qualified {
            ("Condition.wait", "Event.wait", "Thread.")
        } else {
            ("wait", "wait", "")
        };
        let bootstrap = [
            format!("{thread}run"),
            format!("{thread}_bootstrap_inner"),
            format!("{thread}_bootstrap"),
        ];
        let main = thread_running(&p, "main_wait");
        assert_eq!(main.id(), fixture.pid(), "{version}");
        assert_eq!(
            chain(main),
            ["main_wait script.py:21", "<module> script.py:27"],
            "{version}"
        );
        let waiter = thread_running(&p, "waiter_inner");
        let mut want: Vec<String> = vec![
            cond.into(),
            event.into(),
            "waiter_inner script.py:10".into(),
            "waiter_outer script.py:13".into(),
        ];
        want.extend(bootstrap.iter().cloned());
        assert_eq!(chain(waiter), want, "{version}");
        let locker = thread_running(&p, "locker");
        let mut want: Vec<String> = vec!["locker script.py:17".into()];
        want.extend(bootstrap.iter().cloned());
        assert_eq!(chain(locker), want, "{version}");
        for t in [main, waiter, locker] {
            assert_spliced(t);
            // Every thread is blocked with the GIL released.
            let py = t.facts().python.as_ref().expect("python facts");
            assert!(!py.holds_gil, "{version}: {py:?}");
            assert_eq!(py.note, None, "{version}");
        }
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
