//! Our frames against gdb's (`thread apply all bt`) on the Rust, C++ and C fixtures: for every
//! thread (matched by LWP id) the sequence of function names, inlined functions included,
//! must match gdb's in order, live and on a `gcore` core of the same fixtures (gdb reading
//! the core with the executable, we with `trace_core`). Needs gdb (scripts/deps.sh installs it).
//!
//! Names are compared after a normalisation both sides get (see [`normalise`]): gdb names
//! functions from DWARF (`{impl#23}`, `{closure#1}`, generic arguments, no return types)
//! while ours come from linkage names (`<T as Trait>::f`, `{{closure}}`, `void f<1>()`), so
//! what is compared is the function's own name: the last path segment with generic arguments
//! and parameter lists removed.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{Chains, Fixture};
use rstack_tui::{Process, TraceOptions};

/// glibc symbols gdb names by their DWARF (internal) name where our symbol table picks the
/// public alias at the same address. Kept minimal: each entry was seen in a fixture's stack.
/// (gdb's name, ours.)
const ALIASES: &[(&str, &str)] = &[
    // pause(2): glibc defines `__libc_pause` and exports `pause` as its alias.
    ("__libc_pause", "pause"),
    // glibc 2.34+: `__libc_start_main_impl` is the definition, exported (versioned) as
    // `__libc_start_main`.
    ("__libc_start_main_impl", "__libc_start_main"),
    // `__GI_` is glibc's hidden internal alias (libc-internal calls bind to it); the
    // exported name is the rest.
    ("__GI___lll_lock_wait", "__lll_lock_wait"),
    // read(2): defined as `__libc_read`, `__GI___libc_read` internally, exported as `read`
    // (DWARF names the inlined syscall wrapper by the internal name as well).
    ("__GI___libc_read", "read"),
    // glibc 2.34+ defines these as `___pthread_*` and exports versioned `pthread_*` aliases.
    ("___pthread_mutex_lock", "pthread_mutex_lock"),
    ("___pthread_cond_wait", "pthread_cond_wait"),
    // A static glibc has both `clone3` and `__clone3` at one address; gdb shows the first.
    ("__clone3", "clone3"),
];

/// How gdb names a signal trampoline's frame; ours is the frame marked as a signal frame
/// (with its own symbol beside).
const SIGNAL_FRAME: &str = "<signal handler called>";

/// One thread of gdb's output: LWP id and frame names (None for `??`), innermost first.
type GdbThreads = HashMap<u32, Vec<Option<String>>>;

/// gdb's frames of every thread, without its tail-call frames, and its whole output.
///
/// gdb reconstructs frames for functions that tail-called (they have no frame of their own)
/// from DWARF call-site info; we list only the frames that exist on the stack (plus inlined
/// functions), so those are left out of the comparison. A short Python pass after `bt`
/// reports which frames gdb synthesised (`gdb.TAILCALL_FRAME`).
fn gdb_backtraces(pid: u32) -> (GdbThreads, String) {
    // The executable through /proc: the very file the process runs, even if another test
    // binary rebuilt the fixture at its path meanwhile.
    gdb_on(&[format!("/proc/{pid}/exe"), "-p".into(), pid.to_string()])
}

/// gdb's frames of every thread of core file `core` of executable `exe`.
fn gdb_core_backtraces(exe: &std::path::Path, core: &std::path::Path) -> (GdbThreads, String) {
    gdb_on(&[exe.display().to_string(), core.display().to_string()])
}

/// gdb's frames of every thread of what `target` (gdb's arguments) names.
fn gdb_on(target: &[String]) -> (GdbThreads, String) {
    // One file per call: the tests of this binary run in parallel, and one removing a shared
    // script before another's gdb read it left that gdb's tail-call frames unmarked.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let script = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gdb-tailcalls-{}-{n}.py", std::process::id()));
    std::fs::write(&script, TAILCALLS_PY).unwrap();
    let out = Command::new("gdb")
        .args(["-batch", "-nx"])
        .args(target)
        .args(["-ex", "set pagination off", "-ex", "set width 0"])
        // Ours go on to the outermost frame; gdb stops at `main` unless told.
        .args(["-ex", "set backtrace past-main on"])
        .args(["-ex", "thread apply all bt"])
        .arg("-x")
        .arg(&script)
        .output()
        .expect("running gdb (scripts/deps.sh installs it)");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut threads = parse_gdb(&text);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("tailcalls:") {
            continue;
        }
        let Some(frames) = words
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .and_then(|tid| threads.get_mut(&tid))
        else {
            continue;
        };
        let mut drop: Vec<usize> = words.filter_map(|w| w.parse().ok()).collect();
        drop.sort_unstable();
        for i in drop.into_iter().rev() {
            if i < frames.len() {
                frames.remove(i);
            }
        }
    }
    (threads, text)
}

