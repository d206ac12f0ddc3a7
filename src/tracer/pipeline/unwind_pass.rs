//! The unwind stage, while the threads run again: each capture walked; a blocked thread whose
//! walk needs a register it was not captured with is stopped and taken again.

use std::time::Duration;

use super::Tracer;
use super::capture_pass::Stop;
use super::stages::{Source, Taken, TakenThread, WalkedThread};
use crate::tracer::capture::atstop::{self, AtStop};
use crate::tracer::capture::thread as capture;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::unwind::unwinder::{Unwinder, Walk};
use crate::tracer::{Error, Result, ThreadError};

impl Tracer {
    /// Unwinds every capture (the threads run again meanwhile).
    pub(super) fn unwind_all(
        &mut self,
        pid: i32,
        pending: Vec<TakenThread>,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<Vec<WalkedThread>> {
        let mut out = Vec::with_capacity(pending.len());
        for mut p in pending {
            let mut stopped_for = p.stopped_for;
            let mut mark = p.mark;
            let mut kept = None;
            let (walk, error) = match p.source {
                Source::Kept(u) => {
                    kept = Some(*u);
                    (Walk::default(), None)
                }
                Source::Taken(Taken::Walk(w)) => (w, None),
                Source::Taken(Taken::Walked(w, e)) => (w, e),
                Source::Taken(Taken::Failed(e)) => (Walk::default(), Some(e)),
                Source::Taken(Taken::Capture(c)) => {
                    let how = c.how;
                    let walk = unwinder.unwind_capture(p.tid, *c, self.options.max_frames);
                    if walk.missing_register && how == capture::How::Blocked {
                        // Stopped after all: its run record no longer tells whether it ran.
                        mark = None;
                        let (walk, error, at) =
                            self.retake(pid, p.tid, walk, unwinder, maps, &mut stopped_for)?;
                        if let Some(at) = at {
                            atstop::settle(pid, &mut p.facts, at);
                        }
                        (walk, error)
                    } else {
                        (walk, None)
                    }
                }
            };
            out.push(WalkedThread {
                tid: p.tid,
                name: p.name,
                facts: p.facts,
                walk,
                error,
                stopped_for,
                kept,
                mark,
            });
        }
        Ok(out)
    }

    /// A blocked thread whose `walk` needed a register it was not captured with: stopped,
    /// captured again with every register and unwound from that. If it cannot be, the first
    /// walk stands (with the error, if the capture failed). Also where the stop found it.
    pub(super) fn retake(
        &mut self,
        pid: i32,
        tid: i32,
        walk: Walk,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
        stopped_for: &mut Duration,
    ) -> Result<(Walk, Option<ThreadError>, Option<AtStop>)> {
        if self.cancelled() {
            return Err(Error::Cancelled { pid });
        }
        let raised = self.hold();
        let Stop::Stopped(s) = self.stop(pid, tid)? else {
            // Gone meanwhile, or not stopping: keep what the capture gave.
            return Ok((walk, None, None));
        };
        let (taken, at) = self.take(tid, unwinder, maps);
        *stopped_for = s.detach();
        drop(raised);
        Ok(match taken {
            // Every register was captured this time: no walk of it misses one.
            Taken::Capture(c) => (
                unwinder.unwind_capture(tid, *c, self.options.max_frames),
                None,
                at,
            ),
            Taken::Walk(w) | Taken::Walked(w, None) => (w, None, at),
            Taken::Walked(w, Some(e)) => (w, Some(e), at),
            Taken::Failed(e) => (walk, Some(e), None),
        })
    }
}
