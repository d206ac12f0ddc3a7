//! The frame detail view, over the inspector's panes: the whole symbol (wrapped, never cut),
//! the inline chain, `file:line`, module, build-id, address and the source lines around the
//! line, that line marked. Everything comes from the state the app loaded when it opened.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::app::App;
use crate::app::inspector::detail::FrameDetail;
use crate::describe::basename;

/// Columns of the labels ("symbol", "module") before the values.
const LABEL: usize = 10;
/// What marks the frame's own line among the source lines, and its place in the chain.
const MARK: &str = "▶";

/// How far the open detail view scrolls on a screen of `area` (its lines beyond its height),
/// for the app to stop its scroll there.
pub fn max_scroll(app: &App, area: Rect) -> Option<usize> {
    let d = app.inspector()?.detail()?;
    let areas = super::layout(area, app.screen());
    let inner = Block::new()
        .borders(Borders::ALL)
        .inner(areas.threads.union(areas.frames));
    let lines = lines(d, &Theme::mono(), usize::from(inner.width)).len();
    Some(lines.saturating_sub(usize::from(inner.height)))
}

pub fn render(detail: &FrameDetail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let title = format!(" Frame #{} (Esc closes) ", detail.index);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Line::styled(
            fit::cut(&title, area.width.into()).into_owned(),
            theme.title,
        ));
    let inner = block.inner(area);
    let lines = lines(detail, theme, usize::from(inner.width));
    let most = lines.len().saturating_sub(usize::from(inner.height));
    let scroll = u16::try_from(detail.scroll().min(most)).unwrap_or(u16::MAX);
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// The view's lines at `width` columns.
pub fn lines<'a>(d: &FrameDetail, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let value_width = width.saturating_sub(LABEL).max(8);
    let mut field = |label: &str, value: &str| {
        for (i, part) in fit::wrap(value, value_width).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            out.push(Line::from(vec![
                Span::styled(format!("{label:<LABEL$}"), theme.header),
                Span::raw(part),
            ]));
        }
    };
    let symbol = match (&d.symbol, d.inlined) {
        (Some(s), true) => format!("{s} (inlined)"),
        (Some(s), false) => s.clone(),
        (None, _) => "?? (no symbol)".to_string(),
    };
    field("symbol", &symbol);
    if let Some(raw) = &d.raw_name {
        field("raw name", raw);
    }
    for (n, (i, name)) in d.inline_chain.iter().enumerate() {
        let mark = if *i == d.index { MARK } else { " " };
        let label = if n == 0 { "inlined" } else { "" };
        field(label, &format!("{mark} #{i} {name}"));
    }
    if let Some(l) = &d.location {
        let column = l.column.map(|c| format!(":{c}")).unwrap_or_default();
        field("at", &format!("{}:{}{column}", l.file, l.line));
    }
    if d.python {
        // Run by the interpreter: no address, module or build-id of its own to show.
        field(
            "kind",
            "Python function (run by the interpreter's evaluator frame below it)",
        );
    } else {
        if let Some(m) = &d.module {
            field("module", &m.path);
        }
        field(
            "build-id",
            d.build_id
                .as_deref()
                .unwrap_or("(not known: no module file read)"),
        );
        field("address", &address(d));
    }
    match &d.source {
        None => field("source", "(no line info for this frame)"),
        Some(Err(e)) => field("source", &format!("({e})")),
        Some(Ok(excerpt)) => {
            out.push(Line::from(""));
            let digits = (excerpt.first as usize + excerpt.lines.len())
                .to_string()
                .len();
            for (n, text) in (excerpt.first..).zip(&excerpt.lines) {
                let marked = n == excerpt.marked;
                let head = format!("{} {n:>digits$} │ ", if marked { MARK } else { " " });
                let room = width.saturating_sub(fit::width(&head));
                let body = fit::cut(text, room).into_owned();
                let style = if marked { theme.selected } else { theme.dim };
                let head_style = if marked { theme.header } else { theme.dim };
                out.push(Line::from(vec![
                    Span::styled(head, head_style),
                    Span::styled(body, style),
                ]));
            }
        }
    }
    out
}

/// "0x7f12a0c4d2e1 (function start + 0x12; libc.so.6+0x9a3c1)".
fn address(d: &FrameDetail) -> String {
    let mut within = Vec::new();
    if let Some(off) = d.offset {
        within.push(format!("function start + {off:#x}"));
    }
    if let Some(m) = &d.module {
        within.push(format!("{}+{:#x}", basename(&m.path), m.offset));
    }
    if within.is_empty() {
        format!("{:#x}", d.ip)
    } else {
        format!("{:#x} ({})", d.ip, within.join("; "))
    }
}
