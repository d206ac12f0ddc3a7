//! The output of `rstack-tui dump`: a jstack/eu-stack-like text listing, or the versioned JSON
//! document of [`crate::tracer::schema`]. Every string from the target passes through
//! [`crate::text`] on its way out, even though the tracer already made it inert.

use std::fmt::Write;

mod chains;
mod watch;
pub use chains::{chains_to_text, write_chains_json};
pub use watch::groups_watched_to_text;

use crate::describe::{
    cycle_text, goroutine_state, interesting_frame, lock_text, quoted, unguarded_text,
    wait_cycle_text, waiting_on, write_chain,
};
use crate::text::{inert, output_buffer, to_json_inert_sized, write_json_inert};
use crate::tracer::equal_stacks::EqualStacks;
use crate::tracer::schema::SnapshotDoc;
use crate::tracer::{Frame, FrameKind, Process, PythonThread, Thread};

/// The text listing of a traced process.
pub fn to_text(p: &Process) -> String {
    to_text_selected(p, None)
}

/// The text listing with thread `selected` (the thread id the user gave) marked "* Thread",
/// as gdb marks the current thread.
pub fn to_text_selected(p: &Process, selected: Option<u32>) -> String {
    to_text_with(p, selected, false)
}

/// The text listing, `brief` or whole: brief, an interpreter thread's stack leaves out the
/// interpreter's own frames between its Python frames (see [`crate::describe::brief`]).
pub fn to_text_with(p: &Process, selected: Option<u32>, brief: bool) -> String {
    // About 130 bytes per frame, 250 per thread.
    let frames: usize = p.threads().iter().map(|t| t.frames().len()).sum();
    let capacity = frames * 130 + p.threads().len() * 250;
    let mut out = String::from_utf8(output_buffer(capacity)).unwrap_or_default();
    let _ = writeln!(
        out,
        "Process {} {}: {} threads, {} mode, took {}, longest stop {} ({} stopped, {} not)",
        p.id(),
        quoted(p.command()),
        p.threads().len(),
        p.mode().as_str(),
        millis(p.elapsed()),
        millis(p.longest_stop()),
        p.stopped_threads(),
        p.threads().len() - p.stopped_threads(),
    );
    let mut stacks = SharedStacks::of(p.threads().iter().map(Thread::frames));
    stacks.brief = brief;
    for (i, t) in p.threads().iter().enumerate() {
        out.push('\n');
        if selected == Some(t.id()) {
            out.push_str("* ");
        }
        write_thread(&mut out, p, t, |out| stacks.write(out, i, t.frames()));
    }
    write_goroutines(&mut out, p);
    if !p.deadlocks().is_empty()
        || !p.wait_cycles().is_empty()
        || !p.missing_debuginfo().is_empty()
        || p.unguarded().is_some()
    {
        out.push('\n');
    }
    write_deadlocks(&mut out, p);
    for m in p.missing_debuginfo() {
        let _ = writeln!(out, "debuginfo missing: {}", inert(&m.to_string()));
    }
    if let Some(u) = p.unguarded() {
        let _ = writeln!(out, "{}", unguarded_text(u));
    }
    out
}

/// The frames' text of stacks equal to a later one, kept to be copied: 1000 workers parked
/// in one stack are written once.
struct SharedStacks {
    equal: EqualStacks,
    text: Vec<Option<String>>,
    /// Leave out an interpreter's own frames between Python frames.
    brief: bool,
}

impl SharedStacks {
    fn of<'a>(stacks: impl Iterator<Item = &'a [Frame]> + Clone) -> SharedStacks {
        SharedStacks {
            text: vec![None; stacks.clone().count()],
            equal: EqualStacks::of(stacks),
            brief: false,
        }
    }

    /// Writes the frames of stack `i`, or copies the text of the equal stack written first.
    fn write(&mut self, out: &mut String, i: usize, frames: &[Frame]) {
        if let Some(text) = self.text.get(self.equal.first(i)).and_then(Option::as_ref) {
            out.push_str(text);
            return;
        }
        let start = out.len();
        let shown = if self.brief {
            crate::describe::brief::shown(frames)
        } else {
            vec![true; frames.len()]
        };
        let mut hidden = 0;
        for (k, f) in frames.iter().enumerate() {
            if !shown[k] {
                hidden += 1;
                continue;
            }
            if hidden > 0 {
                let _ = writeln!(
                    out,
                    "  ..   {}",
                    crate::describe::brief::hidden_text(hidden)
                );
                hidden = 0;
            }
            write_frame(out, k, f);
        }
        if self.equal.is_repeated(i)
            && let Some(slot) = self.text.get_mut(i)
        {
            *slot = Some(out[start..].to_owned());
        }
    }
}

