//! The CPython interpreters the Python tests run: every pyenv CPython from 3.7, then Debian's
//! /usr/bin/python3; a version that is absent is skipped with a printed line.

use std::path::{Path, PathBuf};

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
