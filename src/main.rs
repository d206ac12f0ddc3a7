//! The `rstack-tui` binary: command-line parsing, signal handling and wiring; the work is done
//! by the library.

mod dump_output;
mod sigprocmask;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use dump_output::{DumpFormat, DumpOutput};
use rstack_tui::app::look::{Look, Palette};
use rstack_tui::pidname::{self, Named};
use rstack_tui::{AttachMethod, Error, TraceOptions, Tracer, UnwindMethod, describe, dump, text};

/// Exit codes: documented in `--help` and the README.
const EXIT_PARTIAL: u8 = 1;
const EXIT_ERROR: u8 = 2;
const EXIT_CANCELLED: u8 = 130;
/// The target is a process we cannot unwind at all (a 32-bit one): retrying will not help.
const EXIT_UNSUPPORTED: u8 = 3;
/// The pid or name names no process (a typo, or it has exited): said before any screen.
const EXIT_NO_PROCESS: u8 = 4;
/// A name given for the process matches several: the candidates are listed, pick one pid.
const EXIT_AMBIGUOUS: u8 = 5;
/// `dump` would write binary output (pprof) to a terminal: refused before tracing.
const EXIT_BINARY_TO_TERMINAL: u8 = 6;
/// The argument that makes the binary the demo process.
const DEMO_TARGET: &str = "__demo-target";

#[derive(Parser)]
#[command(
    name = "rstack-tui",
    version,
    about = "A live thread inspector for Linux: every thread's name, state and stack.",
    long_about = "A live thread inspector for Linux: every thread's name, state and stack.\n\n\
                  Without arguments it opens the process list: pick a process (/ filters, Enter \
                  inspects) and read every thread's stack, refreshed live. With a PID it opens \
                  that process directly. Press ? inside for every key.",
    after_help = "Examples:\n  rstack-tui              pick a process interactively\n  \
                  rstack-tui 1234         inspect process 1234\n  \
                  rstack-tui nginx        inspect the process named nginx (a list if several)\n  \
                  rstack-tui demo         inspect a bundled demo process (deadlock included)\n  \
                  rstack-tui dump 1234    print every thread's stack and exit\n\n\
                  Exit codes of `dump`: 0 all threads traced, 1 some threads could not be traced \
                  (said on stderr), 2 error (one line on stderr), 3 unsupported target (a 32-bit \
                  process; one line on stderr), 4 no such process (`no process PID` on stderr; \
                  the inspector given a PID or name exits the same way before opening), 5 the \
                  name matches several processes (listed on stderr), 130 interrupted (every \
                  thread was resumed first).\n\n\
                  Tracing needs ptrace rights: root, CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Inspect this process right away: a pid, or a name (a process's comm or the base name
    /// of its executable).
    #[arg(value_name = "PID|NAME")]
    target: Option<String>,
    /// Words after the process: only a mistyped subcommand has them.
    #[arg(hide = true)]
    rest: Vec<String>,
    #[command(flatten)]
    ui: UiArgs,
}

#[derive(Args, Clone)]
struct UiArgs {
    /// Inspect this process right away (same as the positional PID or NAME).
    #[arg(short = 'p', long = "pid", value_name = "PID|NAME")]
    pid_flag: Option<String>,
    /// Seconds between snapshots (0.5 to 60).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    interval: f64,
    /// Take consistent snapshots (every thread stopped together) instead of rolling ones.
    #[arg(long)]
    snapshot: bool,
    /// Do not capture the mouse (keeps the terminal's own text selection).
    #[arg(long)]
    no_mouse: bool,
    /// Colours: `auto` reads on dark and light backgrounds, `dark` and `light` suit one,
    /// `mono` has none. Colours the terminal lacks (TERM, COLORTERM) are mapped down; TERM=dumb
    /// and NO_COLOR draw none.
    #[arg(long, value_enum, default_value_t = ThemeArg::Auto)]
    theme: ThemeArg,
    /// Draw only ASCII (the default when the locale, LC_ALL, LC_CTYPE or LANG, is not UTF-8).
    #[arg(long)]
    ascii: bool,
    #[command(flatten)]
    tracer: TracerArgs,
}

/// How the inspector and `dump` unwind and remember source lines.
#[derive(Args, Clone)]
struct TracerArgs {
    /// How to unwind: `copy` captures registers and stack and unwinds after the thread runs
    /// on; `ptrace` walks with libunwind's ptrace accessors while it is stopped (reference).
    #[arg(long, value_enum, default_value_t = UnwinderArg::Copy)]
    unwinder: UnwinderArg,
    /// Do not remember source-line lookups on disk between runs (they are kept under
    /// $XDG_CACHE_HOME/rstack-tui, else ~/.cache/rstack-tui).
    #[arg(long)]
    no_line_cache: bool,
}

