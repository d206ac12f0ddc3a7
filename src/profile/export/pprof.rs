//! pprof's `profile.proto` (github.com/google/pprof, proto/profile.proto), gzipped: two sample
//! types (wall samples, on-CPU samples), a location per native address (its inlined frames as
//! extra lines, innermost first) or Python frame, and per sample the thread's labels.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::UNIX_EPOCH;

use super::super::{Activity, FrameInfo, Profile};
use super::proto::Message;

// Field numbers of profile.proto.
mod field {
    pub const SAMPLE_TYPE: u32 = 1;
    pub const SAMPLE: u32 = 2;
    pub const MAPPING: u32 = 3;
    pub const LOCATION: u32 = 4;
    pub const FUNCTION: u32 = 5;
    pub const STRING_TABLE: u32 = 6;
    pub const TIME_NANOS: u32 = 9;
    pub const DURATION_NANOS: u32 = 10;
    pub const PERIOD_TYPE: u32 = 11;
    pub const PERIOD: u32 = 12;
    pub const COMMENT: u32 = 13;
    pub const DEFAULT_SAMPLE_TYPE: u32 = 14;
}

/// Writes `profile` as a gzipped `profile.proto`.
pub(super) fn write(profile: &Profile, out: &mut dyn Write) -> io::Result<()> {
    let bytes = encode(profile);
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    gz.write_all(&bytes)?;
    gz.finish()?.flush()
}

/// The profile's `Profile` message, not compressed.
pub(super) fn encode(profile: &Profile) -> Vec<u8> {
    let mut b = Builder::new(profile);
    // pprof takes the first mapping for the program's own: the module of the main thread's
    // outermost native frame (`_start`, in the executable).
    let main = profile
        .stacks
        .iter()
        .filter(|s| profile.threads[s.thread].tid == profile.pid)
        .chain(&profile.stacks)
        .flat_map(|s| s.frames.iter().rev())
        .map(|&f| &profile.frames[f as usize])
        .find(|f| f.module.is_some());
    if let Some(f) = main {
        b.mapping_of(f.module.as_deref().unwrap_or_default(), f, false);
    }
    let mut samples = Vec::with_capacity(profile.stacks.len());
    for stack in &profile.stacks {
        let mut locations = Vec::new();
        let mut group = Vec::new();
        for &id in &stack.frames {
            group.push(id);
            if !profile.frames[id as usize].inlined {
                locations.push(b.location(std::mem::take(&mut group)));
            }
        }
        if !group.is_empty() {
            locations.push(b.location(group));
        }
        let thread = &profile.threads[stack.thread];
        let mut sample = Message::new();
        sample.packed(1, locations);
        let on_cpu = if stack.activity.on_cpu() {
            stack.samples
        } else {
            0
        };
        sample.packed(2, [stack.samples, on_cpu]);
        sample.message(3, b.num_label("thread_id", i64::from(thread.tid)));
        sample.message(3, b.str_label("thread_name", &thread.name));
        let state = stack.activity.state().to_string();
        sample.message(3, b.str_label("state", &state));
        if let Activity::OffCpu {
            syscall: Some(name),
            ..
        } = stack.activity
        {
            sample.message(3, b.str_label("syscall", name));
        }
        samples.push(sample);
    }

    let mut m = Message::new();
    for (kind, unit) in [("samples", "count"), ("cpu_samples", "count")] {
        let vt = b.value_type(kind, unit);
        m.message(field::SAMPLE_TYPE, vt);
    }
    for s in samples {
        m.message(field::SAMPLE, s);
    }
    for (id, path) in std::mem::take(&mut b.mappings).iter().enumerate() {
        let mapping = b.mapping(id as u64 + 1, path);
        m.message(field::MAPPING, mapping);
    }
    for l in std::mem::take(&mut b.locations) {
        m.message(field::LOCATION, l);
    }
    for f in std::mem::take(&mut b.functions) {
        m.message(field::FUNCTION, f);
    }
    let time = profile
        .started
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    m.int(field::TIME_NANOS, clamp(time));
    m.int(field::DURATION_NANOS, clamp(profile.duration().as_nanos()));
    let period_type = b.value_type("wall", "nanoseconds");
    m.message(field::PERIOD_TYPE, period_type);
    m.int(field::PERIOD, clamp(profile.interval.as_nanos()));
    let comment = format!(
        "rstack-tui: process {} ({}), {} snapshots, {} thread samples{}",
        profile.pid,
        profile.command,
        profile.snapshots,
        profile.samples(),
        if profile.dropped > 0 {
            format!(", {} dropped at the profile's bounds", profile.dropped)
        } else {
            String::new()
        }
    );
    let comment = b.string(&comment);
    m.packed(field::COMMENT, [comment as u64]);
    let default = b.string("samples");
    m.int(field::DEFAULT_SAMPLE_TYPE, default);
    // Last, once every string is in it.
    for s in &b.strings {
        m.bytes(field::STRING_TABLE, s.as_bytes());
    }
    m.into_bytes()
}