/// Prints `tailcalls: LWP i j ...`: the indices of each thread's tail-call frames.
const TAILCALLS_PY: &str = r#"
import gdb
for t in gdb.selected_inferior().threads():
    t.switch()
    f = gdb.newest_frame()
    i = 0
    found = []
    while f is not None:
        if f.type() == gdb.TAILCALL_FRAME:
            found.append(str(i))
        f = f.older()
        i += 1
    print("tailcalls: %d %s" % (t.ptid[1], " ".join(found)))
"#;

/// Parses `thread apply all bt`: `Thread N (Thread 0x… (LWP TID) "name"):` headers, then
/// `#N  0x… in NAME (args) at …` or `#N  NAME (args) …` frame lines.
fn parse_gdb(text: &str) -> GdbThreads {
    let mut threads = GdbThreads::new();
    let mut current: Option<u32> = None;
    for line in text.lines() {
        if line.starts_with("Thread ") {
            current = line
                .split("(LWP ")
                .nth(1)
                .map(|r| r.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""))
                .and_then(|n| n.parse().ok());
            if let Some(tid) = current {
                threads.entry(tid).or_default();
            }
            continue;
        }
        let Some(tid) = current else { continue };
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        // Skip the frame number, then an optional "0x… in ".
        let rest = rest
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        let rest = match rest.strip_prefix("0x") {
            Some(r) => r.split_once(" in ").map_or(r, |(_, n)| n),
            None => rest,
        };
        let name = name_before_args(rest);
        let name = (name != "??").then(|| name.to_string());
        threads.get_mut(&tid).unwrap().push(name);
    }
    threads
}

/// The function name at the start of a gdb frame: up to the first ` (` outside `<…>`.
fn name_before_args(s: &str) -> &str {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => depth -= 1,
            b' ' if depth <= 0 && bytes.get(i + 1) == Some(&b'(') => return &s[..i],
            _ => {}
        }
    }
    s.trim_end()
}

/// Removes every balanced `<…>` and `(…)` group (generic arguments, parameter lists,
/// `<T as Trait>` qualifiers).
fn strip_groups(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A function's own name: closures as `{closure}` (gdb `{closure#1}`, ours `{{closure}}`),
/// no `{{vtable.shim}}` suffix, no generic arguments, parameter lists or return type, the
/// last path segment, and glibc aliases mapped.
fn normalise(name: &str) -> String {
    let name = name.replace("{{vtable.shim}}", "");
    let name = name.replace("{{closure}}", "{closure}");
    let mut name = strip_groups(&name);
    // gdb's `{closure#1}`, `{impl#2}`: drop the index.
    while let Some(i) = name.find('#') {
        let end = name[i..].find('}').map_or(name.len(), |e| i + e);
        name.replace_range(i..end, "");
    }
    // `f::<T>` loses its arguments above; drop the `::` left behind.
    let name = name.replace("::::", "::");
    let name = name.trim_end_matches(':');
    let last = name.rsplit("::").next().unwrap_or(name);
    // A C++ return type stands before the name: keep the last word.
    let last = last.rsplit(' ').next().unwrap_or(last).trim().to_string();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == last)
        .map_or(last, |(_, ours)| ours.to_string())
}

fn ours(p: &Process) -> HashMap<u32, Vec<Option<String>>> {
    p.threads()
        .iter()
        .map(|t| {
            let names = t
                .frames()
                .iter()
                .map(|f| {
                    if f.is_signal() {
                        return Some(SIGNAL_FRAME.to_string());
                    }
                    f.symbol().map(|s| normalise(s.name()))
                })
                .collect();
            (t.id(), names)
        })
        .collect()
}