impl TracerArgs {
    /// Where source-line lookups are remembered between runs, unless turned off.
    fn line_cache(&self) -> Option<std::path::PathBuf> {
        if self.no_line_cache {
            None
        } else {
            rstack_tui::default_line_cache()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ThemeArg {
    Auto,
    Dark,
    Light,
    Mono,
}

impl From<ThemeArg> for Palette {
    fn from(t: ThemeArg) -> Palette {
        match t {
            ThemeArg::Auto => Palette::Auto,
            ThemeArg::Dark => Palette::Dark,
            ThemeArg::Light => Palette::Light,
            ThemeArg::Mono => Palette::Mono,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum UnwinderArg {
    Copy,
    Ptrace,
}

impl From<UnwinderArg> for UnwindMethod {
    fn from(u: UnwinderArg) -> UnwindMethod {
        match u {
            UnwinderArg::Copy => UnwindMethod::Copy,
            UnwinderArg::Ptrace => UnwindMethod::Ptrace,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print every thread's stack of a running process, then exit.
    Dump(DumpArgs),
    /// Sample a process's stacks at a rate and write the profile (pprof, folded stacks or
    /// speedscope), or print its top functions and threads. Ends after --duration, on Ctrl-C,
    /// or when the process exits; what was recorded is kept in every case.
    Record(RecordArgs),
    /// Start a small demo process (a worker pool, a busy thread, a sleeper, two deadlocked
    /// threads) and inspect it; it ends with the inspector.
    Demo(UiArgs),
    /// Open saved snapshots (from `w`/`W` in the inspector or `dump --json`) offline, in the
    /// same panes, with diff and grouping across them. No ptrace: works on any machine.
    Load {
        /// Snapshot files of one process.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Open a core file (the kernel's, gcore's, or one `coredumpctl dump` wrote) in the
    /// same panes: every thread's stack as it was when the process was dumped.
    Core {
        /// The core file.
        core: std::path::PathBuf,
        /// Open the modules the core names inside DIR instead of `/`.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<std::path::PathBuf>,
        /// The executable, where it is not at the path the core records.
        #[arg(long, value_name = "PATH")]
        exe: Option<std::path::PathBuf>,
    },
    /// Print what changed between two saved snapshots (the newest of A against the newest
    /// of B). A is the older: when A was taken after B, a one-line warning goes to stderr
    /// and the two are swapped, so the diff runs forward in time.
    Diff {
        a: std::path::PathBuf,
        b: std::path::PathBuf,
        /// Print the diff as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for SHELL (e.g. `rstack-tui completions bash >
    /// /etc/bash_completion.d/rstack-tui`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff: `rstack-tui man | man -l -`), or a subcommand's
    /// (`rstack-tui man dump` is rstack-tui-dump(1)).
    Man {
        /// The subcommand whose page to print.
        subcommand: Option<String>,
    },
}

#[derive(Args)]
struct DumpArgs {
    /// The process to trace: a pid, a thread id, or a name (comm or executable base name).
    #[arg(
        value_name = "PID|NAME",
        allow_negative_numbers = true,
        required_unless_present = "core"
    )]
    target: Option<String>,
    /// Read a core file (the kernel's, gcore's, or one `coredumpctl dump` wrote) instead of
    /// tracing a process: the same listing, JSON and profiles.
    #[arg(long, value_name = "CORE", conflicts_with_all = ["target", "watch", "repeat", "snapshot", "chains"])]
    core: Option<std::path::PathBuf>,
    /// With --core: open the modules the core names inside DIR instead of `/` (the core of
    /// another machine, with its files copied under DIR).
    #[arg(long, value_name = "DIR", requires = "core")]
    sysroot: Option<std::path::PathBuf>,
    /// With --core: the executable, where it is not at the path the core records (inside
    /// --sysroot when both are given).
    #[arg(long, value_name = "PATH", requires = "core")]
    exe: Option<std::path::PathBuf>,
    /// Print one JSON document (docs/json.md) instead of text (same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// What to write: `text`, `json` (docs/json.md), or the snapshot as a profile of one
    /// sample per thread: `pprof` (gzipped profile.proto), `folded` (flamegraph.pl, inferno)
    /// or `speedscope`. Without it, told by -o's extension (.pb.gz/.pprof, .folded,
    /// .speedscope.json, .json), else text.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<DumpFormat>,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Pretty-print the JSON.
    #[arg(long)]
    pretty: bool,
    /// Interpreter threads in brief: the Python frames, without the interpreter's own native
    /// frames between them (the text listing; JSON keeps every frame).
    #[arg(long)]
    brief: bool,
    /// Collapse threads with identical stacks into one block, largest group first (text).
    #[arg(long, conflicts_with = "json")]
    group: bool,
    /// Instead of every stack, the process's wait chains: longest first, each headed by the
    /// thread or process at its end, then the deadlocks (text, or `{"chains": [...]}` JSON).
    #[arg(long, conflicts_with_all = ["group", "no_chains"])]
    chains: bool,
    /// Do not follow blocked threads' waits to the threads and processes that hold them up
    /// (no wait chains: only the mutex owners inside the process).
    #[arg(long)]
    no_chains: bool,
    /// With --group: take snapshots for SECS (one every 0.5 s, the inspector's fastest
    /// pace), then print each group with its threads' verdicts (stuck, spinning, busy, idle)
    /// and growth, after the top suspects.
    #[arg(
        long,
        value_name = "SECS",
        requires = "group",
        conflicts_with = "repeat"
    )]
    watch: Option<f64>,
    /// Stop every thread first for a consistent picture (longer stop) instead of one at a time.
    #[arg(long)]
    snapshot: bool,
    /// Use PTRACE_ATTACH (sends SIGSTOP) instead of PTRACE_SEIZE.
    #[arg(long)]
    ptrace_attach: bool,
    /// Do not read thread names.
    #[arg(long)]
    no_names: bool,
    /// Do not resolve symbols (addresses and modules only).
    #[arg(long)]
    no_symbols: bool,
    /// Do not read DWARF for source lines and inlined functions (faster).
    #[arg(long)]
    no_lines: bool,
    /// Do not read a Python interpreter's frames: native frames only.
    #[arg(long)]
    no_python: bool,
    /// Deepest stack to walk.
    #[arg(long, default_value_t = 1024)]
    max_frames: usize,
    /// Milliseconds to wait for a thread to stop before reporting it as not stopped.
    #[arg(long, default_value_t = 1000)]
    stop_timeout_ms: u64,
    #[command(flatten)]
    tracer: TracerArgs,
    /// Most stack to copy per thread, in KiB (`copy` unwinder); a deeper stack ends with a
    /// note that the copy was too short.
    #[arg(long, default_value_t = 1024, value_name = "KIB")]
    stack_copy_kib: usize,
    /// Trace this many times with the same tracer (its caches warm after the first), print
    /// the last trace.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Print where each trace's time went to stderr.
    #[arg(long)]
    timings: bool,
    /// Stop threads blocked in a system call too (by default they are captured without a
    /// ptrace stop, so none of their calls returns early because we looked).
    #[arg(long)]
    stop_blocked: bool,
}

#[derive(Args)]
struct RecordArgs {
    /// The process to sample: a pid, a thread id, or a name (comm or executable base name).
    #[arg(value_name = "PID|NAME", allow_negative_numbers = true)]
    target: String,
    /// Snapshots a second (1 to 200).
    #[arg(long, default_value_t = 20, value_name = "HZ")]
    rate: u32,
    /// Seconds to record (default: until Ctrl-C or the process exits).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Write the profile to FILE (the format from --format, else from its extension:
    /// .pb.gz/.pprof, .folded, .speedscope.json) instead of printing a summary.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// The file's format: pprof, folded or speedscope.
    #[arg(long, value_name = "FORMAT", requires = "output")]
    format: Option<String>,
    /// Functions in the summary's table.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Do not read a Python interpreter's frames: native frames only.
    #[arg(long)]
    no_python: bool,
    #[command(flatten)]
    tracer: TracerArgs,
}

/// The flag the tracer polls; set once, before the handlers are installed.
static CANCEL: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_signal(_: libc::c_int) {
    // OnceLock::get is an atomic load: async-signal-safe.
    if let Some(flag) = CANCEL.get() {
        flag.store(true, Ordering::Relaxed);
    }
}

/// SIGINT, SIGTERM and SIGHUP (a lost SSH connection) end the trace through the cancel flag,
/// so every stopped thread is resumed before we exit.
fn install_signal_handlers() -> Arc<AtomicBool> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let flag = CANCEL.get_or_init(Arc::default).clone();
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
    flag
}

/// Raises the soft limit on open files toward the hard one: the tracer keeps three `/proc` files
/// open per thread of a big process between refreshes (and falls back to reopening them when
/// the limit is low).
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = hard.min(1 << 16);
        if soft < want {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
        }
    }
}

fn main() -> ExitCode {
    raise_open_files_limit();
    // The demo process itself (started by `demo`): not a subcommand, so completions and the
    // man page do not offer it.
    if std::env::args_os().nth(1).is_some_and(|a| a == DEMO_TARGET) {
        rstack_tui::demo::run_target();
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Dump(args)) => run_dump(args),
        Some(Command::Record(args)) => run_record(args),
        Some(Command::Demo(ui)) => run_demo(&ui),
        Some(Command::Load { files }) => run_load(&files, &cli.ui),
        Some(Command::Core { core, sysroot, exe }) => {
            let place = CorePlace {
                sysroot: sysroot.as_deref(),
                exe: exe.as_deref(),
            };
            run_core(&core, place, &cli.ui)
        }
        Some(Command::Diff { a, b, json }) => run_diff(&a, &b, json),
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rstack-tui", &mut script);
            print_bytes(&script)
        }
        Some(Command::Man { subcommand }) => print_man(subcommand.as_deref()),
        None => run_named(cli.target.as_deref(), &cli.rest, &cli.ui),
    }
}

/// Writes generated text to stdout; a closed pipe (`| head`) is an error exit, not a panic.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

/// `man [SUBCOMMAND]`: the page of rstack-tui or of one subcommand, in roff.
fn print_man(subcommand: Option<&str>) -> ExitCode {
    let cmd = Cli::command();
    let cmd = match subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone().name(format!("rstack-tui-{name}")),
            None => {
                eprintln!(
                    "rstack-tui: error: no subcommand '{}' (see rstack-tui --help)",
                    text::inert(name)
                );
                return ExitCode::from(EXIT_ERROR);
            }
        },
    };
    let mut page = Vec::new();
    match clap_mangen::Man::new(cmd).render(&mut page) {
        Ok(()) => print_bytes(&page),
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

/// The subcommand `word` looks like a mistyping of, as clap would suggest it.
fn similar_subcommand(word: &str) -> Option<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .map(|name| (strsim::jaro(word, &name), name))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// Exits with clap's own error for `word`: an unrecognized subcommand with its suggestion,
/// or an unexpected argument.
fn exit_with_clap_error(word: &str, suggestion: Option<String>) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut cmd = Cli::command();
    let usage = cmd.render_usage();
    let kind = if suggestion.is_some() {
        ErrorKind::InvalidSubcommand
    } else {
        ErrorKind::UnknownArgument
    };
    let mut err = clap::Error::new(kind).with_cmd(&cmd);
    let context = if suggestion.is_some() {
        ContextKind::InvalidSubcommand
    } else {
        ContextKind::InvalidArg
    };
    err.insert(context, ContextValue::String(word.to_string()));
    if let Some(s) = suggestion {
        err.insert(ContextKind::SuggestedSubcommand, ContextValue::String(s));
    }
    err.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    err.exit()
}

