//! Folded stacks: one line per distinct stack, `thread;outermost;…;innermost count`, the
//! input of flamegraph.pl and inferno. Names are inert already; a `;` in one would split
//! it, so it becomes `:`, and a line's end never appears inside one.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::super::Profile;

pub(super) fn write(profile: &Profile, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<String> = profile.frames.iter().map(|f| clean(&f.name())).collect();
    // Stacks that differ only in what a line does not show (activity, addresses) add up.
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for stack in &profile.stacks {
        let t = &profile.threads[stack.thread];
        let mut line = clean(&format!("{} ({})", t.name, t.tid));
        for &id in stack.frames.iter().rev() {
            line.push(';');
            line.push_str(&names[id as usize]);
        }
        *lines.entry(line).or_default() += stack.samples;
    }
    let mut out = io::BufWriter::new(out);
    for (line, n) in lines {
        writeln!(out, "{line} {n}")?;
    }
    out.flush()
}

fn clean(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}
