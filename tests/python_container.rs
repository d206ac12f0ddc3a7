//! Python frames of CPythons running in a container: each interpreter (Debian's, libpython
//! linked in, and pyenv's with their libpython) at paths the host does not have, with only
//! the stdlib files the script loads; the tracer reads them through the target's root and
//! finds the same Python frames and thread names as for the same script run on the host.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Fixture;
use common::python::{interpreters, python_frames_as};
use rstack_tui::Process;

/// The script; its blocking lines are 7 (the waiter) and 14 (the main thread).
const SCRIPT: &str = "\
import threading, time
ev = threading.Event()
started = threading.Semaphore(0)

def waiter_inner():
    started.release()
    ev.wait()

def waiter_outer():
    waiter_inner()

def main_wait():
    print('ready', flush=True)
    time.sleep(3600)

threading.Thread(target=waiter_outer, name='waiter-A', daemon=True).start()
started.acquire()
main_wait()
";

/// Where the interpreter lives in the container.
const PREFIX: &str = "/opt/rstack-py";

/// The interpreter's flags: no site, no user paths or environment, no bytecode written.
const FLAGS: [&str; 3] = ["-S", "-I", "-B"];

/// The interpreter's stdlib directory.
fn stdlib_of(python: &Path) -> PathBuf {
    let out = Command::new(python)
        .args(FLAGS)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('stdlib'))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The stdlib files the script loads (sources and extension modules; the frozen and
/// built-in modules need none), found by importing what it imports on the host, and os.py,
/// the landmark by which the interpreter finds its stdlib.
fn stdlib_files(python: &Path, stdlib: &Path) -> Vec<PathBuf> {
    let out = Command::new(python)
        .args(FLAGS)
        .args([
            "-c",
            "import sys, threading, time\n\
             for m in list(sys.modules.values()):\n\
             \x20   origin = getattr(getattr(m, '__spec__', None), 'origin', None)\n\
             \x20   if origin and origin.endswith(('.py', '.so')): print(origin)\n",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files: Vec<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    files.push(stdlib.join("os.py"));
    files.sort();
    files.dedup();
    assert!(files.iter().all(|f| f.starts_with(stdlib)), "{files:?}");
    files
}

/// The shared libraries `ldd` lists for `bin`, the loader included.
fn libraries(bin: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(bin).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let path = l.split("=> ").nth(1).unwrap_or(l).trim_start();
            let path = path.split(" (").next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Each thread's Python name and frames, by thread order; the `from` prefix of file names
/// written `to`.
fn threads(p: &Process, from: &str, to: &str) -> Vec<(Option<String>, Vec<String>)> {
    p.threads()
        .iter()
        .map(|t| {
            let py = t.facts().python.as_ref().expect("python facts");
            assert_eq!(py.note, None, "{p:#?}");
            let frames = python_frames_as(t, |path| path)
                .into_iter()
                .map(|f| f.replacen(from, to, 1))
                .collect();
            (py.name.clone(), frames)
        })
        .collect()
}

/// The container's entries for `python` (its real file) and the script, and the paths of
/// the interpreter's binary, stdlib and evaluator module (libpython or the binary) in it.
fn entries(python: &Path, script: &Path) -> (Vec<String>, String, String, String) {
    let stdlib = stdlib_of(python);
    let name = python.file_name().unwrap().to_str().unwrap();
    let bin = format!("{PREFIX}/bin/{name}");
    let lib = format!(
        "{PREFIX}/lib/{}",
        stdlib.file_name().unwrap().to_str().unwrap()
    );
    let mut evaluator = bin.clone();
    let mut entries = vec![
        common::container::copy(python, &bin),
        common::container::copy(script, "/app/script.py"),
        // The directory whose presence tells the interpreter where its extension modules are.
        format!("@none:{lib}/lib-dynload/.none"),
    ];
    for f in libraries(python) {
        let file = f.file_name().unwrap().to_str().unwrap();
        if file.starts_with("libpython") {
            // Out of its RUNPATH (pyenv's directory): found in the loader's default one.
            evaluator = format!("/usr/lib/{file}");
            entries.push(common::container::copy(&f, &evaluator));
        } else {
            entries.push(common::container::copy(&f, f.to_str().unwrap()));
        }
    }
    for f in stdlib_files(python, &stdlib) {
        let rel = f.strip_prefix(&stdlib).unwrap();
        entries.push(common::container::copy(
            &f,
            &format!("{lib}/{}", rel.display()),
        ));
    }
    (entries, bin, lib, evaluator)
}

#[test]
fn python_frames_of_a_container_interpreter() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-container");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let interpreters = interpreters();
    assert!(!interpreters.is_empty(), "no CPython found");
    for (version, python) in interpreters {
        let python = std::fs::canonicalize(python).unwrap();
        let (entries, bin, lib, evaluator) = entries(&python, &script);
        let mut command = vec![bin.as_str()];
        command.extend(FLAGS);
        command.push("/app/script.py");
        let inside = common::container::spawn(&dir.join("root"), &entries, &command);
        let p = rstack_tui::trace(inside.pid()).unwrap();
        inside.assert_running();

        // The interpreter's frames come from its file in the container, which the host lacks.
        assert!(!Path::new(&evaluator).exists(), "the host has {evaluator}");
        let module = p.threads()[0]
            .frames()
            .iter()
            .find(|f| {
                f.symbol()
                    .is_some_and(|s| s.name().starts_with("_PyEval_EvalFrameDefault"))
            })
            .and_then(|f| f.module())
            .map(|m| m.path.clone());
        assert_eq!(
            module.as_deref(),
            Some(evaluator.as_str()),
            "{version}: {p:#?}"
        );

        let got = threads(&p, &lib, "STDLIB");
        assert_eq!(got.len(), 2, "{version}: {got:#?}");
        assert_eq!(
            got[0],
            (
                Some("MainThread".into()),
                vec![
                    "main_wait /app/script.py:14".into(),
                    "<module> /app/script.py:18".into()
                ]
            ),
            "{version}"
        );
        let waiter = &got[1];
        assert_eq!(waiter.0.as_deref(), Some("waiter-A"), "{version}");
        assert_eq!(
            waiter.1[2..4],
            [
                "waiter_inner /app/script.py:7",
                "waiter_outer /app/script.py:10"
            ],
            "{version}"
        );

        // The same script on the host: the same frames, their lines in threading.py included.
        let host = Fixture::spawn(
            &python,
            &[FLAGS[0], FLAGS[1], FLAGS[2], script.to_str().unwrap()],
        );
        let q = rstack_tui::trace(host.pid()).unwrap();
        host.assert_running();
        let stdlib = stdlib_of(&python);
        let want: Vec<_> = threads(&q, stdlib.to_str().unwrap(), "STDLIB")
            .into_iter()
            .map(|(n, f)| {
                let f = f
                    .into_iter()
                    .map(|f| f.replace(script.to_str().unwrap(), "/app/script.py"))
                    .collect();
                (n, f)
            })
            .collect();
        assert_eq!(got, want, "{version}");
        println!("{version}: ok");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