/// The inspector on the process the command line names: a pid, a name (the process list,
/// filtered to it, when several processes have it), or none (the process list).
fn run_named(target: Option<&str>, rest: &[String], ui: &UiArgs) -> ExitCode {
    let target = target.or(ui.pid_flag.as_deref());
    let Some(target) = target else {
        return run_ui_with(None, None, None, ui);
    };
    let numeric = target.parse::<i64>().is_ok();
    if let Some(extra) = rest.first() {
        // `rstack-tui dupm 123`: a subcommand mistyped, or a word too many.
        let suggestion = (!numeric).then(|| similar_subcommand(target)).flatten();
        let word = if suggestion.is_some() { target } else { extra };
        exit_with_clap_error(word, suggestion);
    }
    match pidname::resolve(target) {
        Named::Id(n) => match u32::try_from(n) {
            Ok(pid) => run_ui_with(Some(pid), None, None, ui),
            Err(_) => fail(&Error::NoSuchProcess {
                pid: n.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            }),
        },
        Named::One(p) => run_ui_with(Some(p.pid), None, None, ui),
        Named::Several(_) => run_ui_with(None, None, Some(target.to_string()), ui),
        Named::None => match similar_subcommand(target) {
            Some(s) => exit_with_clap_error(target, Some(s)),
            None => no_process_named(target),
        },
    }
}

