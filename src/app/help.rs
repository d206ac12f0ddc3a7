//! The help overlay's state: open or not, and how far it is scrolled (it scrolls on small
//! terminals, never past its last line). While it is open, movement keys scroll it and most
//! other keys do nothing.

use super::keymap::Command;

/// Whether help is shown, and its first visible line.
#[derive(Debug, Clone, Copy)]
pub struct HelpOverlay {
    open: bool,
    scroll: u16,
    /// The furthest it scrolls on this terminal (its last line at the bottom).
    max_scroll: u16,
}

impl Default for HelpOverlay {
    fn default() -> Self {
        HelpOverlay {
            open: false,
            scroll: 0,
            // Until the terminal's size is known: the render clamps.
            max_scroll: u16::MAX,
        }
    }
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

    /// The terminal's size changed: the furthest the help now scrolls.
    pub(super) fn set_max_scroll(&mut self, max: u16) {
        self.max_scroll = max;
        self.scroll = self.scroll.min(max);
    }

    /// Scrolls for a movement command, by `page` lines for a page: true for the commands that
    /// still act while help is open (closing it, quitting).
    pub(super) fn command(&mut self, c: Command, page: u16) -> bool {
        self.scroll = match c {
            Command::Up => self.scroll.saturating_sub(1),
            Command::Down => self.scroll.saturating_add(1).min(self.max_scroll),
            Command::PageUp => self.scroll.saturating_sub(page),
            Command::PageDown => self.scroll.saturating_add(page).min(self.max_scroll),
            Command::Top => 0,
            Command::Bottom => self.max_scroll,
            Command::Help | Command::Back | Command::Quit => return true,
            _ => return false,
        };
        false
    }
}
