//! The process list against real processes: children we spawn (and kill by pid), kthreadd, and
//! ourselves.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rstack_tui::proclist::{ProcessInfo, ProcessLister};
use rstack_tui::tracer::ProcStat;

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);

/// A child process killed by pid and reaped when dropped, even when an assertion fails.
struct Kid(Child);

impl Kid {
    fn spawn(cmd: &mut Command) -> Kid {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        Kid(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Refreshes until `pid`'s row satisfies `ready` (a freshly spawned child may not have exec'd
/// or gone to sleep yet), and returns that row.
fn wait_for_row(
    lister: &mut ProcessLister,
    pid: u32,
    ready: impl Fn(&ProcessInfo) -> bool,
) -> ProcessInfo {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let rows = lister.refresh();
        let row = rows.into_iter().find(|r| r.pid == pid);
        match row {
            Some(r) if ready(&r) => return r,
            other => assert!(
                Instant::now() < deadline,
                "pid {pid} never got ready; last row: {other:?}"
            ),
        }
        std::thread::sleep(POLL);
    }
}

fn current_user() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// utime + stime of `pid` in ticks, from its stat file.
fn cpu_ticks(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/stat");
    let stat = ProcStat::read(&path).expect("parsing our child's stat");
    stat.utime + stat.stime
}

#[test]
fn sleeping_child_row() {
    let kid = Kid::spawn(Command::new("sleep").arg("30"));
    let pid = kid.pid();
    let mut lister = ProcessLister::new();
    let row = wait_for_row(&mut lister, pid, |r| r.name == "sleep" && r.state == 'S');

    assert_eq!(row.pid, pid);
    assert_eq!(row.name, "sleep");
    assert!(row.command.contains("30"), "command: {:?}", row.command);
    assert!(
        row.command.starts_with("sleep"),
        "command: {:?}",
        row.command
    );
    assert_eq!(row.state, 'S');
    assert_eq!(row.threads, 1);
    assert_eq!(row.user, current_user());
    assert!(row.rss_bytes > 0);
    assert!(!row.kernel_thread);
    assert!(row.cpu_percent >= 0.0);
}

#[test]
fn renamed_child_keeps_its_argv0() {
    let kid = Kid::spawn(Command::new("sleep").arg0("weird-name").arg("30"));
    let pid = kid.pid();
    let mut lister = ProcessLister::new();
    let row = wait_for_row(&mut lister, pid, |r| r.command.starts_with("weird-name"));
    assert_eq!(row.command, "weird-name 30");
    assert_eq!(row.name, "sleep");
}

#[test]
fn hostile_command_line_is_inert() {
    let kid = Kid::spawn(Command::new("sleep").arg0("\x1b[31mred\x7f").arg("30"));
    let pid = kid.pid();
    let mut lister = ProcessLister::new();
    let row = wait_for_row(&mut lister, pid, |r| r.command.contains("red"));
    assert!(!row.command.contains('\x1b'), "command: {:?}", row.command);
    assert!(!row.command.contains('\x7f'), "command: {:?}", row.command);
    assert!(row.command.contains("\\x1b"), "command: {:?}", row.command);
    assert_eq!(row.command, "\\x1b[31mred\\x7f 30");
}

#[test]
fn kthreadd_and_ourselves() {
    let rows = ProcessLister::new().refresh();
    assert!(
        rows.windows(2).all(|w| w[0].pid < w[1].pid),
        "not sorted by pid"
    );

    let me = rows
        .iter()
        .find(|r| r.pid == std::process::id())
        .expect("our own process is listed");
    assert!(me.threads >= 1);
    assert!(!me.kernel_thread);
    assert_eq!(me.user, current_user());

    // In a pid namespace without kernel threads, pid 2 is some other process.
    let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
    if comm.trim() != "kthreadd" {
        eprintln!("pid 2 is not kthreadd here ({comm:?}); skipping its checks");
        return;
    }
    let kthreadd = rows
        .iter()
        .find(|r| r.pid == 2)
        .expect("kthreadd is listed");
    assert!(kthreadd.kernel_thread);
    assert_eq!(kthreadd.command, "[kthreadd]");
    assert_eq!(kthreadd.name, "kthreadd");
    assert_eq!(kthreadd.rss_bytes, 0);
    assert!(
        rows.iter()
            .filter(|r| r.pid != 2 && r.kernel_thread)
            .all(|r| r.command.starts_with('[') && r.command.ends_with(']'))
    );
}

#[test]
fn busy_child_has_cpu_percent() {
    let kid = Kid::spawn(Command::new("sh").args(["-c", "while :; do :; done"]));
    let pid = kid.pid();
    let mut lister = ProcessLister::new();
    wait_for_row(&mut lister, pid, |_| true);

    // The CPU time the child has now is at least what the refresh above saw; wait until it
    // grows, so the interval up to the next refresh surely holds some of it.
    let before = cpu_ticks(pid);
    let deadline = Instant::now() + TIMEOUT;
    while cpu_ticks(pid) <= before {
        assert!(Instant::now() < deadline, "busy child got no CPU time");
        std::thread::sleep(POLL);
    }

    let rows = lister.refresh();
    let row = rows
        .iter()
        .find(|r| r.pid == pid)
        .expect("busy child listed");
    assert!(row.cpu_percent > 0.0, "row: {row:?}");
    assert!(row.cpu_percent.is_finite());
    assert_eq!(row.state, 'R');
}