/// The one-line error for a name no process has.
fn no_process_named(name: &str) -> ExitCode {
    eprintln!(
        "rstack-tui: error: no process named '{}' (give a pid, or a process's comm or executable name)",
        text::inert(name)
    );
    ExitCode::from(EXIT_NO_PROCESS)
}

/// Reads snapshot files (and cores) of one process, oldest first; a one-line error otherwise.
fn load_files(
    files: &[std::path::PathBuf],
) -> Result<Vec<std::sync::Arc<rstack_tui::Process>>, String> {
    use rstack_tui::tracer::snapfile;
    let mut processes = Vec::new();
    for f in files {
        if rstack_tui::tracer::coredump::Core::looks_like_core(f) {
            let p = core_process(f, CorePlace::default(), TraceOptions::new())?;
            processes.push(std::sync::Arc::new(p));
            continue;
        }
        let docs = snapfile::load(f).map_err(|e| e.to_string())?;
        processes.extend(docs.iter().map(|d| std::sync::Arc::new(d.to_process())));
    }
    processes.sort_by_key(|p| p.taken_at());
    if let Some(first) = processes.first()
        && let Some(other) = processes.iter().find(|p| p.id() != first.id())
    {
        return Err(format!(
            "the files hold snapshots of different processes ({} and {})",
            first.id(),
            other.id()
        ));
    }
    Ok(processes)
}

/// Where a core's files are: inside `sysroot` (else `/`), the executable at `exe` if given.
#[derive(Clone, Copy, Default)]
struct CorePlace<'a> {
    sysroot: Option<&'a std::path::Path>,
    exe: Option<&'a std::path::Path>,
}

/// Core file `path` read as a process, its files where `place` says; the core's own notes on
/// what it could not read go to stderr.
fn core_process(
    path: &std::path::Path,
    place: CorePlace,
    options: TraceOptions,
) -> Result<rstack_tui::Process, String> {
    let shown = || text::inert(&path.display().to_string()).into_owned();
    let mut core =
        rstack_tui::tracer::coredump::Core::open(path).map_err(|e| format!("{}: {e}", shown()))?;
    for problem in &core.problems {
        eprintln!("rstack-tui: note: {}: {}", shown(), text::inert(problem));
    }
    if let Some(exe) = place.exe {
        core.set_executable(exe);
    }
    let root = place.sysroot.unwrap_or(std::path::Path::new("/"));
    Tracer::new(options)
        .trace_core(std::sync::Arc::new(core), root)
        .map_err(|e| format!("{}: {}", shown(), text::error_line(&e)))
}

