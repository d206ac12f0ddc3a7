//! The search drawn: its matches marked inside the panes' cells, and its prompt with the
//! count (`/malloc  3 threads, 5 frames`) and the keys that use it, from the keymap.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::fit::Piece;
use super::theme::Theme;
use crate::app::Inspector;
use crate::app::inspector::search::Pattern;
use crate::app::keymap::{self, Command};

/// `text` as a line with the matches of `pattern` in `style`.
pub fn marked(text: String, pattern: Option<&Pattern>, style: Style) -> Line<'static> {
    let ranges = pattern.map(|p| p.find_all(&text)).unwrap_or_default();
    if ranges.is_empty() {
        return Line::from(text);
    }
    let mut spans = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut at = 0;
    for r in ranges {
        if r.start > at {
            spans.push(Span::raw(text[at..r.start].to_string()));
        }
        spans.push(Span::styled(text[r.clone()].to_string(), style));
        at = r.end;
    }
    if at < text.len() {
        spans.push(Span::raw(text[at..].to_string()));
    }
    Line::from(spans)
}

/// `piece` with the matches of `pattern` in its text drawn in `style`, wherever fitting
/// leaves them.
pub fn piece(piece: Piece, pattern: Option<&Pattern>, style: Style) -> Piece {
    match pattern.map(|p| p.find_all(&piece.text)) {
        Some(ranges) if !ranges.is_empty() => piece.marked(ranges, style),
        _ => piece,
    }
}

/// "3 threads, 5 frames".
fn count_text(threads: usize, frames: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(threads, "thread"), plural(frames, "frame"))
}

/// The footer while a search is shown: the prompt (a cursor while typed), the count, and
/// the keys that act now.
pub fn footer_spans(inspector: &Inspector, theme: &Theme) -> Vec<Span<'static>> {
    let search = inspector.search();
    let cursor = if search.is_editing() { "█" } else { "" };
    let mut spans = vec![Span::styled(
        format!(" /{}{cursor} ", search.text()),
        theme.title,
    )];
    if let Some(c) = inspector.search_count() {
        spans.push(Span::raw(format!(
            " {}   ",
            count_text(c.threads, c.frames)
        )));
    } else {
        spans.push(Span::raw("  "));
    }
    let mut key = |label: &str, what: &str| {
        spans.push(Span::styled(label.to_string(), theme.key));
        spans.push(Span::raw(format!(" {what}  ")));
    };
    if search.is_editing() {
        key("Enter", "keep");
        key("Esc", "clear");
    } else {
        for c in [
            Command::SearchNext,
            Command::SearchPrev,
            Command::FilterThreads,
        ] {
            if let Some(b) = keymap::binding(c) {
                key(b.label, b.short);
            }
        }
        key("Esc", "clear");
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_spans_of_their_own() {
        let p = Pattern::new("lock").unwrap();
        let style = Style::new().add_modifier(ratatui::style::Modifier::UNDERLINED);
        let line = marked("pthread_mutex_LOCK+0x1 lock".into(), Some(&p), style);
        let parts: Vec<(&str, bool)> = line
            .spans
            .iter()
            .map(|s| (s.content.as_ref(), s.style == style))
            .collect();
        assert_eq!(
            parts,
            [
                ("pthread_mutex_", false),
                ("LOCK", true),
                ("+0x1 ", false),
                ("lock", true)
            ]
        );
        assert_eq!(count_text(1, 5), "1 thread, 5 frames");
    }
}
