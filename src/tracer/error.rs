//! The tracer's error type: one variant per situation a user must tell apart, each with a
//! message that says what to do next, and the underlying OS error as `source()`.

use std::io;

/// Errors of [`super::trace`] and friends.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pid does not name a process (or names pid 0 / a negative number).
    #[error("no such process: {pid}")]
    NoSuchProcess { pid: i32 },

    /// We may not ptrace the target.
    #[error(
        "permission denied to trace process {pid}: run as root (`sudo -E rstack-tui ...` keeps \
         your environment), give the binary CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep), or, for \
         your own processes, allow tracing non-children with `sysctl kernel.yama.ptrace_scope=0` \
         (currently {scope})"
    )]
    PermissionDenied {
        pid: i32,
        scope: String,
        #[source]
        source: io::Error,
    },

    /// Another tracer (a debugger, strace, another rstack-tui) holds the process.
    #[error("process {pid} is already traced by {tracer} (pid {tracer_pid}); detach it first")]
    AlreadyTraced {
        pid: i32,
        tracer_pid: i32,
        tracer: String,
    },

    /// A process cannot ptrace itself.
    #[error("refusing to trace our own process ({pid}); a process cannot ptrace itself")]
    TracingSelf { pid: i32 },

    /// The target is a zombie: it has exited and has no stacks left.
    #[error("process {pid} is a zombie (exited, not yet reaped by its parent): it has no stacks")]
    Zombie { pid: i32 },

    /// The target is a kernel thread, which has no user-space stack.
    #[error("process {pid} ({name}) is a kernel thread: it has no user-space stack to unwind")]
    KernelThread { pid: i32, name: String },

    /// The target exited while it was being traced.
    #[error("process {pid} exited during the trace")]
    ProcessExited { pid: i32 },

    /// The target runs an architecture the tracer cannot unwind.
    #[error("process {pid} is a {arch} process; only x86_64 processes can be traced")]
    UnsupportedArchitecture { pid: i32, arch: String },

    /// Setting up or running the unwinder failed.
    #[error("unwinding thread {tid} failed: {message}")]
    Unwind { tid: i32, message: String },

    /// A ptrace request failed for a reason not covered above.
    #[error("{what} on thread {tid} failed")]
    Ptrace {
        what: &'static str,
        tid: i32,
        #[source]
        source: io::Error,
    },

    /// Reading /proc failed for a reason not covered above.
    #[error("reading {path} failed")]
    Proc {
        path: String,
        #[source]
        source: io::Error,
    },

    /// The caller asked the trace to stop (e.g. on Ctrl-C); every thread was detached.
    #[error("trace of process {pid} cancelled; every thread was detached")]
    Cancelled { pid: i32 },
}

/// Results of the tracer.
pub type Result<T> = std::result::Result<T, Error>;