fn clamp(n: u128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a mapping's fields are made of: every address seen in the module.
#[derive(Clone, Copy)]
struct MappingFacts {
    /// The lowest address seen minus its offset in the file's address space: where the file's
    /// address 0 is loaded.
    start: u64,
    limit: u64,
    has_functions: bool,
    has_filenames: bool,
    has_lines: bool,
    has_inline: bool,
}

/// The tables of the message, filled as the samples are read.
struct Builder<'a> {
    profile: &'a Profile,
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<Message>,
    function_ids: HashMap<(i64, i64, i64), u64>,
    locations: Vec<Message>,
    location_ids: HashMap<Vec<u32>, u64>,
    /// Module paths, a mapping each (its id is the index + 1).
    mappings: Vec<String>,
    mapping_ids: HashMap<String, u64>,
    mapping_facts: Vec<MappingFacts>,
}

impl<'a> Builder<'a> {
    fn new(profile: &'a Profile) -> Builder<'a> {
        let mut b = Builder {
            profile,
            strings: Vec::new(),
            string_ids: HashMap::new(),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
            mappings: Vec::new(),
            mapping_ids: HashMap::new(),
            mapping_facts: Vec::new(),
        };
        // The table starts with "", as profile.proto requires.
        b.string("");
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), i);
        i
    }

    fn value_type(&mut self, kind: &str, unit: &str) -> Message {
        let mut m = Message::new();
        m.int(1, self.string(kind));
        m.int(2, self.string(unit));
        m
    }

    fn str_label(&mut self, key: &str, value: &str) -> Message {
        let mut m = Message::new();
        m.int(1, self.string(key));
        m.int(2, self.string(value));
        m
    }

    fn num_label(&mut self, key: &str, value: i64) -> Message {
        let mut m = Message::new();
        m.int(1, self.string(key));
        m.int(3, value);
        m
    }

    /// The location of `frames` (innermost first): the inlined ones and the real frame they
    /// share an address with, or a lone Python or native frame.
    fn location(&mut self, frames: Vec<u32>) -> u64 {
        if let Some(&id) = self.location_ids.get(&frames) {
            return id;
        }
        let id = self.locations.len() as u64 + 1;
        let profile = self.profile;
        let outer = &profile.frames[*frames.last().expect("a location has a frame") as usize];
        let mut m = Message::new();
        m.uint(1, id);
        if let Some(module) = &outer.module {
            let mapping = self.mapping_of(module, outer, frames.len() > 1);
            m.uint(2, mapping);
        }
        m.uint(3, outer.address);
        for &f in &frames {
            let frame = &profile.frames[f as usize];
            if frame.function.is_none() && frame.file.is_none() {
                // An address without a symbol: no line, so pprof shows the address.
                continue;
            }
            let mut line = Message::new();
            line.uint(1, self.function(frame));
            line.int(2, i64::from(frame.line));
            m.message(4, line);
        }
        self.locations.push(m);
        self.location_ids.insert(frames, id);
        id
    }

    fn function(&mut self, f: &FrameInfo) -> u64 {
        let name = self.string(&f.name());
        // Only a name of its own: with the same one, pprof "simplifies" ours (`<module>`
        // loses its brackets and all, a C++ name its parameters).
        let system = match &f.system_name {
            Some(s) if *s != f.name() => self.string(s),
            _ => 0,
        };
        let file = self.string(f.file.as_deref().unwrap_or(""));
        let key = (name, system, file);
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        let id = self.functions.len() as u64 + 1;
        let mut m = Message::new();
        m.uint(1, id);
        m.int(2, name);
        m.int(3, system);
        m.int(4, file);
        self.functions.push(m);
        self.function_ids.insert(key, id);
        id
    }

    /// The mapping of `module`, its facts widened by frame `f`.
    fn mapping_of(&mut self, module: &str, f: &FrameInfo, inline: bool) -> u64 {
        let start = f.address.saturating_sub(f.module_offset);
        let id = match self.mapping_ids.get(module) {
            Some(&id) => id,
            None => {
                self.mappings.push(module.to_string());
                self.mapping_facts.push(MappingFacts {
                    start,
                    limit: 0,
                    has_functions: false,
                    has_filenames: false,
                    has_lines: false,
                    has_inline: false,
                });
                let id = self.mappings.len() as u64;
                self.mapping_ids.insert(module.to_string(), id);
                id
            }
        };
        let facts = &mut self.mapping_facts[id as usize - 1];
        facts.start = facts.start.min(start);
        facts.limit = facts.limit.max(f.address.saturating_add(1));
        facts.has_functions |= f.function.is_some();
        facts.has_filenames |= f.file.is_some();
        facts.has_lines |= f.line != 0;
        facts.has_inline |= inline;
        id
    }

    fn mapping(&mut self, id: u64, path: &str) -> Message {
        let facts = self.mapping_facts[id as usize - 1];
        let mut m = Message::new();
        m.uint(1, id);
        m.uint(2, facts.start);
        m.uint(3, facts.limit);
        // The start is where the file's offset 0 is loaded (exact for the usual ELF whose
        // first segment maps offset 0 at address 0).
        m.uint(4, 0);
        m.bool(7, facts.has_functions);
        m.bool(8, facts.has_filenames);
        m.bool(9, facts.has_lines);
        m.bool(10, facts.has_inline);
        let filename = self.string(path);
        m.int(5, filename);
        if let Some(id) = self.profile.build_ids.get(path) {
            let id = self.string(id);
            m.int(6, id);
        }
        m
    }
}