fn write_thread(out: &mut String, p: &Process, t: &Thread, frames: impl FnOnce(&mut String)) {
    let _ = write!(out, "Thread {}", t.id());
    if let Some(name) = t.name() {
        let _ = write!(out, " {}", quoted(name));
    }
    let _ = writeln!(out, " ({}):", waiting_on(t));
    if let Some(lock) = lock_text(p, t) {
        let _ = writeln!(out, "  -- {lock}");
    }
    if let Some(chain) = &t.facts().chain {
        write_chain(out, p.id(), chain);
    }
    if let Some(err) = t.error() {
        let _ = writeln!(out, "  !! {}", inert(&err.to_string()));
    }
    if let Some(py) = &t.facts().python {
        write_python_facts(out, py);
    }
    frames(out);
    // One reason, once, for a stack that did not reach the thread's root.
    if let Some(note) = t.end_note() {
        let _ = writeln!(out, "  ... ({})", inert(&note));
    }
    if !t.facts().kernel_stack.is_empty() {
        let _ = writeln!(out, "  kernel:");
        for k in &t.facts().kernel_stack {
            let _ = writeln!(out, "    {}", inert(k));
        }
    }
}

/// A `deadlock:` line per cycle: the mutex cycles inside the process, then those through
/// other processes or other waits, every edge named.
fn write_deadlocks(out: &mut String, p: &Process) {
    for cycle in p.deadlocks() {
        let _ = writeln!(out, "deadlock: {}", cycle_text(p, cycle));
    }
    for cycle in p.wait_cycles() {
        let _ = writeln!(out, "deadlock: {}", wait_cycle_text(p.id(), cycle));
    }
}

/// A Go process's "goroutines" section: a count, then each goroutine like a thread.
fn write_goroutines(out: &mut String, p: &Process) {
    if p.goroutines().is_empty() && p.goroutines_note().is_none() {
        return;
    }
    let _ = writeln!(out, "\n{}", goroutines_header(p));
    let mut stacks = SharedStacks::of(p.goroutines().iter().map(|g| g.frames()));
    for (i, g) in p.goroutines().iter().enumerate() {
        let _ = writeln!(out, "\nGoroutine {} [{}]:", g.id(), goroutine_state(g));
        stacks.write(out, i, g.frames());
        if let Some(note) = g.end_note() {
            let _ = writeln!(out, "  ... ({})", inert(note));
        }
    }
}

/// "Goroutines: 9" with the note, if any, after a semicolon.
fn goroutines_header(p: &Process) -> String {
    let mut s = format!("Goroutines: {}", p.goroutines().len());
    if let Some(note) = p.goroutines_note() {
        let _ = write!(s, " ({})", inert(note));
    }
    s
}

/// "  -- python: holds the GIL; thread \"name\"; note" for a thread of a CPython runtime.
fn write_python_facts(out: &mut String, py: &PythonThread) {
    let mut parts = Vec::new();
    if py.holds_gil {
        parts.push("holds the GIL".to_string());
    }
    if let Some(name) = &py.name {
        parts.push(format!("thread {}", quoted(name)));
    }
    if let Some(note) = &py.note {
        parts.push(inert(note).into_owned());
    }
    if !parts.is_empty() {
        let _ = writeln!(out, "  -- python: {}", parts.join("; "));
    }
}

/// "  #3    [py] worker_loop  at /srv/app.py:42": a Python frame has no address or module.
fn write_python_frame(out: &mut String, i: usize, f: &Frame) {
    out.push_str("  #");
    let digits = push_decimal(out, i as u64);
    out.push_str(&"    "[..4 - digits.min(3)]);
    out.push_str("[py] ");
    out.push_str(&inert(f.symbol().map_or("??", |s| s.name())));
    write_location(out, f);
    out.push('\n');
}

