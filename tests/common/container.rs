//! The container launcher of tests/fixtures/container.c: starts a program in a mount
//! namespace of its own whose root is a fresh tmpfs holding only the files named, so the
//! target's files exist at paths the host does not have.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Fixture, fixtures_dir, gcc};

/// The launcher, built once per test binary.
pub fn launcher() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("container.c");
        gcc("container", &["-O1".as_ref(), src.as_os_str()])
    })
}

/// The entry copying host file `src` (its symbolic links followed) to `dest` in the
/// container.
pub fn copy(src: &Path, dest: &str) -> String {
    let real = std::fs::canonicalize(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    format!("{}:{dest}", real.display())
}

/// Starts `command` in a container rooted at `root` (a directory the tmpfs is mounted on)
/// holding `entries` (container.c's SRC:DEST, @LINK:DEST and |:DEST forms); waits for its
/// "ready" line and for every thread to sleep, as [`Fixture::spawn`].
pub fn spawn(root: &Path, entries: &[String], command: &[&str]) -> Fixture {
    std::fs::create_dir_all(root).unwrap();
    let mut args: Vec<String> = vec![root.display().to_string()];
    args.extend(entries.iter().cloned());
    args.push("--".into());
    args.extend(command.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Fixture::spawn(launcher(), &args)
}
