//! How snapshots are taken, as the app last told the tracer worker (interval, pause, rolling
//! or consistent mode), whether one is being taken now, and whether there is no live tracing
//! at all (snapshots loaded from files).

use std::time::Duration;

use super::keymap::Command;
use super::{DEFAULT_INTERVAL, Effect, MAX_INTERVAL, MIN_INTERVAL};

/// The refresh settings and the worker's activity.
#[derive(Debug, Clone)]
pub struct Refresh {
    interval: Duration,
    paused: bool,
    snapshot_mode: bool,
    tracing: bool,
    offline: bool,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            interval: DEFAULT_INTERVAL,
            paused: false,
            snapshot_mode: false,
            tracing: false,
            offline: false,
        }
    }
}

impl Refresh {
    /// Time between automatic snapshots.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Automatic snapshots are paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Consistent snapshots (every thread stopped together) rather than rolling ones.
    pub fn snapshot_mode(&self) -> bool {
        self.snapshot_mode
    }

    /// A snapshot is being taken.
    pub fn tracing(&self) -> bool {
        self.tracing
    }

    /// Opened from files: no live tracing.
    pub fn offline(&self) -> bool {
        self.offline
    }

    pub(super) fn start(&mut self, interval: Duration, snapshot_mode: bool) {
        self.interval = interval;
        self.snapshot_mode = snapshot_mode;
    }

    pub(super) fn set_tracing(&mut self, tracing: bool) {
        self.tracing = tracing;
    }

    /// Loaded snapshots: paused for good, nothing traced.
    pub(super) fn go_offline(&mut self) {
        self.offline = true;
        self.paused = true;
    }

    /// Snapshot now, pause, the interval and the mode: what the worker must be told.
    /// `inspecting`: a process is being inspected (a snapshot can be asked for).
    pub(super) fn command(&mut self, c: Command, inspecting: bool) -> Vec<Effect> {
        match c {
            Command::SnapshotNow if inspecting && !self.offline => {
                self.tracing = true;
                vec![Effect::SnapshotNow]
            }
            Command::TogglePause => {
                self.paused = !self.paused;
                vec![Effect::SetPaused(self.paused)]
            }
            Command::Faster | Command::Slower => {
                self.interval = next_interval(self.interval, c == Command::Faster);
                vec![Effect::SetInterval(self.interval)]
            }
            Command::ToggleMode => {
                self.snapshot_mode = !self.snapshot_mode;
                vec![Effect::SetSnapshotMode(self.snapshot_mode)]
            }
            _ => Vec::new(),
        }
    }
}

/// The next step of the interval ladder from `now`, shorter when `faster`.
fn next_interval(now: Duration, faster: bool) -> Duration {
    let steps = [500u64, 1000, 2000, 5000, 10_000, 30_000, 60_000];
    let now = now.as_millis() as u64;
    let i = steps
        .iter()
        .position(|s| *s >= now)
        .unwrap_or(steps.len() - 1);
    let i = if faster {
        i.saturating_sub(1)
    } else {
        (i + 1).min(steps.len() - 1)
    };
    Duration::from_millis(steps[i]).clamp(MIN_INTERVAL, MAX_INTERVAL)
}
