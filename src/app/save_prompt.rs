//! The path prompt of a save that could not be written where it was asked (the current
//! directory is not writable): prefilled with a writable place, it says which directory
//! failed, and holds the snapshots until Enter writes them or Esc drops them.

use std::sync::Arc;

use crate::profile::Profile;
use crate::tracer::Process;

/// An open save prompt.
#[derive(Debug, Clone)]
pub struct SavePrompt {
    path: String,
    /// The directory that could not be written, and why, in words.
    failed: String,
    docs: Vec<Arc<Process>>,
    /// A profile to save instead of snapshots.
    profile: Option<Arc<Profile>>,
}

impl SavePrompt {
    pub(super) fn new(path: String, failed: String, docs: Vec<Arc<Process>>) -> SavePrompt {
        SavePrompt {
            path,
            failed,
            docs,
            profile: None,
        }
    }

    /// A prompt for where to save `profile` (`W`, or a refused `w`: `failed` says why).
    pub(super) fn for_profile(path: String, failed: String, profile: Arc<Profile>) -> SavePrompt {
        SavePrompt {
            path,
            failed,
            docs: Vec::new(),
            profile: Some(profile),
        }
    }

    /// The profile this prompt saves, if it saves one.
    pub(super) fn profile(&self) -> Option<&Arc<Profile>> {
        self.profile.as_ref()
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
