//! The help overlay, generated from the keymap table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::keymap::{Context, KEYMAP};

pub fn render(theme: &Theme, scroll: u16, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for (context, title) in [
        (Context::Global, "Everywhere"),
        (Context::ProcessList, "Process list"),
        (Context::Inspector, "Process view"),
    ] {
        lines.push(Line::styled(title, theme.header));
        for b in KEYMAP.iter().filter(|b| b.context == context) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), theme.title),
                Span::raw(b.help),
            ]));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Mouse: click to focus and select, double-click to open, wheel to scroll.",
        theme.dim,
    ));
    // Room for wrapped lines; the text scrolls when the terminal is shorter.
    let height = (lines.len() as u16 + 6).min(area.height);
    let [v] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    // Wider on wide terminals, so that fewer lines wrap and all of it fits without scrolling.
    let width = if area.width >= 120 {
        104
    } else {
        area.width.min(76)
    };
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(v);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .border_style(theme.border_focused)
                    .title(Line::styled(" Help (j/k scroll, Esc closes) ", theme.title)),
            ),
        popup,
    );
}
