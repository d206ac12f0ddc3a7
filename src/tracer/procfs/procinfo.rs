//! Facts about a process and its threads from `/proc`: whether it may be traced at all, its
//! thread ids, and each thread's name, state, wchan, syscall and CPU time. Text that comes from
//! the target (names, command line) is made inert here, where it enters the program.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use procfs::ProcError;

use crate::tracer::analysis::waits;
use crate::tracer::error::{Error, Result};
use crate::tracer::model::{Syscall, ThreadFacts};
use crate::tracer::procfs::stat::Stat;
use crate::tracer::procfs::status::Status;
use crate::tracer::text;

/// Longest thread name or command line we keep; a hostile process can make them huge.
const MAX_TEXT: usize = 4096;

/// Checks that `pid` names a live user-space process other than our own, and returns its
/// thread-group id (a thread id given as pid names its whole process).
pub fn check_target(pid: i32) -> Result<i32> {
    if pid <= 0 {
        return Err(Error::NoSuchProcess { pid });
    }
    if pid == std::process::id() as i32 {
        return Err(Error::TracingSelf { pid });
    }
    let stat = Stat::read(&format!("/proc/{pid}/stat")).ok_or(Error::NoSuchProcess { pid })?;
    if stat.is_kernel_thread() {
        return Err(Error::KernelThread {
            pid,
            name: text::inert_bounded(&stat.comm, 64),
        });
    }
    let status = Status::read(pid).map_err(|e| io_error(pid, "status", e))?;
    let tgid = status.tgid.unwrap_or(pid);
    // A main thread that called pthread_exit is a zombie while its other threads live on.
    if stat.is_dead() && status.threads.unwrap_or(1) <= 1 {
        return Err(Error::Zombie { pid });
    }
    if tgid == std::process::id() as i32 {
        return Err(Error::TracingSelf { pid });
    }
    check_architecture(tgid)?;
    Ok(tgid)
}

/// What an id given as a pid names: a process, and, when it is the id of another of the
/// process's threads than its main one, that thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetId {
    /// The process (thread group) id.
    pub pid: u32,
    /// The thread the id named, when it is not the main thread.
    pub thread: Option<u32>,
    /// The process's name (`/proc/PID/comm`, made inert).
    pub name: String,
}

/// Checks `id` as `check_target` does and says which process it names, and which thread
/// of it when it is a thread id: `dump TID` shows the thread's whole process, and says so.
pub fn target_of(id: u32) -> Result<TargetId> {
    let requested = i32::try_from(id).map_err(|_| Error::NoSuchProcess { pid: -1 })?;
    let pid = check_target(requested)?;
    let comm = fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
    Ok(TargetId {
        pid: pid as u32,
        thread: (pid != requested).then_some(id),
        name: text::inert_bounded(&text::from_bytes(trim_newline(&comm)), 64),
    })
}

/// Refuses 32-bit processes early: libunwind here unwinds x86_64 only.
fn check_architecture(pid: i32) -> Result<()> {
    use std::io::Read;
    let mut ident = [0u8; 5];
    let read =
        fs::File::open(format!("/proc/{pid}/exe")).and_then(|mut f| f.read_exact(&mut ident));
    if read.is_ok() && ident[..4] == *b"\x7fELF" && ident[4] == 1 {
        return Err(Error::UnsupportedArchitecture {
            pid,
            arch: "32-bit".into(),
        });
    }
    Ok(())
}

/// The error for a failed `/proc` read of process `pid`.
pub fn proc_error(pid: i32, file: &str, e: ProcError) -> Error {
    match e {
        ProcError::NotFound(_) => Error::NoSuchProcess { pid },
        // Another user's process: its maps are readable only with the right to trace it.
        ProcError::PermissionDenied(_) => Error::PermissionDenied {
            pid,
            scope: ptrace_scope(),
            source: io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("reading /proc/{pid}/{file}"),
            ),
        },
        other => Error::Proc {
            path: format!("/proc/{pid}/{file}"),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// The error for a failed read of `/proc/PID/FILE`.
fn io_error(pid: i32, file: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound => Error::NoSuchProcess { pid },
        io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            pid,
            scope: ptrace_scope(),
            source: io::Error::new(e.kind(), format!("reading /proc/{pid}/{file}: {e}")),
        },
        _ => Error::Proc {
            path: format!("/proc/{pid}/{file}"),
            source: e,
        },
    }
}

/// True while `/proc/PID` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    Stat::read(&format!("/proc/{pid}/stat")).is_some_and(|s| !s.is_dead())
}