fn write_frame(out: &mut String, i: usize, f: &Frame) {
    if f.kind() == FrameKind::Python {
        return write_python_frame(out, i, f);
    }
    // `write!` costs more than the rest of a frame's line (some 500 instructions a call, four
    // calls a frame, tens of thousands of frames): the numbers are written by hand.
    out.push_str("  #");
    let digits = push_decimal(out, i as u64);
    out.push_str(&"    "[..4 - digits.min(3)]);
    out.push_str("0x");
    push_hex(out, f.ip(), 16);
    out.push_str("  ");
    if f.is_inlined() {
        // An inlined function: no frame of its own, the module is the next frame's.
        out.push_str("[inlined] ");
        out.push_str(&inert(f.symbol().map_or("??", |s| s.name())));
        write_location(out, f);
        out.push('\n');
        return;
    }
    if f.is_signal() {
        // As gdb names the signal trampoline; its own symbol follows.
        out.push_str("<signal handler called> ");
    }
    if f.is_frameless() {
        // No unwind info: the frame below is its return address at the stack pointer.
        out.push_str("[frameless] ");
    }
    match f.symbol() {
        Some(sym) => {
            out.push_str(&inert(sym.name()));
            out.push_str("+0x");
            push_hex(out, sym.offset(), 1);
        }
        None => out.push_str("??"),
    }
    match f.module() {
        Some(m) if f.symbol().is_some() => {
            out.push_str("  (");
            out.push_str(&inert(&m.path));
            out.push(')');
        }
        Some(m) => {
            let _ = write!(out, "  ({} +0x{:x})", inert(&m.path), m.offset);
        }
        None => {}
    }
    write_location(out, f);
    out.push('\n');
}

fn write_location(out: &mut String, f: &Frame) {
    if let Some(l) = f.location() {
        out.push_str("  at ");
        out.push_str(&inert(&l.file));
        out.push(':');
        push_decimal(out, u64::from(l.line));
    }
}

/// Appends `v` in decimal (as `{}` does); returns the number of digits.
fn push_decimal(out: &mut String, v: u64) -> usize {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    let mut n = v;
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push_ascii(out, &buf[start..]);
    buf.len() - start
}

