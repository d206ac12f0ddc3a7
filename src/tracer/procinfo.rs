//! Facts about a process and its threads from `/proc`: whether it may be traced at all, its
//! thread ids, and each thread's name, state, wchan, syscall and CPU time. Text that comes from
//! the target (names, command line) is made inert here, where it enters the program.

use std::fs;
use std::io;
use std::time::Duration;

use procfs::ProcError;
use procfs::process::{Process as ProcProcess, Syscall as ProcSyscall};

use super::error::{Error, Result};
use super::model::{Syscall, ThreadFacts};
use super::waits;
use crate::text;

/// `PF_KTHREAD` in the flags field of `/proc/PID/stat`.
const PF_KTHREAD: u32 = 0x0020_0000;

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
    let proc = ProcProcess::new(pid).map_err(|e| proc_error(pid, "stat", e))?;
    let stat = proc.stat().map_err(|e| proc_error(pid, "stat", e))?;
    if stat.flags & PF_KTHREAD != 0 || pid == 2 || stat.ppid == 2 {
        return Err(Error::KernelThread {
            pid,
            name: text::inert_bounded(&stat.comm, 64),
        });
    }
    let status = proc.status().map_err(|e| proc_error(pid, "status", e))?;
    // A main thread that called pthread_exit is a zombie while its other threads live on.
    if matches!(stat.state, 'Z' | 'X') && status.threads <= 1 {
        return Err(Error::Zombie { pid });
    }
    if status.tgid == std::process::id() as i32 {
        return Err(Error::TracingSelf { pid });
    }
    check_architecture(status.tgid)?;
    Ok(status.tgid)
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
        other => Error::Proc {
            path: format!("/proc/{pid}/{file}"),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// True while `/proc/PID` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    match ProcProcess::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => !matches!(stat.state, 'Z' | 'X'),
        Err(_) => false,
    }
}

/// True while thread `tid` of `pid` exists and has not exited.
pub fn is_alive_thread(pid: i32, tid: i32) -> bool {
    match ProcProcess::new(pid)
        .and_then(|p| p.task_from_tid(tid))
        .and_then(|t| t.stat())
    {
        Ok(stat) => !matches!(stat.state, 'Z' | 'X'),
        Err(_) => false,
    }
}

/// The process that traces `pid`, if any: (tracer pid, tracer name).
pub fn tracer_of(pid: i32) -> Option<(i32, String)> {
    let status = ProcProcess::new(pid).ok()?.status().ok()?;
    if status.tracerpid == 0 {
        return None;
    }
    let name = fs::read(format!("/proc/{}/comm", status.tracerpid))
        .map(|b| text::from_bytes(trim_newline(&b)))
        .unwrap_or_else(|_| "an unknown process".into());
    Some((status.tracerpid, name))
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
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
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

/// The name of thread `tid` (made inert), or `None` when the thread is gone.
pub fn thread_name(pid: i32, tid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/task/{tid}/comm")).ok()?;
    Some(text::inert_bounded(
        &text::from_bytes(trim_newline(&raw)),
        MAX_TEXT,
    ))
}

/// State, wchan, syscall (and the blocking call decoded), CPU times and, for a thread in D,
/// the kernel stack of thread `tid`; `None` when the thread is gone.
pub fn thread_facts(pid: i32, tid: i32) -> Option<ThreadFacts> {
    let task = ProcProcess::new(pid).ok()?.task_from_tid(tid).ok()?;
    let stat = task.stat().ok()?;
    let tick = Duration::from_secs(1) / procfs::ticks_per_second().max(1) as u32;
    let wchan = fs::read(format!("/proc/{pid}/task/{tid}/wchan"))
        .ok()
        .map(|b| text::from_bytes(trim_newline(&b)))
        .filter(|w| !w.is_empty() && w != "0");
    let syscall = match task.syscall() {
        Ok(ProcSyscall::Blocked {
            syscall_number,
            argument_registers,
            ..
        }) if syscall_number >= 0 => Some(Syscall {
            number: syscall_number,
            args: argument_registers,
        }),
        _ => None,
    };
    let wait = syscall.as_ref().map(|sc| waits::describe(pid, sc));
    // Reading another task's kernel stack needs root; it matters most for a thread in D.
    let kernel_stack = if stat.state == 'D' {
        waits::kernel_stack(pid, tid)
    } else {
        Vec::new()
    };
    Some(ThreadFacts {
        state: Some(stat.state),
        wchan,
        syscall,
        wait,
        kernel_stack,
        user_time: tick * stat.utime.min(u32::MAX as u64) as u32,
        system_time: tick * stat.stime.min(u32::MAX as u64) as u32,
        ..ThreadFacts::default()
    })
}

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}
