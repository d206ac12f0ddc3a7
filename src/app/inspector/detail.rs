//! The frame detail view (Enter on a frame): everything known of one frame, copied when it
//! opens (a refresh does not change it under the reader), with its source lines read then,
//! so the render stays a pure function of this state.

use crate::app::Move;
use crate::app::source::{self, Excerpt, SourceError};
use crate::tracer::{Frame, Location, Module, ModuleProblem, Process};

/// Source lines either side of the frame's line.
pub const AROUND: u32 = 5;

/// One frame, in full.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameDetail {
    /// Its number in the stack, innermost 0.
    pub index: usize,
    /// The demangled name, whole.
    pub symbol: Option<String>,
    /// The name in the symbol table, when it differs (a mangled name).
    pub raw_name: Option<String>,
    /// The frame's address (for an outer frame, a return address).
    pub ip: u64,
    /// How far past the symbol's start the address is.
    pub offset: Option<u64>,
    pub inlined: bool,
    /// The frames sharing this address, innermost first, when there are several: the inlined
    /// calls and the function they were inlined into. (index, name).
    pub inline_chain: Vec<(usize, String)>,
    pub location: Option<Location>,
    pub module: Option<Module>,
    /// The module's build-id in hex, when the trace noted it or its file says it.
    pub build_id: Option<String>,
    /// The lines around `location`, or why there are none (`None`: no location).
    pub source: Option<Result<Excerpt, SourceError>>,
    scroll: usize,
}

impl FrameDetail {
    /// The detail of `frames[index]` (None past the end). Reads its source file, and for the
    /// build-id the trace's notes, else the module's file as process `pid` maps it (`live`).
    pub(crate) fn open(
        frames: &[Frame],
        index: usize,
        snapshot: Option<&Process>,
        live: bool,
    ) -> Option<FrameDetail> {
        let f = frames.get(index)?;
        let module = f.module().cloned();
        let build_id = module
            .as_ref()
            .and_then(|m| noted_build_id(snapshot, &m.path))
            .or_else(|| {
                let (p, m) = (snapshot?, module.as_ref()?);
                live.then(|| source::mapped_build_id(p.id(), &m.path))
                    .flatten()
            });
        Some(FrameDetail {
            index,
            symbol: f.symbol().map(|s| s.name().to_string()),
            raw_name: f
                .symbol()
                .filter(|s| s.raw_name() != s.name())
                .map(|s| s.raw_name().to_string()),
            ip: f.ip(),
            offset: f.symbol().filter(|_| !f.is_inlined()).map(|s| s.offset()),
            inlined: f.is_inlined(),
            inline_chain: inline_chain(frames, index),
            source: f
                .location()
                .map(|l| source::excerpt(&l.file, l.line, AROUND)),
            location: f.location().cloned(),
            module,
            build_id,
            scroll: 0,
        })
    }

    /// The first line shown.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// Scrolls, within about as many lines as the view has (the render stops at the end).
    pub(in crate::app) fn move_scroll(&mut self, m: Move) {
        let longest = self.symbol.as_ref().map_or(0, String::len) / 20;
        let max = 12 + self.inline_chain.len() + longest + (2 * AROUND as usize);
        self.scroll = match m {
            Move::Up(n) => self.scroll.saturating_sub(n),
            Move::Down(n) => self.scroll.saturating_add(n).min(max),
            Move::To(i) => i.min(max),
        };
    }
}

/// The frames that share `frames[index]`'s address: the inlined ones (each marked inlined,
/// innermost first) and the real frame after them. Empty when the frame stands alone.
fn inline_chain(frames: &[Frame], index: usize) -> Vec<(usize, String)> {
    let ip = frames[index].ip();
    let same = |i: usize| frames[i].ip() == ip;
    let mut start = index;
    while start > 0 && frames[start - 1].is_inlined() && same(start - 1) {
        start -= 1;
    }
    let mut end = index;
    while frames[end].is_inlined() && end + 1 < frames.len() && same(end + 1) {
        end += 1;
    }
    if start == end {
        return Vec::new();
    }
    (start..=end)
        .map(|i| {
            let name = frames[i].symbol().map_or("??", |s| s.name());
            (i, name.to_string())
        })
        .collect()
}

/// The build-id the trace noted for the module at `path` (a module without debuginfo).
fn noted_build_id(snapshot: Option<&Process>, path: &str) -> Option<String> {
    snapshot?
        .missing_debuginfo()
        .iter()
        .filter(|n| n.module == path)
        .find_map(|n| match &n.problem {
            ModuleProblem::NoDebuginfo { build_id: Some(id) } => Some(source::hex(id)),
            _ => None,
        })
}
