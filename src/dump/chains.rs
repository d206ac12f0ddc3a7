//! `dump --chains`: instead of every stack, the process's wait chains, longest first, each
//! headed by the thread or process at its end (its root blocker); in text or as JSON
//! (`{"pid", "chains": [{"tid", "links", "cycle", "end"}], "wait_cycles"}`).

use std::fmt::Write;

use serde::Serialize;

use crate::describe::{chain_heading, chain_lines, listed_chains, quoted};
use crate::text::write_json_inert;
use crate::tracer::Process;
use crate::tracer::schema::{ChainDoc, CycleDoc};

/// The text of `dump --chains`: a header, each listed chain under its heading, then the
/// `deadlock:` lines.
pub fn chains_to_text(p: &Process) -> String {
    let listed = listed_chains(p);
    let mut out = String::new();
    let n = listed.len();
    let _ = writeln!(
        out,
        "Process {} {}: {}",
        p.id(),
        quoted(p.command()),
        match n {
            0 => "no thread waits for another".to_string(),
            1 => "1 wait chain".to_string(),
            n => format!("{n} wait chains, longest first"),
        }
    );
    for (_, chain) in listed {
        let _ = writeln!(out, "\n{}", chain_heading(p.id(), chain));
        for line in chain_lines(p.id(), chain) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !p.deadlocks().is_empty() || !p.wait_cycles().is_empty() {
        out.push('\n');
    }
    super::write_deadlocks(&mut out, p);
    out
}

#[derive(Serialize)]
struct ChainsDoc {
    pid: u32,
    chains: Vec<ThreadChainDoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wait_cycles: Vec<CycleDoc>,
}

#[derive(Serialize)]
struct ThreadChainDoc {
    tid: u32,
    #[serde(flatten)]
    chain: ChainDoc,
}

/// Writes `dump --chains --json`: the listed chains in the order of the text, each with the
/// tid it starts from, and the process's wait cycles, with a newline.
pub fn write_chains_json(
    p: &Process,
    pretty: bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let doc = ChainsDoc {
        pid: p.id(),
        chains: listed_chains(p)
            .into_iter()
            .map(|(t, c)| ThreadChainDoc {
                tid: t.id(),
                chain: ChainDoc::from(c),
            })
            .collect(),
        wait_cycles: p.wait_cycles().iter().map(CycleDoc::from).collect(),
    };
    write_json_inert(&mut *out, &doc, pretty).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
