//! The CPython interpreters the Python tests run (every pyenv CPython from 3.7, then Debian's
//! /usr/bin/python3; a version that is absent is skipped with a printed line), a script they
//! share and a thread's Python frames as text.

use std::path::{Path, PathBuf};

use rstack_tui::{FrameKind, Thread};

/// A script whose thread "waiter-A" waits on an event in `wait_for_work` (line 3) while the
/// main thread, after "ready", waits forever.
pub const ONE_WAITER: &str = "import threading\n\
    def wait_for_work(ev):\n\
    \x20   ev.wait()\n\
    ev = threading.Event()\n\
    threading.Thread(target=wait_for_work, args=(ev,), name='waiter-A', daemon=True).start()\n\
    print('ready', flush=True)\n\
    threading.Event().wait()\n";

/// The interpreters to test: every pyenv CPython 3.7+, then Debian's.
pub fn interpreters() -> Vec<(String, PathBuf)> {
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

/// The thread's Python frames as "function file:line", innermost first, the file as `file`
/// words its path.
pub fn python_frames_as(t: &Thread, file: fn(&str) -> &str) -> Vec<String> {
    t.frames()
        .iter()
        .filter(|f| f.kind() == FrameKind::Python)
        .map(|f| {
            let l = f.location().expect("python frame location");
            format!(
                "{} {}:{}",
                f.symbol().unwrap().name(),
                file(&l.file),
                l.line
            )
        })
        .collect()
}