/// Each thread's frame names from gdb and from us (both normalised), by LWP id, with gdb's
/// whole output; asserts both list the same threads.
#[allow(clippy::type_complexity)]
fn both(fx: &Fixture) -> (Vec<(u32, Vec<Option<String>>, Vec<Option<String>>)>, String) {
    let (gdb, text) = gdb_backtraces(fx.pid());
    fx.assert_running();
    assert!(!gdb.is_empty(), "no threads in gdb's output:\n{text}");
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    fx.assert_running();
    pair_up(gdb, &p, text)
}

/// Each thread's frame names from gdb and from us, by LWP id; asserts both list the same
/// threads.
#[allow(clippy::type_complexity)]
fn pair_up(
    gdb: GdbThreads,
    p: &Process,
    text: String,
) -> (Vec<(u32, Vec<Option<String>>, Vec<Option<String>>)>, String) {
    let mut ours = ours(p);
    let mut tids: Vec<_> = gdb.keys().copied().collect();
    tids.sort_unstable();
    let ours_tids = {
        let mut t: Vec<_> = ours.keys().copied().collect();
        t.sort_unstable();
        t
    };
    assert_eq!(tids, ours_tids, "threads (LWP ids):\n{text}");
    let pairs = tids
        .into_iter()
        .map(|tid| {
            let theirs: Vec<Option<String>> = gdb[&tid]
                .iter()
                .map(|n| {
                    n.as_deref().map(|n| {
                        if n == SIGNAL_FRAME {
                            n.into()
                        } else {
                            normalise(n)
                        }
                    })
                })
                .collect();
            (tid, ours.remove(&tid).unwrap_or_default(), theirs)
        })
        .collect();
    (pairs, text)
}

fn crosscheck(fx: &Fixture) {
    assert_pairs_equal(both(fx));
}

#[allow(clippy::type_complexity)]
fn assert_pairs_equal(
    (pairs, text): (Vec<(u32, Vec<Option<String>>, Vec<Option<String>>)>, String),
) {
    for (tid, ours, theirs) in pairs {
        assert_eq!(
            ours, theirs,
            "thread {tid}: ours (left) vs gdb (right)\n{text}"
        );
    }
}

/// A `gcore` core of `fx`: gdb on the core (with the executable) and our `trace_core` name
/// the same frames for every thread.
fn core_crosscheck(fx: &Fixture) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "gdb-core-{}-{}",
        std::process::id(),
        fx.pid()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let core_path = common::gcore(fx.pid(), &dir);
    fx.assert_running();
    let exe = std::fs::read_link(format!("/proc/{}/exe", fx.pid())).unwrap();
    let (gdb, text) = gdb_core_backtraces(&exe, &core_path);
    assert!(!gdb.is_empty(), "no threads in gdb's output:\n{text}");
    let core = rstack_tui::tracer::coredump::Core::open(&core_path).expect("the core");
    let p = rstack_tui::Tracer::new(TraceOptions::new())
        .trace_core(std::sync::Arc::new(core), std::path::Path::new("/"))
        .expect("trace the core");
    let _ = std::fs::remove_dir_all(&dir);
    assert_pairs_equal(pair_up(gdb, &p, text));
}

#[test]
fn rust_fixture_core_matches_gdb() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    core_crosscheck(&fx);
}

#[test]
fn cpp_fixture_core_matches_gdb() {
    let fx = Fixture::spawn(common::cpp_bin(), &["2", "inline"]);
    core_crosscheck(&fx);
}

#[test]
fn c_fixture_core_matches_gdb() {
    let fx = Fixture::spawn(common::deadlock_bin(), &[]);
    core_crosscheck(&fx);
}

#[test]
fn rust_fixture_matches_gdb() {
    let fx = Fixture::spawn(common::threads_bin(), &["inline"]);
    crosscheck(&fx);
}

#[test]
fn cpp_fixture_matches_gdb() {
    let fx = Fixture::spawn(common::cpp_bin(), &["2", "inline"]);
    crosscheck(&fx);
}

#[test]
fn c_fixture_matches_gdb() {
    let fx = Fixture::spawn(common::deadlock_bin(), &[]);
    crosscheck(&fx);
}

