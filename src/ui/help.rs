//! The help overlay, generated from the keymap table. Lines are wrapped here, not by the
//! widget, so a wrapped description stays indented under its text and the last line that
//! can be scrolled to is known ([`max_scroll`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::keymap::{Context, KEYMAP};

/// Widest the help box gets, and on terminals of at least [`WIDE`] columns (so that fewer
/// lines wrap and all of it fits without scrolling).
const WIDTH: u16 = 76;
const WIDE_WIDTH: u16 = 104;
const WIDE: u16 = 120;

/// The help box's width on a terminal `width` columns wide.
fn box_width(width: u16) -> u16 {
    if width >= WIDE {
        WIDE_WIDTH
    } else {
        width.min(WIDTH)
    }
}
/// Width of the key column, its indent included.
const KEY_COLUMN: usize = 10;

/// Where the help box goes in `area`: as wide as it may be, as tall as its text (wrapped to
/// that width) or the terminal.
fn popup(area: Rect, lines: usize) -> Rect {
    let height = (lines as u16).saturating_add(2).min(area.height);
    let [v] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(box_width(area.width))])
        .flex(Flex::Center)
        .areas(v);
    popup
}

/// The text width inside the box for a terminal `width` columns wide.
fn text_width(width: u16) -> usize {
    usize::from(box_width(width).saturating_sub(2))
}

/// `text` cut into lines of at most `width` characters at spaces (a word longer than a line
/// is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let (len, word_len) = (line.chars().count(), word.chars().count());
        if !line.is_empty() && len + 1 + word_len > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let rest: String = line.chars().skip(width).collect();
            line = line.chars().take(width).collect();
            lines.push(std::mem::replace(&mut line, rest));
        }
    }
    lines.push(line);
    lines
}

/// The help's lines for text `width` columns wide: each description wrapped beside its key,
/// continuation lines indented under it.
fn lines(theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (context, title) in [
        (Context::Global, "Everywhere"),
        (Context::ProcessList, "Process list"),
        (Context::Inspector, "Process view"),
        (Context::Profile, "Profile view (p)"),
    ] {
        lines.push(Line::styled(title, theme.header));
        for b in KEYMAP.iter().filter(|b| b.context == context) {
            let label = format!("  {:<8}", theme.glyphs().text(b.label));
            let label_width = label.chars().count().max(KEY_COLUMN);
            let text = wrap(b.help, width.saturating_sub(label_width));
            for (i, part) in text.into_iter().enumerate() {
                let key = if i == 0 {
                    Span::styled(format!("{label:<label_width$}"), theme.title)
                } else {
                    Span::raw(" ".repeat(label_width))
                };
                lines.push(Line::from(vec![key, Span::raw(part)]));
            }
        }
        lines.push(Line::raw(""));
    }
    for part in wrap(
        "Mouse: click to focus and select, double-click to open, wheel to scroll. Loaded snapshots (load): the \
         process view's keys but the live ones; Esc quits.",
        width,
    ) {
        lines.push(Line::styled(part, theme.dim));
    }
    lines
}

/// The furthest the help can scroll on a terminal of `area`: its last line at the bottom
/// of the box, never blank space below it.
pub fn max_scroll(area: Rect) -> u16 {
    let n = lines(&Theme::mono(), text_width(area.width)).len();
    let inner = popup(area, n).height.saturating_sub(2);
    u16::try_from(n).unwrap_or(u16::MAX).saturating_sub(inner)
}

pub fn render(theme: &Theme, scroll: u16, frame: &mut Frame, area: Rect) {
    let lines = lines(theme, text_width(area.width));
    let popup = popup(area, lines.len());
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max_scroll(area)), 0))
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .border_set(theme.glyphs().border)
                    .border_style(theme.border_focused)
                    .title(Line::styled(
                        " Help (j/k scroll, g/G top/end, Esc closes) ",
                        theme.title,
                    )),
            ),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_cuts_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc dd", 6), ["a bb", "ccc dd"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
