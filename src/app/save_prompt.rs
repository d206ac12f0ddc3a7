//! The path prompt of a save that could not be written where it was asked (the current
//! directory is not writable): prefilled with a writable place, it says which directory
//! failed, and holds the snapshots until Enter writes them or Esc drops them.

use std::sync::Arc;

use crate::tracer::Process;

/// An open save prompt.
#[derive(Debug, Clone)]
pub struct SavePrompt {
    path: String,
    /// The directory that could not be written, and why, in words.
    failed: String,
    docs: Vec<Arc<Process>>,
}

impl SavePrompt {
    pub(super) fn new(path: String, failed: String, docs: Vec<Arc<Process>>) -> SavePrompt {
        SavePrompt { path, failed, docs }
    }

    /// The path typed so far.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// "cannot write in /srv (Permission denied)".
    pub fn failed(&self) -> &str {
        &self.failed
    }

    pub(super) fn push(&mut self, c: char) {
        self.path.push(c);
    }

    pub(super) fn pop(&mut self) {
        self.path.pop();
    }

    /// Enter: where to write, and what.
    pub(super) fn into_save(self) -> (String, Vec<Arc<Process>>) {
        (self.path, self.docs)
    }
}