/// `core CORE`: the inspector on a core file.
fn run_core(path: &std::path::Path, place: CorePlace, ui: &UiArgs) -> ExitCode {
    match core_process(path, place, TraceOptions::new()) {
        Ok(p) => run_ui_with(None, Some(vec![std::sync::Arc::new(p)]), None, ui),
        Err(e) => {
            eprintln!("rstack-tui: error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `load FILE...`: the inspector, offline.
fn run_load(files: &[std::path::PathBuf], ui: &UiArgs) -> ExitCode {
    match load_files(files) {
        Ok(history) => run_ui_with(None, Some(history), None, ui),
        Err(e) => {
            eprintln!("rstack-tui: error: {}", text::inert(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `diff A B`: the newest snapshot of A against the newest of B, as text or JSON.
fn run_diff(a: &std::path::Path, b: &std::path::Path, json: bool) -> ExitCode {
    let newest = |f: &std::path::Path| load_files(&[f.to_path_buf()]).map(|mut v| v.pop());
    let (old, new) = match (newest(a), newest(b)) {
        (Ok(Some(old)), Ok(Some(new))) => (old, new),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("rstack-tui: error: {}", text::inert(&e));
            return ExitCode::from(EXIT_ERROR);
        }
        _ => {
            eprintln!("rstack-tui: error: a file holds no snapshot");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // Backwards in time every thread would seem to have used no CPU: swap, and say so.
    let (old, new) = if old.taken_at() > new.taken_at() {
        eprintln!(
            "rstack-tui: warning: {} (taken {} UTC) is newer than {} (taken {} UTC): diffing {} -> {}",
            text::inert(&a.display().to_string()),
            describe::clock(old.taken_at()),
            text::inert(&b.display().to_string()),
            describe::clock(new.taken_at()),
            text::inert(&b.display().to_string()),
            text::inert(&a.display().to_string()),
        );
        (new, old)
    } else {
        (old, new)
    };
    let d = rstack_tui::tracer::diff::diff(&old, &new);
    let out = if json {
        text::to_json_inert(&d, true).unwrap_or_default() + "\n"
    } else {
        dump::diff_to_text(&d, &old, &new)
    };
    print!("{out}");
    ExitCode::SUCCESS
}

/// Opens the interactive inspector on a live process, on loaded snapshots, or on the process
/// list (filtered by `filter` when given).
fn run_ui_with(
    pid: Option<u32>,
    history: Option<Vec<std::sync::Arc<rstack_tui::Process>>>,
    filter: Option<String>,
    ui: &UiArgs,
) -> ExitCode {
    use std::io::IsTerminal;
    // A pid that names nothing gets one line, not a screen of a process marked exited.
    if let Some(pid) = pid
        && let Err(Error::NoSuchProcess { .. }) = rstack_tui::tracer::target_of(pid)
    {
        eprintln!("rstack-tui: error: no process {pid}");
        return ExitCode::from(EXIT_NO_PROCESS);
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "rstack-tui: error: the inspector needs a terminal; for text output use `rstack-tui dump PID`"
        );
        return ExitCode::from(EXIT_ERROR);
    }
    if !(0.5..=60.0).contains(&ui.interval) {
        eprintln!("rstack-tui: error: --interval must be between 0.5 and 60 seconds");
        return ExitCode::from(EXIT_ERROR);
    }
    let opts = rstack_tui::tui::Options {
        pid,
        history,
        interval: Duration::from_secs_f64(ui.interval),
        snapshot: ui.snapshot,
        unwinder: ui.tracer.unwinder.into(),
        line_cache: ui.tracer.line_cache(),
        mouse: !ui.no_mouse,
        look: Look::detect(
            |v| std::env::var_os(v).map(|s| s.to_string_lossy().into_owned()),
            ui.theme.into(),
            ui.ascii,
        ),
        filter,
    };
    match rstack_tui::tui::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rstack-tui: error: {}", text::inert(&e.to_string()));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Starts the demo process as our child, inspects it, and ends it.
fn run_demo(ui: &UiArgs) -> ExitCode {
    use std::io::BufRead;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rstack-tui: error: cannot find our own binary to start the demo: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut child = match std::process::Command::new(exe)
        .arg(DEMO_TARGET)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rstack-tui: error: starting the demo process: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let ready = child
        .stdout
        .take()
        .map(|out| {
            std::io::BufReader::new(out)
                .lines()
                .any(|l| l.is_ok_and(|l| l == "ready"))
        })
        .unwrap_or(false);
    let code = if ready {
        run_ui_with(Some(child.id()), None, None, ui)
    } else {
        eprintln!("rstack-tui: error: the demo process did not start");
        ExitCode::from(EXIT_ERROR)
    };
    let _ = child.kill();
    let _ = child.wait();
    code
}

/// The tracer's options for `dump`'s arguments.
fn dump_options(args: &DumpArgs, cancel: Arc<AtomicBool>) -> TraceOptions {
    let mut options = TraceOptions::new();
    options
        .snapshot(args.snapshot)
        .thread_names(!args.no_names)
        .symbols(!args.no_symbols)
        .lines(!args.no_lines)
        .python(!args.no_python)
        .chains(!args.no_chains)
        .chain_scan(if args.chains {
            rstack_tui::tracer::CHAIN_FULL_SCAN
        } else {
            rstack_tui::tracer::CHAIN_QUICK_SCAN
        })
        .attach_method(if args.ptrace_attach {
            AttachMethod::Attach
        } else {
            AttachMethod::Seize
        })
        .max_frames(args.max_frames)
        .stop_timeout(Duration::from_millis(args.stop_timeout_ms))
        .unwind_method(args.tracer.unwinder.into())
        .stack_copy_limit(args.stack_copy_kib.saturating_mul(1024))
        .stop_blocked(args.stop_blocked)
        .line_cache(args.tracer.line_cache())
        .cancel_flag(cancel);
    options
}

fn run_dump(args: DumpArgs) -> ExitCode {
    let format = DumpFormat::of(args.format, args.json, args.output.as_deref());
    if let Some((refused, code)) = dump_args_refused(&args, format) {
        eprintln!("rstack-tui: error: {refused}");
        return ExitCode::from(code);
    }
    if let Some(core) = &args.core {
        return run_dump_core(&args, format, core);
    }
    let cancel = install_signal_handlers();
    let pid = match dump_pid(args.target.as_deref().unwrap_or_default()) {
        Ok(pid) => pid,
        Err(code) => return code,
    };
    let options = dump_options(&args, cancel.clone());
    // A thread id names its process: show the process, and say so.
    let target = match rstack_tui::tracer::target_of(pid) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if let Some(line) = describe::thread_selected_text(&target) {
        eprintln!("rstack-tui: {line}");
    }
    let pid = target.pid;
    // Opened before the trace, so a path we cannot write never costs the target a stop.
    let output = match DumpOutput::open(args.output.as_deref()) {
        Ok(o) => o,
        Err(line) => {
            eprintln!("rstack-tui: error: {line}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut tracer = Tracer::new(options);
    if let Some(secs) = args.watch {
        return run_watch(tracer, pid, secs, &cancel);
    }
    let mut traced = tracer.trace(pid);
    for i in 2..=args.repeat {
        if args.timings
            && let Ok(p) = &traced
        {
            eprintln!("{}", timings_line(i - 1, p, None));
        }
        traced = tracer.trace(pid);
    }
    if let Some(refused) = tracer.take_line_cache_refused() {
        eprintln!(
            "rstack-tui: {}; --no-line-cache skips it",
            describe::line_cache_refused(&refused)
        );
    }
    // We exit next: resume what must be resumed, and skip freeing the caches.
    tracer.finish();
    let process = match traced {
        Ok(p) => std::mem::ManuallyDrop::new(p),
        Err(e) => {
            output.discard();
            return fail(&e);
        }
    };
    let formatting = std::time::Instant::now();
    let written = output.write(|sink| write_dump(&args, format, &process, target.thread, sink));
    if args.timings {
        // "output" includes writing it out.
        eprintln!(
            "{}",
            timings_line(args.repeat, &process, Some(formatting.elapsed()))
        );
    }
    if written.is_err() {
        return ExitCode::from(EXIT_ERROR);
    }
    if (format != DumpFormat::Text || args.group)
        && let Some(u) = process.unguarded()
    {
        // The JSON and the groups have no place for it; the text listing has it at its end.
        eprintln!("rstack-tui: {}", describe::unguarded_text(u));
    }
    let failed: Vec<_> = process
        .threads()
        .iter()
        .filter(|t| t.error().is_some())
        .collect();
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    for t in &failed {
        eprintln!(
            "rstack-tui: thread {} not traced: {}",
            t.id(),
            text::inert(&t.error().map(ToString::to_string).unwrap_or_default())
        );
    }
    ExitCode::from(EXIT_PARTIAL)
}

/// Writes the snapshot `process` in `format` to `sink` (`thread`: the thread the text
/// listing starts with, when a thread id was given).
fn write_dump(
    args: &DumpArgs,
    format: DumpFormat,
    process: &rstack_tui::Process,
    thread: Option<u32>,
    sink: &mut dyn Write,
) -> std::io::Result<()> {
    match (format, format.profile()) {
        (DumpFormat::Json, _) => {
            // Streamed: the document is written as it is made (see `dump::write_json`).
            let mut out = std::io::BufWriter::with_capacity(256 << 10, &mut *sink);
            if args.chains {
                return dump::write_chains_json(process, args.pretty, &mut out)
                    .and_then(|()| out.flush());
            }
            dump::write_json(process, args.pretty, &mut out).and_then(|()| out.flush())
        }
        (_, Some(profile_format)) => {
            // One sample per thread; the build-ids of the files the target maps, read now
            // that it is still there.
            let mut profile = rstack_tui::profile::Profile::of_snapshot(process);
            if profile_format == rstack_tui::profile::export::Format::Pprof {
                profile.add_build_ids(|path| {
                    rstack_tui::app::source::mapped_build_id(process.id(), path)
                });
            }
            rstack_tui::profile::export::write(&profile, profile_format, &mut *sink)
                .and_then(|()| sink.flush())
        }
        _ => {
            let out = if args.group {
                dump::groups_to_text(process)
            } else if args.chains {
                dump::chains_to_text(process)
            } else {
                dump::to_text_with(process, thread, args.brief)
            };
            sink.write_all(out.as_bytes()).and_then(|()| sink.flush())
        }
    }
}

/// Why `dump`'s options cannot be met, if they cannot: said before any trace.
/// `dump --core CORE`: the core read as a process, written as `dump` writes a live one.
fn run_dump_core(args: &DumpArgs, format: DumpFormat, path: &std::path::Path) -> ExitCode {
    let output = match DumpOutput::open(args.output.as_deref()) {
        Ok(o) => o,
        Err(line) => {
            eprintln!("rstack-tui: error: {line}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let options = dump_options(args, install_signal_handlers());
    let place = CorePlace {
        sysroot: args.sysroot.as_deref(),
        exe: args.exe.as_deref(),
    };
    let process = match core_process(path, place, options) {
        Ok(p) => p,
        Err(e) => {
            output.discard();
            eprintln!("rstack-tui: error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if output
        .write(|sink| write_dump(args, format, &process, None, sink))
        .is_err()
    {
        return ExitCode::from(EXIT_ERROR);
    }
    ExitCode::SUCCESS
}

fn dump_args_refused(args: &DumpArgs, format: DumpFormat) -> Option<(String, u8)> {
    use std::io::IsTerminal;
    if args.pretty && format != DumpFormat::Json {
        return Some((
            format!("--pretty is for JSON output, not {}", format.name()),
            EXIT_ERROR,
        ));
    }
    if args.group && format != DumpFormat::Text {
        return Some((
            format!("--group is for the text listing, not {}", format.name()),
            EXIT_ERROR,
        ));
    }
    if args.chains && format.profile().is_some() {
        return Some((
            format!("--chains is for text or JSON, not {}", format.name()),
            EXIT_ERROR,
        ));
    }
    if format == DumpFormat::Pprof && args.output.is_none() && std::io::stdout().is_terminal() {
        return Some((
            "pprof output is binary (gzipped protobuf), not written to a terminal: give -o FILE or redirect standard output"
                .to_string(),
            EXIT_BINARY_TO_TERMINAL,
        ));
    }
    if args.watch.is_some() && args.output.is_some() {
        return Some((
            "--watch prints to standard output: redirect it instead of -o".to_string(),
            EXIT_ERROR,
        ));
    }
    None
}

/// Time between the snapshots of `dump --group --watch`: the inspector's fastest pace.
const WATCH_PACE: Duration = Duration::from_millis(500);

/// `dump --group --watch SECS`: snapshots of `pid` every [`WATCH_PACE`] for `secs`, then the
/// groups with their verdicts. A line on stderr says when the first snapshot is taken; Ctrl-C
/// ends the watch early (what was seen is printed, the exit is 130).
fn run_watch(mut tracer: Tracer, pid: u32, secs: f64, cancel: &AtomicBool) -> ExitCode {
    if !(0.5..=86_400.0).contains(&secs) {
        eprintln!("rstack-tui: error: --watch must be between 0.5 and 86400 seconds");
        return ExitCode::from(EXIT_ERROR);
    }
    let length = Duration::from_secs_f64(secs);
    let start = std::time::Instant::now();
    let mut tracker = rstack_tui::profile::verdict::Tracker::default();
    let mut first: Option<rstack_tui::Process> = None;
    let mut last: Option<rstack_tui::Process> = None;
    loop {
        let began = std::time::Instant::now();
        match tracer.trace(pid) {
            Ok(p) => {
                tracker.push(&p);
                if first.is_none() {
                    eprintln!(
                        "rstack-tui: watching process {pid} for {secs} s, a snapshot every {} s",
                        WATCH_PACE.as_secs_f64()
                    );
                    first = Some(p.clone());
                }
                last = Some(p);
            }
            // The process gone, or Ctrl-C, after some snapshots: what was seen is still worth
            // printing.
            Err(Error::NoSuchProcess { .. } | Error::Cancelled { .. }) if last.is_some() => break,
            Err(e) => {
                tracer.finish();
                return fail(&e);
            }
        }
        let next = began + WATCH_PACE;
        if cancel.load(Ordering::Relaxed) || next.duration_since(start) > length {
            break;
        }
        std::thread::sleep(next.saturating_duration_since(std::time::Instant::now()));
    }
    tracer.finish();
    let (Some(first), Some(last)) = (first, last) else {
        return ExitCode::from(EXIT_ERROR);
    };
    let out = dump::groups_watched_to_text(&first, &last, &tracker);
    match print_bytes(out.as_bytes()) {
        // Cut short by a signal: what was seen is printed, and the exit says so.
        ok if ok == ExitCode::SUCCESS && cancel.load(Ordering::Relaxed) => {
            ExitCode::from(EXIT_CANCELLED)
        }
        code => code,
    }
}

/// The format `record` writes: --format's, else the output file's extension's; None for the
/// summary on stdout.
fn record_format(
    args: &RecordArgs,
) -> Result<Option<rstack_tui::profile::export::Format>, ExitCode> {
    use rstack_tui::profile::export;
    Ok(match (&args.output, &args.format) {
        (None, _) => None,
        (Some(_), Some(name)) => match export::Format::from_name(name) {
            Some(f) => Some(f),
            None => {
                eprintln!(
                    "rstack-tui: error: no format '{}' (pprof, folded or speedscope)",
                    text::inert(name)
                );
                return Err(ExitCode::from(EXIT_ERROR));
            }
        },
        (Some(path), None) => match export::Format::from_path(path) {
            Some(f) => Some(f),
            None => {
                eprintln!(
                    "rstack-tui: error: the format of '{}' is not told by its extension (.pb.gz, .folded, .speedscope.json): give --format",
                    text::inert(&path.display().to_string())
                );
                return Err(ExitCode::from(EXIT_ERROR));
            }
        },
    })
}

/// `record`: samples the process, then writes the profile or prints its summary.
fn run_record(args: RecordArgs) -> ExitCode {
    use rstack_tui::record;
    use std::io::IsTerminal;
    let cancel = install_signal_handlers();
    if !record::RATES.contains(&args.rate) {
        eprintln!("rstack-tui: error: --rate must be between 1 and 200 snapshots a second");
        return ExitCode::from(EXIT_ERROR);
    }
    let duration = match args.duration {
        None => None,
        Some(d) if d.is_finite() && d > 0.0 && d <= 1e6 => Some(Duration::from_secs_f64(d)),
        Some(_) => {
            eprintln!("rstack-tui: error: --duration must be a number of seconds above 0");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // The format is settled before we record, so a typo costs no recording.
    let format = match record_format(&args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let pid = match dump_pid(&args.target) {
        Ok(pid) => pid,
        Err(code) => return code,
    };
    let target = match rstack_tui::tracer::target_of(pid) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if let Some(line) = describe::thread_selected_text(&target) {
        eprintln!("rstack-tui: {line}");
    }
    let mut options = TraceOptions::new();
    // A profile has no use for wait chains, and following a socket can cost tens of
    // milliseconds a snapshot.
    options
        .python(!args.no_python)
        .chains(false)
        .unwind_method(args.tracer.unwinder.into())
        .line_cache(args.tracer.line_cache())
        .cancel_flag(cancel.clone());
    let mut tracer = Tracer::new(options);
    let show = std::io::stderr().is_terminal();
    let mut shown: Option<std::time::Instant> = None;
    let mut progress = |p: &record::Progress| {
        // At most 4 times a second, rewritten in place.
        if show && shown.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) {
            shown = Some(std::time::Instant::now());
            eprint!("\r\x1b[K{}", record::progress_line(p));
        }
    };
    let opts = record::Options {
        rate: args.rate,
        duration,
    };
    let recorded = record::record(&mut tracer, target.pid, opts, &cancel, &mut progress);
    if show && shown.is_some() {
        eprint!("\r\x1b[K");
    }
    tracer.finish();
    let mut recording = match recorded {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    eprintln!("rstack-tui: {}", record::end_line(&recording, args.rate));
    if format == Some(rstack_tui::profile::export::Format::Pprof) {
        // The mappings' build-ids, from the files the target maps (if it still runs).
        let pid = recording.profile.pid;
        recording
            .profile
            .add_build_ids(|path| rstack_tui::app::source::mapped_build_id(pid, path));
    }
    let written = write_recording(&recording, format, &args);
    if let Err(e) = written {
        eprintln!("rstack-tui: error: {e}");
        return ExitCode::from(EXIT_ERROR);
    }
    // Ctrl-C is the usual end of a recording without --duration: the profile is kept, so
    // it is a success; a snapshot that failed midway is a partial one.
    match recording.end {
        record::End::Failed(_) => ExitCode::from(EXIT_PARTIAL),
        record::End::Cancelled | record::End::Duration | record::End::TargetExited => {
            ExitCode::SUCCESS
        }
    }
}

/// Writes the profile to the file asked for, or its summary to stdout; the error worded.
fn write_recording(
    recording: &rstack_tui::record::Recording,
    format: Option<rstack_tui::profile::export::Format>,
    args: &RecordArgs,
) -> Result<(), String> {
    use rstack_tui::profile::export;
    use rstack_tui::record;
    match (&args.output, format) {
        (Some(path), Some(format)) => {
            let file = std::fs::File::create(path).and_then(|mut f| {
                export::write(&recording.profile, format, &mut f)?;
                f.sync_all()
            });
            file.map_err(|e| format!("writing {}: {e}", text::inert(&path.display().to_string())))
        }
        _ => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(record::summary_text(&recording.profile, args.top).as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("writing the summary: {e}"))
        }
    }
}

/// The pid `dump` traces for its argument (a pid or a name); the exit when there is none or
/// the name is ambiguous (the candidates listed).
fn dump_pid(target: &str) -> Result<u32, ExitCode> {
    let asked = match pidname::resolve(target) {
        Named::Id(n) => n,
        Named::One(p) => i64::from(p.pid),
        Named::Several(found) => {
            eprintln!(
                "rstack-tui: error: {} processes are named '{}'; give one pid:",
                found.len(),
                text::inert(target)
            );
            eprint!("{}", pidname::candidates_text(&found, 200));
            return Err(ExitCode::from(EXIT_AMBIGUOUS));
        }
        Named::None => return Err(no_process_named(target)),
    };
    u32::try_from(asked).map_err(|_| {
        fail(&Error::NoSuchProcess {
            pid: asked.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        })
    })
}

/// "trace 2: 41.3 ms = prepare 1.2 + capture 20.1 + unwind 9.9 + symbolize 8.0 + python 0.0 +
/// waits 2.1;
/// 1002 threads, 4 stopped, longest stop 0.05 ms; held at SCHED_FIFO; output 3.2 ms".
fn timings_line(n: u32, p: &rstack_tui::Process, output: Option<Duration>) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let t = p.timings();
    let mut line = format!(
        "trace {n}: {:.1} ms = prepare {:.1} + capture {:.1} + unwind {:.1} + symbolize {:.1} + python {:.1} + waits {:.1} + chains {:.1}; {} threads, {} stopped, {} unchanged since the last trace, longest stop {:.2} ms",
        ms(p.elapsed()),
        ms(t.prepare),
        ms(t.capture),
        ms(t.unwind),
        ms(t.symbolize),
        ms(t.python),
        ms(t.waits),
        ms(t.chains),
        p.threads().len(),
        p.stopped_threads(),
        t.reused,
        ms(p.longest_stop()),
    );
    if t.lines_remembered + t.lines_looked_up > 0 {
        line += &format!(
            "; lines of {} addresses from the line cache, {} from DWARF",
            t.lines_remembered, t.lines_looked_up
        );
    }
    line += match t.stop_priority {
        rstack_tui::StopPriority::NoStop => "",
        rstack_tui::StopPriority::Raised => "; held at SCHED_FIFO",
        rstack_tui::StopPriority::AlreadyRealTime => "; held at our real-time priority",
        rstack_tui::StopPriority::NotPermitted => "; held at normal priority (SCHED_FIFO refused)",
    };
    if let Some(out) = output {
        line += &format!("; output {:.1} ms", ms(out));
    }
    line
}

/// Prints an error and its causes on one line and picks the exit code.
fn fail(e: &Error) -> ExitCode {
    match e {
        Error::NoSuchProcess { pid } => eprintln!("rstack-tui: error: no process {pid}"),
        _ => eprintln!("rstack-tui: error: {}", text::error_line(e)),
    }
    ExitCode::from(match e {
        Error::NoSuchProcess { .. } => EXIT_NO_PROCESS,
        Error::Cancelled { .. } => EXIT_CANCELLED,
        Error::UnsupportedArchitecture { .. } => EXIT_UNSUPPORTED,
        _ => EXIT_ERROR,
    })
}
