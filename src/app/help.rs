//! The help overlay's state: open or not, and how far it is scrolled (it scrolls on small
//! terminals). While it is open, movement keys scroll it and most other keys do nothing.

use super::keymap::Command;

/// Whether help is shown, and its first visible line.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelpOverlay {
    open: bool,
    scroll: u16,
}

impl HelpOverlay {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// First line of the help text shown.
    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    /// `?`: opens or closes it, back at the top.
    pub(super) fn toggle(&mut self) {
        self.open = !self.open;
        self.scroll = 0;
    }

    pub(super) fn close(&mut self) {
        self.open = false;
    }

    /// Scrolls for a movement command, by `page` lines for a page: true for the commands that
    /// still act while help is open (closing it, quitting).
    pub(super) fn command(&mut self, c: Command, page: u16) -> bool {
        self.scroll = match c {
            Command::Up => self.scroll.saturating_sub(1),
            Command::Down => self.scroll.saturating_add(1),
            Command::PageUp => self.scroll.saturating_sub(page),
            Command::PageDown => self.scroll.saturating_add(page),
            Command::Top => 0,
            Command::Help | Command::Back | Command::Quit => return true,
            _ => return false,
        };
        false
    }
}
