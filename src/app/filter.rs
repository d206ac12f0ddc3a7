//! The process list's filter prompt: the text typed after `/`, and whether it is still being
//! typed (then keys are text, not commands).

use crate::proclist::ProcessInfo;

/// The filter text and whether the prompt is open.
#[derive(Debug, Clone, Default)]
pub struct FilterPrompt {
    text: String,
    editing: bool,
}

impl FilterPrompt {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Keys are being typed into the filter.
    pub fn is_editing(&self) -> bool {
        self.editing
    }

    /// Open, or closed with text kept: the list is filtered and says so.
    pub fn is_shown(&self) -> bool {
        self.editing || !self.text.is_empty()
    }

    /// Whether a process matches: its pid, name, command line or user contains the text,
    /// ignoring case (the text is lowercased once, not per process).
    pub fn matcher(&self) -> impl Fn(&ProcessInfo) -> bool + use<> {
        let needle = self.text.to_lowercase();
        move |p| {
            needle.is_empty()
                || p.pid.to_string().contains(&needle)
                || p.name.to_lowercase().contains(&needle)
                || p.command.to_lowercase().contains(&needle)
                || p.user.to_lowercase().contains(&needle)
        }
    }

    pub(super) fn open(&mut self) {
        self.editing = true;
    }

    /// Enter: the text stays, the prompt closes.
    pub(super) fn keep(&mut self) {
        self.editing = false;
    }

    /// Esc: the prompt closes and the text goes.
    pub(super) fn clear(&mut self) {
        self.editing = false;
        self.text.clear();
    }

    pub(super) fn push(&mut self, c: char) {
        self.text.push(c);
    }

    pub(super) fn pop(&mut self) {
        self.text.pop();
    }
}
