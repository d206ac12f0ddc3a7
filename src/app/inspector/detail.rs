//! The frame detail view (Enter on a frame): everything known of one frame, copied when it
//! opens (a refresh does not change it under the reader), with its source lines read then,
//! so the render stays a pure function of this state.

use crate::app::Move;
use crate::app::source::{self, Excerpt, SourceError};
use crate::tracer::{Frame, FrameKind, Location, Module, ModuleProblem, Process};

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
    /// A Python function's frame: no address, offset, module or build-id of its own.
    pub python: bool,
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
    /// How far it scrolls at the screen's size, once the event loop has said.
    max_scroll: Option<usize>,
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
        let python = f.kind() == FrameKind::Python;
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
            offset: f
                .symbol()
                .filter(|_| !f.is_inlined() && !python)
                .map(|s| s.offset()),
            inlined: f.is_inlined(),
            python,
            inline_chain: inline_chain(frames, index),
            source: f.location().map(|l| match snapshot {
                // A Python file is the target's own: read it where the target sees it.
                Some(p) if python && live => {
                    source::excerpt_in_target(p.id(), &l.file, l.line, AROUND)
                }
                _ => source::excerpt(&l.file, l.line, AROUND),
            }),
            location: f.location().cloned(),
            module,
            build_id,
            scroll: 0,
            max_scroll: None,
        })
    }

    /// The first line shown.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// Scrolls, no further than the view's last line shows (before the event loop has
    /// measured it: about as many lines as it has).
    pub(in crate::app) fn move_scroll(&mut self, m: Move) {
        let max = self.max_scroll.unwrap_or_else(|| {
            let longest = self.symbol.as_ref().map_or(0, String::len) / 20;
            12 + self.inline_chain.len() + longest + (2 * AROUND as usize)
        });
        self.scroll = match m {
            Move::Up(n) => self.scroll.saturating_sub(n),
            Move::Down(n) => self.scroll.saturating_add(n).min(max),
            Move::To(i) => i.min(max),
        };
    }

    /// The view scrolls `n` lines at most (the screen's size changed, or it opened).
    pub(in crate::app) fn set_max_scroll(&mut self, n: usize) {
        self.max_scroll = Some(n);
        self.scroll = self.scroll.min(n);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::keymap::Command;
    use crate::app::source::SourceError;
    use crate::app::{Action, App, Screen};
    use crate::tracer::schema::SnapshotDoc;

    /// A thread whose innermost frame is inlined into the next (same address), then `main`.
    fn app() -> App {
        let frame = |ip: u64, symbol: &str, file: Option<&str>, line: u32, inlined: bool| {
            serde_json::json!({"ip": ip, "symbol": symbol, "raw_symbol": format!("_Z{symbol}"),
                "offset": 0x10, "module": "/srv/server", "module_offset": ip, "is_signal": false,
                "file": file, "line": file.map(|_| line), "inlined": inlined})
        };
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 1, "pid": 9, "command": "server", "taken_at": "", "taken_at_unix_ms": 0,
            "mode": "rolling", "elapsed_us": 0, "longest_stop_us": 0,
            "threads": [{"tid": 9, "name": "main", "state": "S", "wchan": null, "syscall": null,
                "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 0, "truncated": false,
                "error": null, "end_note": null, "frames": [
                    frame(0x1000, "wait_job", Some("/nonexistent/rstack/pool.rs"), 42, true),
                    frame(0x1000, "worker_loop", Some("pool.rs"), 17, false),
                    frame(0x2000, "main", None, 0, false),
                ]}]
        }))
        .unwrap();
        let mut app = App::new();
        app.update(Action::Inspect(9));
        app.update(Action::Snapshot(Arc::new(doc.to_process())));
        app
    }

    #[test]
    fn enter_on_a_frame_opens_it_whole_and_esc_goes_back_one_level() {
        let mut app = app();
        // On the threads pane Enter goes to the frames; there it opens the selected frame.
        app.update(Action::Command(Command::Enter));
        assert!(app.inspector().unwrap().detail().is_none());
        app.update(Action::Command(Command::Enter));
        let d = app.inspector().unwrap().detail().unwrap().clone();
        assert_eq!(
            (d.index, d.symbol.as_deref(), d.raw_name.as_deref(), d.ip),
            (0, Some("wait_job"), Some("_Zwait_job"), 0x1000)
        );
        // Inlined: no offset of its own, and the chain down to the function it is in.
        assert_eq!((d.inlined, d.offset), (true, None));
        assert_eq!(
            d.inline_chain,
            [(0, "wait_job".to_string()), (1, "worker_loop".to_string())]
        );
        assert_eq!(
            d.source,
            Some(Err(SourceError::Open(std::io::ErrorKind::NotFound)))
        );
        // A refresh leaves the open view as it was; movement keys scroll it, not the frames.
        let again = app.inspector().unwrap().snapshot().unwrap().clone();
        app.update(Action::Snapshot(again));
        assert_eq!(app.inspector().unwrap().detail(), Some(&d));
        app.update(Action::Command(Command::Down));
        let i = app.inspector().unwrap();
        assert_eq!((i.detail().unwrap().scroll(), i.selected_frame()), (1, 0));

        // Esc closes the view only.
        app.update(Action::Command(Command::Back));
        assert!(app.inspector().unwrap().detail().is_none());
        assert_eq!(app.screen(), Screen::Inspector);

        // The outer frame of the pair: the same chain; a relative path is not opened.
        app.update(Action::Command(Command::Down));
        app.update(Action::Command(Command::Enter));
        let d = app.inspector().unwrap().detail().unwrap().clone();
        assert_eq!(
            (d.index, d.offset, d.inline_chain.len()),
            (1, Some(0x10), 2)
        );
        assert_eq!(d.source, Some(Err(SourceError::Relative)));
        app.update(Action::Command(Command::Back));

        // A frame alone at its address: no chain, no line info, no source.
        app.update(Action::Command(Command::Down));
        app.update(Action::Command(Command::Enter));
        let d = app.inspector().unwrap().detail().unwrap();
        assert_eq!((d.index, d.inline_chain.len(), &d.source), (2, 0, &None));
    }
}