/// True while thread `tid` of `pid` exists and has not exited.
pub fn is_alive_thread(pid: i32, tid: i32) -> bool {
    Stat::read(&format!("/proc/{pid}/task/{tid}/stat")).is_some_and(|s| !s.is_dead())
}

/// The process that traces `pid`, if any: (tracer pid, tracer name).
pub fn tracer_of(pid: i32) -> Option<(i32, String)> {
    let tracer = Status::read(pid).ok()?.tracer_pid.filter(|&t| t != 0)?;
    let name = fs::read(format!("/proc/{tracer}/comm"))
        .map(|b| text::from_bytes(trim_newline(&b)))
        .unwrap_or_else(|_| "an unknown process".into());
    Some((tracer, name))
}

/// The value of `kernel.yama.ptrace_scope`, for the permission hint.
pub fn ptrace_scope() -> String {
    match fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
        Ok(s) => format!("kernel.yama.ptrace_scope={}", s.trim()),
        Err(_) => "Yama is not enabled".into(),
    }
}

/// The command line, arguments joined by spaces and made inert; `[comm]` when it is empty.
pub fn command(pid: i32) -> String {
    // The target sizes its own argument area: read no more than is shown.
    let mut raw = Vec::new();
    let _ = fs::File::open(format!("/proc/{pid}/cmdline"))
        .and_then(|f| f.take(4 * MAX_TEXT as u64).read_to_end(&mut raw));
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(text::from_bytes)
        .collect();
    if args.is_empty() {
        let comm = fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
        return format!("[{}]", text::from_bytes(trim_newline(&comm)));
    }
    text::inert_bounded(&args.join(" "), MAX_TEXT)
}

/// The thread ids of `pid` in the kernel's order: the main thread first, then the others in
/// the order they were created (which is not numeric order once thread ids wrap around).
pub fn thread_ids(pid: i32) -> Result<Vec<i32>> {
    let dir = format!("/proc/{pid}/task");
    let entries = fs::read_dir(&dir).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::ProcessExited { pid },
        _ => Error::Proc {
            path: dir.clone(),
            source: e,
        },
    })?;
    let mut tids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The kernel lists the leader first already; a stable sort keeps that true if it ever
    // does not, without disturbing the rest.
    tids.sort_by_key(|&t| t != pid);
    Ok(tids)
}

/// What `/proc/PID/task/TID/syscall` tells of a thread blocked in a system call: the call and
/// the user registers the kernel saved when the thread entered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedAt {
    pub number: i64,
    pub args: [u64; 6],
    pub sp: u64,
    pub pc: u64,
}

/// A thread's name (`None` unless asked for), its /proc facts, and, when it is blocked in a
/// system call, where.
pub struct TaskFacts {
    pub name: Option<String>,
    pub facts: ThreadFacts,
    pub blocked: Option<BlockedAt>,
}

/// Name, state, wchan, syscall (and the blocking call decoded), CPU times and, for a thread in
/// D, the kernel stack of thread `tid`; `None` when it is gone. Reads `stat` (which also holds
/// the name), `wchan` and `syscall`: a live view reads these for every thread every refresh.
pub fn thread_facts(task: &TaskDir, with_name: bool) -> Option<TaskFacts> {
    let stat = thread_stat(task, with_name)?;
    Some(thread_facts_after(task, stat))
}

/// What `/proc/PID/task/TID/stat` says of a thread.
#[derive(Debug, Clone)]
pub struct TaskStat {
    pub name: Option<String>,
    pub state: char,
    pub user_time: Duration,
    pub system_time: Duration,
    /// When the thread started (clock ticks since boot): a thread id reused by a new thread
    /// has another.
    pub start: u64,
}

/// Reads a thread's `stat`: name (when asked for), state, CPU times and start time.
pub fn thread_stat(task: &TaskDir, with_name: bool) -> Option<TaskStat> {
    let stat = Stat::parse(&task.read_kept("stat")?)?;
    let (state, utime, stime, start) = (stat.state, stat.utime, stat.stime, stat.start);
    let tick = Duration::from_secs(1) / procfs::ticks_per_second().max(1) as u32;
    Some(TaskStat {
        name: with_name.then(|| text::inert_bounded(&stat.comm, MAX_TEXT)),
        state,
        user_time: tick * utime.min(u32::MAX as u64) as u32,
        system_time: tick * stime.min(u32::MAX as u64) as u32,
        start,
    })
}

