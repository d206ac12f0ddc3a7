//! How a key is read: as a command through the keymap, or, while a prompt is open (the
//! process list's filter, the inspector's search), as text, when only the commands that close
//! the prompt, quit or move the selection still act, so typing `/malloc` runs no `m` or `c`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::Command;

/// What keys are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Commands, through the keymap.
    Commands,
    /// Text for the open prompt.
    Text,
}

/// What a key press is in a mode: typed text, a command, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyInput {
    Char(char),
    Backspace,
    Command(Command),
}

/// A key in `mode`; `command` is what the keymap makes of it.
pub fn read(mode: InputMode, key: KeyEvent, command: Option<Command>) -> Option<KeyInput> {
    if mode == InputMode::Commands {
        return command.map(KeyInput::Command);
    }
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            Some(KeyInput::Char(c))
        }
        KeyCode::Backspace => Some(KeyInput::Backspace),
        // The prompt's own keys, whatever the screen binds them to: keep and clear.
        KeyCode::Enter => Some(KeyInput::Command(Command::Enter)),
        KeyCode::Esc => Some(KeyInput::Command(Command::Back)),
        _ => command
            .filter(|c| acts_while_typing(*c))
            .map(KeyInput::Command),
    }
}

/// The commands a key still gives while text is typed (by a key that is not a character).
fn acts_while_typing(c: Command) -> bool {
    matches!(
        c,
        Command::Quit
            | Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn text_takes_every_character_and_only_a_few_commands() {
        let none = KeyModifiers::NONE;
        let m = key(KeyCode::Char('m'), none);
        assert_eq!(
            read(InputMode::Commands, m, Some(Command::ToggleMode)),
            Some(KeyInput::Command(Command::ToggleMode))
        );
        assert_eq!(
            read(InputMode::Text, m, Some(Command::ToggleMode)),
            Some(KeyInput::Char('m'))
        );
        assert_eq!(
            read(
                InputMode::Text,
                key(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Some(Command::Quit)
            ),
            Some(KeyInput::Command(Command::Quit))
        );
        assert_eq!(
            read(
                InputMode::Text,
                key(KeyCode::Tab, none),
                Some(Command::NextPane)
            ),
            None
        );
        assert_eq!(
            read(
                InputMode::Text,
                key(KeyCode::Esc, none),
                Some(Command::Back)
            ),
            Some(KeyInput::Command(Command::Back))
        );
        assert_eq!(
            read(InputMode::Text, key(KeyCode::Backspace, none), None),
            Some(KeyInput::Backspace)
        );
    }
}
