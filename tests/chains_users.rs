//! Wait chains as an unprivileged user: a process of user `nobody` reads a FIFO whose write
//! end only this (root) test holds. `dump` run as root names this process; run as `nobody`
//! it cannot read root's fds, names nobody, and says why and how to see more.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::wait_until;

const NOBODY: u32 = 65534;

/// A directory every user may use, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process started here, killed by pid when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `rstack-tui ARGS` as user `nobody` (its own copy, in a directory nobody may read), or as
/// root: (exit code, stdout, stderr).
fn dump_as(user: Option<u32>, scratch: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = scratch.join("rstack-tui");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_rstack-tui"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env("HOME", scratch);
    if let Some(uid) = user {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("run rstack-tui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first link of the first chain in `dump --chains --json`'s output.
fn first_link(json: &str) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc["chains"][0]["links"][0].clone()
}

#[test]
fn a_user_sees_the_links_it_may_read_and_is_told_why_not_the_others() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test starts a process as another user: run it as root (CI does)"
    );
    let scratch =
        Scratch(std::env::temp_dir().join(format!("rstack-users-{}", std::process::id())));
    std::fs::create_dir_all(scratch.0.join("cache")).unwrap();
    for d in [&scratch.0, &scratch.0.join("cache")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let fifo = scratch.0.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let reader = Started(
        Command::new("cat")
            .arg(&fifo)
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Opening the write end waits for the reader's open; then it blocks reading.
    let _writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let pid = reader.0.id();
    wait_until("cat to block reading the FIFO", || {
        std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .is_ok_and(|s| s.starts_with("0 0x3 "))
    });
    let me = std::process::id();
    let target = pid.to_string();

    // Root reads every process's fds: this one holds the write end.
    let (code, json, err) = dump_as(None, &scratch.0, &["dump", "--chains", "--json", &target]);
    assert_eq!(code, 0, "{err}");
    let link = first_link(&json);
    assert_eq!(link["kind"], "pipe", "{json}");
    assert_eq!(link["holders"][0]["pid"], me, "{json}");
    assert_eq!(link["note"], serde_json::Value::Null, "{json}");

    // nobody traces its own process but cannot read root's fds: no holder, and why.
    let (code, json, err) = dump_as(
        Some(NOBODY),
        &scratch.0,
        &["dump", "--chains", "--json", &target],
    );
    assert_eq!(code, 0, "{err}");
    let link = first_link(&json);
    assert_eq!(link["kind"], "pipe", "{json}");
    assert_eq!(link["waiter"]["pid"], pid, "{json}");
    assert_eq!(link["holders"], serde_json::json!([]), "{json}");
    let note = link["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("no process found holding its write end: ")
            && note
                .contains("processes' files were not readable: run as root or with CAP_SYS_PTRACE"),
        "{note:?}"
    );
    // The text form says the same under the thread.
    let (code, text, err) = dump_as(Some(NOBODY), &scratch.0, &["dump", &target]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("run as root or with CAP_SYS_PTRACE"),
        "no permission note in:\n{text}"
    );
}