/// Appends `v` in lowercase hex with at least `width` digits, zero-padded (as `{:0width$x}`
/// does, for widths up to 16).
fn push_hex(out: &mut String, v: u64, width: usize) {
    let mut buf = [b'0'; 16];
    let mut start = buf.len();
    let mut n = v;
    loop {
        start -= 1;
        buf[start] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    push_ascii(out, &buf[start.min(16 - width.min(16))..]);
}

/// Appends digits (ASCII, so always valid UTF-8) in one copy.
fn push_ascii(out: &mut String, digits: &[u8]) {
    if let Ok(s) = std::str::from_utf8(digits) {
        out.push_str(s);
    }
}

/// Writes the JSON document of a traced process (one line, or pretty) and a newline to `out`
/// as it is made: through a small buffer that stays in the CPU's cache, 1000 threads' 7 MB
/// cost no page faults and no second copy.
pub fn write_json(p: &Process, pretty: bool, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let doc = SnapshotDoc::from(p).with_shared_stacks(pretty);
    write_json_inert(&mut *out, &doc, pretty).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// The JSON document of a traced process (one line, or pretty).
pub fn to_json(p: &Process, pretty: bool) -> String {
    // About 250 bytes per frame and 400 per thread, 400 and 700 pretty: room to spare costs
    // nothing (pages never written are never touched), growing copies the document.
    let frames: usize = p.threads().iter().map(|t| t.frames().len()).sum();
    let (per_frame, per_thread) = if pretty { (450, 800) } else { (300, 500) };
    let capacity = frames * per_frame + p.threads().len() * per_thread;
    let doc = SnapshotDoc::from(p).with_shared_stacks(pretty);
    to_json_inert_sized(&doc, pretty, capacity).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn millis(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The names of a group's threads: `"name" (tid)`, at most 8, then "and K more".
fn thread_list(threads: &[(u32, Option<String>)]) -> String {
    const SHOWN: usize = 8;
    let mut s = String::new();
    for (i, (tid, name)) in threads.iter().take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match name {
            Some(name) => {
                let _ = write!(s, "{} ({tid})", quoted(name));
            }
            None => {
                let _ = write!(s, "{tid}");
            }
        }
    }
    if threads.len() > SHOWN {
        let _ = write!(s, " and {} more", threads.len() - SHOWN);
    }
    s
}

/// A stack key, one frame per line: `{prefix}#i  name` (`prefix(i)` gives each line's lead).
fn write_key(out: &mut String, key: &[String], prefix: impl Fn(usize) -> &'static str) {
    if key.is_empty() {
        let _ = writeln!(out, "{}(no frames)", prefix(0));
    }
    for (i, k) in key.iter().enumerate() {
        let _ = writeln!(out, "{}#{i:<2} {}", prefix(i), inert(k));
    }
}

/// `dump --group`: one block per group: "N threads: name1 (tid), name2 (tid), ..." (list at
/// most 8 names then "and K more"), then the shared stack one frame per line "  #i  symbol"
/// (innermost first). Largest group first.
pub fn groups_to_text(p: &Process) -> String {
    let groups = crate::tracer::group::group(p);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Process {} {}: {} threads in {} groups",
        p.id(),
        quoted(p.command()),
        p.threads().len(),
        groups.len(),
    );
    for g in &groups {
        let n = g.threads.len();
        let _ = writeln!(
            out,
            "\n{n} thread{}: {}",
            if n == 1 { "" } else { "s" },
            thread_list(&g.threads)
        );
        write_key(&mut out, &g.key, |_| "  ");
    }
    let go_groups = crate::tracer::group::group_goroutines(p);
    if !go_groups.is_empty() || p.goroutines_note().is_some() {
        let _ = writeln!(
            out,
            "\n{} in {} groups",
            goroutines_header(p),
            go_groups.len()
        );
    }
    for g in &go_groups {
        let n = g.ids.len();
        let ids: Vec<String> = g.ids.iter().take(16).map(u64::to_string).collect();
        let more = if n > 16 {
            format!(" and {} more", n - 16)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\n{n} goroutine{} [{}]: {}{more}",
            if n == 1 { "" } else { "s" },
            inert(&g.state),
            ids.join(", ")
        );
        write_key(&mut out, &g.key, |_| "  ");
    }
    out
}

/// `diff A B`: a header "Diff of process PID: OLD_TIME -> NEW_TIME (W ms)"; then per thread a
/// line `  [new]/[exited]/[changed]/[same] TID "name"  cpu +X ms (busy|blocked)`, and for a
/// changed thread the NEW stack with the differing inner frames prefixed "  ! " and the common
/// outer frames "    "; then a "Groups:" section with lines "  OLD -> NEW  name" (the
/// innermost interesting frame) for groups whose count changed.
pub fn diff_to_text(d: &crate::tracer::diff::Diff, old: &Process, new: &Process) -> String {
    use crate::tracer::diff::{Change, frame_key, stack_key};
    use std::collections::HashMap;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Diff of process {}: {} -> {} ({} ms)",
        d.pid,
        inert(&d.old_taken_at),
        inert(&d.new_taken_at),
        d.wall_ms
    );
    for t in &d.threads {
        let tag = match t.change {
            Change::New => "new",
            Change::Exited => "exited",
            Change::Changed { .. } => "changed",
            Change::Unchanged => "same",
        };
        let _ = write!(out, "  [{tag}] {}", t.tid);
        if let Some(name) = &t.name {
            let _ = write!(out, " {}", quoted(name));
        }
        if let Some(cpu) = t.cpu_used {
            let _ = write!(
                out,
                "  cpu +{} ms ({})",
                cpu.as_millis(),
                if t.busy { "busy" } else { "blocked" }
            );
        }
        out.push('\n');
        if let Change::Changed { common_outer } = t.change
            && let Some(now) = new.threads().iter().find(|n| n.id() == t.tid)
        {
            let key = stack_key(now);
            let changed = key.len().saturating_sub(common_outer);
            write_key(
                &mut out,
                &key,
                |i| if i < changed { "  ! " } else { "    " },
            );
        }
    }

    // One thread per stack, to name each group by its innermost interesting frame.
    let mut sample: HashMap<Vec<String>, &Thread> = HashMap::new();
    for t in new.threads().iter().chain(old.threads()) {
        sample.entry(stack_key(t)).or_insert(t);
    }
    let changes: Vec<_> = crate::tracer::group::group_diff(old, new)
        .into_iter()
        .filter(|c| c.old_count != c.new_count)
        .collect();
    out.push_str("\nGroups:\n");
    if changes.is_empty() {
        out.push_str("  (no change)\n");
    }
    for c in changes {
        let name = sample
            .get(&c.key)
            .and_then(|t| interesting_frame(t))
            .map(frame_key)
            .unwrap_or_else(|| "(no frames)".into());
        let _ = writeln!(
            out,
            "  {} -> {}  {}",
            c.old_count,
            c.new_count,
            inert(&name)
        );
    }
    out
}

#[cfg(test)]
mod group_and_diff_tests {
    use super::*;
    use crate::tracer::diff::{diff, fixture::snapshot};
    use crate::tracer::{NoGuard, Unguarded};

    const T0: u64 = 1_795_953_600_000;
    const IDLE: &[&str] = &[
        "syscall",
        "std::sys::sync::condvar::futex::Condvar::wait",
        "server::pool::take_job",
        "server::pool::worker_loop",
        "__clone3",
    ];
    const HASH: &[&str] = &[
        "server::hash::sha_block",
        "server::hash::digest",
        "server::pool::worker_loop",
        "__clone3",
    ];
    const MAIN: &[&str] = &["epoll_wait", "server::main_loop", "main"];

    #[test]
    fn groups_text() {
        let names: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
        let mut threads = vec![(1, "main\x1b[2J", 0, MAIN)];
        for (i, n) in names.iter().enumerate() {
            threads.push((100 + i as u32, n.as_str(), 0, IDLE));
        }
        threads.push((200, "", 0, &["@/lib/libz.so+0x4f0", "main"]));
        let text = groups_to_text(&snapshot(T0, &threads));
        println!("{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Process 4242 \"/srv/app --workers 64\": 12 threads in 3 groups"
        );
        assert_eq!(
            lines[2],
            "10 threads: \"w0\" (100), \"w1\" (101), \"w2\" (102), \"w3\" (103), \"w4\" (104), \
             \"w5\" (105), \"w6\" (106), \"w7\" (107) and 2 more"
        );
        assert_eq!(lines[3], "  #0  syscall");
        assert_eq!(lines[6], "  #3  server::pool::worker_loop");
        assert_eq!(lines[9], "1 thread: \"main\\\\x1b[2J\" (1)");
        assert_eq!(lines[10], "  #0  epoll_wait");
        assert_eq!(lines[14], "1 thread: 200");
        assert_eq!(lines[15], "  #0  /lib/libz.so+0x4f0");
        assert_eq!(lines.len(), 17);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn diff_text() {
        let old = snapshot(
            T0,
            &[
                (1, "main", 20, MAIN),
                (2, "w0", 1000, IDLE),
                (3, "w1", 0, IDLE),
                (4, "w2", 0, IDLE),
                (5, "old", 0, &["gc", "main"]),
            ],
        );
        let new = snapshot(
            T0 + 2000,
            &[
                (1, "main", 20, MAIN),
                (2, "w0", 1900, HASH),
                (3, "w1", 0, IDLE),
                (4, "w2", 10, IDLE),
                (6, "", 0, MAIN),
            ],
        );
        let d = diff(&old, &new);
        let text = diff_to_text(&d, &old, &new);
        println!("{text}");
        let expected = "\
Diff of process 4242: 2026-11-29T12:00:00.000Z -> 2026-11-29T12:00:02.000Z (2000 ms)
  [same] 1 \"main\"  cpu +0 ms (blocked)
  [changed] 2 \"w0\"  cpu +900 ms (busy)
  ! #0  server::hash::sha_block
  ! #1  server::hash::digest
    #2  server::pool::worker_loop
    #3  __clone3
  [same] 3 \"w1\"  cpu +0 ms (blocked)
  [same] 4 \"w2\"  cpu +10 ms (blocked)
  [new] 6
  [exited] 5 \"old\"

Groups:
  3 -> 2  server::pool::take_job
  1 -> 2  epoll_wait
  0 -> 1  server::hash::sha_block
  1 -> 0  gc
";
        assert_eq!(text, expected);

        let same = diff_to_text(&diff(&old, &old), &old, &old);
        assert!(same.ends_with("\nGroups:\n  (no change)\n"), "{same}");
    }

    #[test]
    fn unguarded_attaches_close_the_listing() {
        let mut p = snapshot(T0, &[(1, "main", 0, MAIN)]);
        let plain = to_text(&p);
        assert!(plain.ends_with("main+0x10  (/srv/app)\n"), "{plain}");
        p.unguarded = Some(Unguarded {
            attaches: 1,
            why: NoGuard::Full { guarded: 64 },
        });
        assert_eq!(
            to_text(&p),
            plain
                + "\nwatchdog: 64 targets already guarded; 1 attach of this trace had no guard \
                   against a killed tracer\n"
        );
        let unreachable = Unguarded {
            attaches: 3,
            why: NoGuard::Unreachable {
                errno: libc::EAGAIN,
            },
        };
        assert_eq!(
            unguarded_text(unreachable),
            "watchdog: could not be started (Resource temporarily unavailable (os error 11)); \
             3 attaches of this trace had no guard against a killed tracer"
        );
    }
}

#[cfg(test)]
mod goroutine_tests {
    use super::*;
    use crate::tracer::schema::SnapshotDoc;

    fn go_process() -> Process {
        let frame = |symbol: &str| {
            format!(
                r#"{{"ip": 4096, "symbol": "{symbol}", "raw_symbol": "{symbol}", "offset": 16,
                "module": "/srv/app", "module_offset": 4096, "is_signal": false,
                "file": null, "line": null, "inlined": false}}"#
            )
        };
        let parked = |id: u64, ms: &str| {
            format!(
                r#"{{"goid": {id}, "status": "waiting", "wait_reason": "chan receive",
                "waiting_ms": {ms}, "thread": null, "end_note": null,
                "frames": [{}, {}]}}"#,
                frame("runtime.gopark"),
                frame("main.worker")
            )
        };
        let json = format!(
            r#"{{"version": 1, "pid": 42, "command": "app", "taken_at": "x",
            "taken_at_unix_ms": 0, "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
            "threads": [], "goroutines": [{}, {}, {}]}}"#,
            parked(7, "59000"),
            parked(8, "180000"),
            r#"{"goid": 1, "status": "running", "wait_reason": null, "waiting_ms": null,
                "thread": 42, "end_note": "running on thread 42: its stack is that thread's",
                "frames": []}"#
        );
        serde_json::from_str::<SnapshotDoc>(&json)
            .unwrap()
            .to_process()
    }

    #[test]
    fn goroutines_listed_after_the_threads_and_grouped() {
        let p = go_process();
        let text = to_text(&p);
        let listing = &text[text.find("Goroutines").unwrap()..];
        assert_eq!(
            listing,
            "Goroutines: 3\n\n\
             Goroutine 7 [chan receive]:\n\
             \x20 #0   0x0000000000001000  runtime.gopark+0x10  (/srv/app)\n\
             \x20 #1   0x0000000000001000  main.worker+0x10  (/srv/app)\n\n\
             Goroutine 8 [chan receive, 3 minutes]:\n\
             \x20 #0   0x0000000000001000  runtime.gopark+0x10  (/srv/app)\n\
             \x20 #1   0x0000000000001000  main.worker+0x10  (/srv/app)\n\n\
             Goroutine 1 [running, thread 42]:\n\
             \x20 ... (running on thread 42: its stack is that thread's)\n"
        );
        let grouped = groups_to_text(&p);
        let groups = &grouped[grouped.find("Goroutines").unwrap()..];
        assert_eq!(
            groups,
            "Goroutines: 3 in 2 groups\n\n\
             2 goroutines [chan receive]: 7, 8\n  #0  runtime.gopark\n  #1  main.worker\n\n\
             1 goroutine [running]: 1\n  (no frames)\n"
        );
    }
}

#[cfg(test)]
mod number_tests {
    use super::{push_decimal, push_hex};

    #[test]
    fn hand_written_numbers_match_the_format_macros() {
        let values = [
            0,
            1,
            9,
            10,
            15,
            16,
            99,
            100,
            999,
            1000,
            0xdead_beef,
            u64::from(u32::MAX),
            1 << 63,
            u64::MAX,
        ];
        for v in values {
            let mut s = String::new();
            let digits = push_decimal(&mut s, v);
            assert_eq!(s, format!("{v}"));
            assert_eq!(digits, s.len());
            for width in [1, 16] {
                let mut s = String::new();
                push_hex(&mut s, v, width);
                assert_eq!(s, format!("{v:0width$x}"), "{v} at width {width}");
            }
        }
    }
}
