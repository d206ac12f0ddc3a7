//! Stacks kept from one trace for the next: a thread blocked in a system call whose run
//! record (`schedstat`) has not changed has not run, so its stack (its Python frames too)
//! and module notes stand.

use std::sync::Arc;

use super::Tracer;
use super::stages::{KeptStack, WalkedThread};
use crate::tracer::{ModuleNote, Thread};

impl Tracer {
    /// Keeps the stacks of the threads captured without a stop, for the next trace;
    /// `with_python` says whether Python frames were spliced into them.
    pub(super) fn remember_kept(
        &mut self,
        pid: i32,
        threads: &[Thread],
        marks: Vec<Option<(u64, Vec<u8>)>>,
        notes: &[ModuleNote],
        with_python: bool,
    ) {
        self.unchanged.clear();
        self.unchanged_pid = pid;
        for (t, mark) in threads.iter().zip(marks) {
            if let Some((start, record)) = mark {
                self.unchanged.insert(
                    t.id as i32,
                    KeptStack {
                        start,
                        record,
                        frames: t.frames.clone(),
                        end: t.end.clone(),
                        error: t.error.clone(),
                        facts: t.facts.clone(),
                        with_python,
                        notes: notes
                            .iter()
                            .filter(|n| t.module_note(n).is_some())
                            .map(|n| Arc::new(n.clone()))
                            .collect(),
                    },
                );
            }
        }
    }
}

/// The threads whose stacks were kept from the last trace.
pub(super) fn tids(captured: &[WalkedThread]) -> std::collections::HashSet<u32> {
    captured
        .iter()
        .filter(|c| c.kept.is_some())
        .map(|c| c.tid as u32)
        .collect()
}
