//! speedscope's file format (<https://www.speedscope.app/file-format-schema.json>): frames
//! shared by name, file and line, and one "sampled" profile per thread whose stacks run from
//! the outermost frame in, weighted in time when the profile has an interval, else in samples.

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::super::Profile;

pub(super) fn write(profile: &Profile, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer(&mut out, &document(profile)).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn document(profile: &Profile) -> Value {
    // Profile frames differ by address too; speedscope's by what it shows.
    let mut frames: Vec<Value> = Vec::new();
    let mut frame_ids: HashMap<(String, Option<&str>, u32), usize> = HashMap::new();
    let shared: Vec<usize> = profile
        .frames
        .iter()
        .map(|f| {
            let key = (f.name(), f.file.as_deref(), f.line);
            *frame_ids
                .entry(key)
                .or_insert_with_key(|(name, file, line)| {
                    let mut frame = json!({ "name": name });
                    if let Some(file) = file {
                        frame["file"] = json!(file);
                        if *line != 0 {
                            frame["line"] = json!(line);
                        }
                    }
                    frames.push(frame);
                    frames.len() - 1
                })
        })
        .collect();
    let ns = profile.interval.as_nanos().min(u128::from(u64::MAX)) as u64;
    let (unit, weight) = if ns > 0 {
        ("nanoseconds", ns)
    } else {
        ("none", 1)
    };
    let mut profiles = Vec::with_capacity(profile.threads.len());
    for (i, t) in profile.threads.iter().enumerate() {
        let mut samples = Vec::new();
        let mut weights = Vec::new();
        let mut total: u64 = 0;
        for stack in profile.stacks.iter().filter(|s| s.thread == i) {
            let ids: Vec<usize> = stack
                .frames
                .iter()
                .rev()
                .map(|&f| shared[f as usize])
                .collect();
            let w = stack.samples.saturating_mul(weight);
            total = total.saturating_add(w);
            samples.push(ids);
            weights.push(w);
        }
        profiles.push(json!({
            "type": "sampled",
            "name": format!("{} ({})", t.name, t.tid),
            "unit": unit,
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }));
    }
    json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": { "frames": frames },
        "profiles": profiles,
        "name": format!("{} ({})", profile.command, profile.pid),
        "activeProfileIndex": 0,
        "exporter": concat!("rstack-tui@", env!("CARGO_PKG_VERSION")),
    })
}