/// The rest of a thread's facts, after its `stat`: syscall, wchan, the wait decoded and, in D,
/// the kernel stack.
pub fn thread_facts_after(task: &TaskDir, stat: TaskStat) -> TaskFacts {
    let (pid, tid, state) = (task.pid(), task.tid(), stat.state);
    // Kept open like `stat` and `schedstat`: a refresh reads it with one `pread`.
    let blocked = task.read_kept("syscall").and_then(|b| parse_syscall(&b));
    // The system call says what a sleeping thread waits in; the kernel function is read (one
    // more file per thread per refresh) only when it does not, or the thread is in D.
    let wchan = if blocked.is_none() || state != 'S' {
        task.read("wchan")
            .map(|b| text::from_bytes(trim_newline(&b)))
            .filter(|w| !w.is_empty() && w != "0")
    } else {
        None
    };
    let syscall = blocked.map(|b| Syscall {
        number: b.number,
        args: b.args,
    });
    let wait = syscall.as_ref().map(|sc| waits::describe(pid, sc));
    // Reading another task's kernel stack needs root; it matters most for a thread in D.
    let kernel_stack = if state == 'D' {
        waits::kernel_stack(pid, tid)
    } else {
        Vec::new()
    };
    TaskFacts {
        name: stat.name,
        facts: ThreadFacts {
            state: Some(state),
            wchan,
            syscall,
            wait,
            kernel_stack,
            user_time: stat.user_time,
            system_time: stat.system_time,
            ..ThreadFacts::default()
        },
        blocked,
    }
}

/// Parses `/proc/PID/task/TID/syscall`: `NR ARG1..ARG6 SP PC` for a thread blocked in a
/// system call (`-1 SP PC` when blocked elsewhere, `running` when running: both `None`).
fn parse_syscall(raw: &[u8]) -> Option<BlockedAt> {
    let line = std::str::from_utf8(trim_newline(raw)).ok()?;
    let mut it = line.split(' ');
    let number: i64 = it.next()?.parse().ok()?;
    if number < 0 {
        return None;
    }
    let mut hex = || u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok();
    let mut args = [0u64; 6];
    for a in &mut args {
        *a = hex()?;
    }
    let (sp, pc) = (hex()?, hex()?);
    Some(BlockedAt {
        number,
        args,
        sp,
        pc,
    })
}

/// Files of threads kept open between traces, by (tid, file name): a live view re-reads a
/// thread's `stat`, `schedstat` and `syscall` every refresh, and reading an open file again (`pread` at
/// offset 0 makes the kernel write it afresh) costs one system call instead of three.
pub type KeptFiles = HashMap<(i32, &'static str), fs::File>;

/// A process's `/proc/PID/task` directory, open, so that reading a thread's files costs a
/// short path walk each (a live view reads several for every thread every refresh).
pub struct TaskDirs {
    pid: i32,
    dir: OwnedFd,
    kept: RefCell<KeptFiles>,
    /// How many files may be kept open: well below the open-files limit.
    keep_max: usize,
}

impl TaskDirs {
    /// Opens the directory; `kept` are files kept from the last trace of the same process.
    pub fn open(pid: i32, kept: KeptFiles) -> Option<TaskDirs> {
        let dir = nix::fcntl::open(
            format!("/proc/{pid}/task").as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        // Four files a thread (stat, schedstat, syscall, comm): 4096 threads kept whole.
        let keep_max = (soft.saturating_sub(256) / 2).min(4 * 4096) as usize;
        Some(TaskDirs {
            pid,
            dir,
            kept: RefCell::new(kept),
            keep_max,
        })
    }

    /// The files to keep for the next trace: those of `alive` threads.
    pub fn into_kept(self, alive: &[i32]) -> KeptFiles {
        let alive: std::collections::HashSet<i32> = alive.iter().copied().collect();
        let mut kept = self.kept.into_inner();
        kept.retain(|(tid, _), _| alive.contains(tid));
        kept
    }

    /// Thread `tid`'s files (nothing is opened yet).
    pub fn task(&self, tid: i32) -> TaskDir<'_> {
        TaskDir { dirs: self, tid }
    }
}

/// One thread's files in `/proc/PID/task/TID`.
pub struct TaskDir<'a> {
    dirs: &'a TaskDirs,
    tid: i32,
}