/// A thread in a signal handler: the handler, the trampoline, the interrupted function (by
/// its exact address: it was interrupted at its first byte) and its callers.
#[test]
fn signal_fixture_matches_gdb() {
    let fx = Fixture::spawn(common::sigframe_bin(), &[]);
    crosscheck(&fx);
}

#[test]
fn static_glibc_fixture_matches_gdb() {
    crosscheck(&Fixture::spawn(Chains::GlibcStatic.bin(), &[]));
}

#[test]
fn pie_without_eh_frame_hdr_matches_gdb() {
    crosscheck(&Fixture::spawn(Chains::EhFramePie.bin(), &[]));
}

#[test]
fn debug_frame_only_fixture_matches_gdb() {
    crosscheck(&Fixture::spawn(Chains::DebugFrameOnly.bin(), &[]));
}

/// musl has no unwind tables of its own: below the fixture's frames gdb goes on by prologue
/// analysis into frames that are not there (`builtin_tls`, a data object, then address 0),
/// where ours end at the first musl frame. Every frame of ours must be gdb's, in order, and
/// ours must end in musl's start code.
#[test]
fn static_musl_fixture_matches_gdb_as_far_as_tables_go() {
    let (pairs, text) = both(&Fixture::spawn(Chains::MuslStatic.bin(), &[]));
    for (tid, ours, theirs) in pairs {
        let last = ours.last().cloned().flatten().unwrap_or_default();
        assert!(
            ["start", "libc_start_main_stage2"].contains(&last.as_str()),
            "thread {tid}: ours end at {last}\n{text}"
        );
        assert!(
            ours.len() >= 4 && theirs.starts_with(&ours),
            "thread {tid}: ours (left) vs gdb (right): {ours:?} {theirs:?}\n{text}"
        );
    }
}

/// Assembly leaves without CFI: called directly or through a pointer (and glibc's `clone3`
/// below every thread), gdb takes the return address at the stack pointer, as we do. Where the
/// word there is no return address (leaf_pushed), gdb goes on to a frame that is not there
/// (address 0); ours end at the leaf.
#[test]
fn frameless_leaves_match_gdb() {
    let (pairs, text) = both(&Fixture::spawn(common::frameless_bin(), &[]));
    let mut pushed = 0;
    for (tid, ours, theirs) in pairs {
        let what = format!("thread {tid}: ours (left) vs gdb (right)\n{text}");
        if ours.first() == Some(&Some("leaf_pushed".into())) {
            pushed += 1;
            assert_eq!(ours.len(), 1, "{what}");
            assert!(theirs.starts_with(&ours), "{ours:?} {theirs:?}: {what}");
            continue;
        }
        assert_eq!(ours.first(), Some(&Some("leaf_pause".into())), "{what}");
        assert_eq!(ours, theirs, "{what}");
    }
    assert_eq!(pushed, 1, "{text}");
}

#[test]
fn normalisation() {
    assert_eq!(normalise("threads_fixture::main::{closure#1}"), "{closure}");
    assert_eq!(normalise("threads_fixture::main::{{closure}}"), "{closure}");
    assert_eq!(normalise("void app::detail::descend<2>()"), "descend");
    assert_eq!(normalise("app::detail::descend<2>"), "descend");
    assert_eq!(
        normalise(
            "<core::panic::unwind_safe::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once"
        ),
        "call_once"
    );
    assert_eq!(
        normalise(
            "alloc::boxed::{impl#31}::call_once<(), (dyn core::ops::function::FnOnce<(), Output=()> + core::marker::Send), alloc::alloc::Global>"
        ),
        "call_once"
    );
    assert_eq!(
        normalise("std::panicking::catch_unwind::do_call::<&dyn Fn<()>, i32>"),
        "do_call"
    );
    assert_eq!(normalise("__libc_pause"), "pause");
    assert_eq!(
        name_before_args(
            "alloc::boxed::{impl#31}::call_once<(), (dyn X<(), Output=()> + Send)> () at x.rs:1"
        ),
        "alloc::boxed::{impl#31}::call_once<(), (dyn X<(), Output=()> + Send)>"
    );
}
