//! The output of `rstack-tui dump`: a jstack/eu-stack-like text listing, or the versioned JSON
//! document of [`crate::tracer::schema`]. Every string from the target passes through
//! [`crate::text`] on its way out, even though the tracer already made it inert.

use std::fmt::Write;

use crate::text::{inert, to_json_inert};
use crate::tracer::schema::SnapshotDoc;
use crate::tracer::{Frame, Process, Thread};

/// The text listing of a traced process.
pub fn to_text(p: &Process) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Process {} {}: {} threads, {} mode, took {}, longest stop {}",
        p.id(),
        quoted(p.command()),
        p.threads().len(),
        p.mode().as_str(),
        millis(p.elapsed()),
        millis(p.longest_stop()),
    );
    for t in p.threads() {
        out.push('\n');
        write_thread(&mut out, t);
    }
    out
}

fn write_thread(out: &mut String, t: &Thread) {
    let _ = write!(out, "Thread {}", t.id());
    if let Some(name) = t.name() {
        let _ = write!(out, " {}", quoted(name));
    }
    let _ = writeln!(out, " ({}):", waiting_on(t));
    if let Some(err) = t.error() {
        let _ = writeln!(out, "  !! {}", inert(err));
    }
    for (i, f) in t.frames().iter().enumerate() {
        write_frame(out, i, f);
    }
    if t.is_truncated() {
        let _ = writeln!(out, "  ... (stack cut: frame limit or a repeating frame)");
    }
    if let Some(note) = t.end_note() {
        let _ = writeln!(out, "  ... ({})", inert(note));
    }
}

/// "S sleeping, futex_wait_queue, in futex" — the state and what the thread waits on.
pub fn waiting_on(t: &Thread) -> String {
    let facts = t.facts();
    let mut s = match facts.state {
        Some(c) => format!("{c} {}", facts.state_name()),
        None => "state unknown".into(),
    };
    if let Some(w) = &facts.wchan {
        let _ = write!(s, ", wchan {}", inert(w));
    }
    if let Some(sc) = &facts.syscall {
        match sc.name() {
            Some(name) => {
                let _ = write!(s, ", in {name}");
            }
            None => {
                let _ = write!(s, ", in syscall {}", sc.number);
            }
        }
    }
    s
}

fn write_frame(out: &mut String, i: usize, f: &Frame) {
    let _ = write!(out, "  #{i:<3} 0x{:016x}  ", f.ip());
    match f.symbol() {
        Some(sym) => {
            let _ = write!(out, "{}+0x{:x}", inert(sym.name()), sym.offset());
        }
        None => out.push_str("??"),
    }
    match f.module() {
        Some(m) if f.symbol().is_some() => {
            let _ = write!(out, "  ({})", inert(&m.path));
        }
        Some(m) => {
            let _ = write!(out, "  ({} +0x{:x})", inert(&m.path), m.offset);
        }
        None => {}
    }
    if f.is_signal() {
        out.push_str("  <signal handler called>");
    }
    out.push('\n');
}

/// The JSON document of a traced process (one line, or pretty).
pub fn to_json(p: &Process, pretty: bool) -> String {
    to_json_inert(&SnapshotDoc::from(p), pretty)
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in inert(s).chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn millis(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
