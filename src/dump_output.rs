//! Where and in what format `dump` writes: the format asked for or told by the output file's
//! extension, and the output, a file opened before the trace or standard output.

use std::io::Write;
use std::path::{Path, PathBuf};

use rstack_tui::profile::export::Format;
use rstack_tui::text;

/// What `dump` writes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    Text,
    Json,
    Pprof,
    Folded,
    Speedscope,
}

impl DumpFormat {
    /// The format asked for: `--format`, `--json`, else -o's extension, else text.
    pub fn of(format: Option<DumpFormat>, json: bool, output: Option<&Path>) -> DumpFormat {
        if let Some(f) = format {
            return f;
        }
        if json {
            return DumpFormat::Json;
        }
        let Some(path) = output else {
            return DumpFormat::Text;
        };
        match Format::from_path(path) {
            Some(Format::Pprof) => DumpFormat::Pprof,
            Some(Format::Folded) => DumpFormat::Folded,
            Some(Format::Speedscope) => DumpFormat::Speedscope,
            None if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
            {
                DumpFormat::Json
            }
            None => DumpFormat::Text,
        }
    }

    /// The profile format, for the profile formats.
    pub fn profile(self) -> Option<Format> {
        match self {
            DumpFormat::Text | DumpFormat::Json => None,
            DumpFormat::Pprof => Some(Format::Pprof),
            DumpFormat::Folded => Some(Format::Folded),
            DumpFormat::Speedscope => Some(Format::Speedscope),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Text => "text",
            DumpFormat::Json => "json",
            DumpFormat::Pprof => "pprof",
            DumpFormat::Folded => "folded",
            DumpFormat::Speedscope => "speedscope",
        }
    }
}

/// Where `dump` writes: standard output, or a file opened before the trace, so a path that
/// cannot be written never costs the target a stop.
pub enum DumpOutput {
    Stdout,
    File(std::fs::File, PathBuf),
}

impl DumpOutput {
    /// Opens `path` (truncated), or says on one line why not.
    pub fn open(path: Option<&Path>) -> Result<DumpOutput, String> {
        let Some(path) = path else {
            return Ok(DumpOutput::Stdout);
        };
        match std::fs::File::create(path) {
            Ok(f) => Ok(DumpOutput::File(f, path.to_path_buf())),
            Err(e) => Err(format!(
                "cannot write {}: {e}",
                text::inert(&path.display().to_string())
            )),
        }
    }

    /// The trace failed: leave no empty file behind.
    pub fn discard(&self) {
        if let DumpOutput::File(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Runs `write` on the output. A closed pipe (`| head`) fails quietly; a file that could
    /// not be written is said.
    pub fn write(
        self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), ()> {
        match self {
            DumpOutput::Stdout => write(&mut std::io::stdout().lock()).map_err(|_| ()),
            DumpOutput::File(mut f, path) => write(&mut f).map_err(|e| {
                eprintln!(
                    "rstack-tui: error: writing {}: {e}",
                    text::inert(&path.display().to_string())
                );
            }),
        }
    }
}