impl TaskDir<'_> {
    pub fn pid(&self) -> i32 {
        self.dirs.pid
    }

    pub fn tid(&self) -> i32 {
        self.tid
    }

    fn open(&self, name: &str) -> Option<fs::File> {
        let fd = nix::fcntl::openat(
            &self.dirs.dir,
            format!("{}/{name}", self.tid).as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        Some(fs::File::from(fd))
    }

    /// The whole of a small file of the thread (at most 64 KiB).
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let mut file = self.open(name)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Some(out),
                Ok(n) if out.len() + n <= 1 << 16 => {
                    out.extend_from_slice(&buf[..n]);
                    // These files are generated whole on the first read: a short read is the
                    // end, and skipping the read that would return 0 saves a system call per
                    // file per thread per refresh.
                    if n < buf.len() {
                        return Some(out);
                    }
                }
                Ok(_) => return Some(out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    /// Like [`TaskDir::read`], through a file kept open across reads and traces.
    pub fn read_kept(&self, name: &'static str) -> Option<Vec<u8>> {
        self.read_kept_from(name).map(|(bytes, _)| bytes)
    }

    /// [`TaskDir::read_kept`], and whether the file read was one kept open from before: such
    /// a file still names the thread it was opened for (its pid pins that task), so it tells
    /// apart a thread from a new one that reused its id.
    fn read_kept_from(&self, name: &'static str) -> Option<(Vec<u8>, bool)> {
        use std::os::unix::fs::FileExt;
        let key = (self.tid, name);
        let mut kept = self.dirs.kept.borrow_mut();
        if let Some(file) = kept.get(&key) {
            let mut buf = [0u8; 4096];
            // A thread that exited makes the read fail: open afresh (its id may be reused).
            match file.read_at(&mut buf, 0) {
                Ok(n) if n > 0 && n < buf.len() => return Some((buf[..n].to_vec(), true)),
                _ => {
                    kept.remove(&key);
                }
            }
        }
        let file = self.open(name)?;
        let mut buf = [0u8; 4096];
        let n = file.read_at(&mut buf, 0).ok()?;
        if kept.len() < self.dirs.keep_max {
            kept.insert(key, file);
        }
        Some((buf[..n].to_vec(), false))
    }

    /// The scheduler's record of the thread (`schedstat`: CPU time, wait time, times
    /// scheduled in). Equal before and after a read means the thread did not run in between.
    pub fn run_record(&self) -> Option<Vec<u8>> {
        self.read_kept("schedstat")
    }

    /// [`TaskDir::run_record`], and whether it was read through the file kept from the last
    /// trace (so of the same thread, not of a new one with its id).
    pub fn run_record_since(&self) -> Option<RunRecord> {
        let (record, same_thread) = self.read_kept_from("schedstat")?;
        Some(RunRecord {
            record,
            same_thread,
        })
    }

    /// The thread's name (`comm`, made inert): what `stat` also holds, for a thread whose
    /// `stat` is not read. Another thread may rename it while it sleeps.
    pub fn name(&self) -> Option<String> {
        let raw = self.read_kept("comm")?;
        Some(text::inert_bounded(
            &text::from_bytes(trim_newline(&raw)),
            MAX_TEXT,
        ))
    }
}

/// A thread's run record, and whether the file it came from was kept open since the last trace.
pub struct RunRecord {
    pub record: Vec<u8>,
    pub same_thread: bool,
}

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::{BlockedAt, KeptFiles, TaskDir, TaskDirs, parse_syscall};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// Reads `task`'s system call number through its kept `syscall` file until it is `want`.
    fn wait_for_call(task: &TaskDir, want: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = task.read_kept("syscall").and_then(|b| parse_syscall(&b));
            if now.map(|b| b.number) == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "never in call {want}: {now:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The `syscall` file is kept open across refreshes: read again at offset 0 it must give
    /// the call the thread is in now, not the one it was in when the file was opened.
    #[test]
    fn a_kept_syscall_file_gives_the_call_the_thread_is_in_now() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            nix::unistd::read(&r, &mut [0u8; 1]).unwrap();
            go_rx.recv().unwrap();
        });
        let tid = tid_rx.recv().unwrap();
        let dirs = TaskDirs::open(std::process::id() as i32, KeptFiles::default()).unwrap();
        let task = dirs.task(tid);
        wait_for_call(&task, libc::SYS_read);
        let fd = dirs.kept.borrow()[&(tid, "syscall")].as_raw_fd();
        nix::unistd::write(&w, b"x").unwrap();
        wait_for_call(&task, libc::SYS_futex);
        assert_eq!(dirs.kept.borrow()[&(tid, "syscall")].as_raw_fd(), fd);
        go_tx.send(()).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn a_blocked_syscall_line_gives_registers() {
        let line = b"202 0x7f00 0x80 0x0 0x0 0x0 0xca 0x7ffc10 0x7f1234\n";
        assert_eq!(
            parse_syscall(line),
            Some(BlockedAt {
                number: 202,
                args: [0x7f00, 0x80, 0, 0, 0, 0xca],
                sp: 0x7ffc10,
                pc: 0x7f1234
            })
        );
        assert_eq!(parse_syscall(b"running\n"), None);
        assert_eq!(parse_syscall(b"-1 0x7ffc10 0x7f1234\n"), None);
    }
}
