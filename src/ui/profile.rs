//! The profile view drawn in the panes' place: a line of the recording's facts (samples,
//! duration, rate, on-CPU share, the target's longest stop), then the top-functions table or
//! the flame graph; and its search prompt with the matches' share of the samples.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit::{self, Column, Part, Piece, PieceRow};
use super::flame;
use super::list_pane::ListPane;
use super::theme::Theme;
use crate::app::inspector::profile::{ProfileMode, ProfileView, SortColumn, share};
use crate::app::look::Look;

/// The table's columns: the shares are never cut, the name takes the rest.
const COLUMNS: [Column; 5] = [
    Column::new("FUNCTION", 5, 30).min(12).fill(1),
    Column::new("SELF", 9, 7),
    Column::new("TOTAL", 8, 7),
    Column::new("ON-CPU", 7, 7),
    Column::new("OFF-CPU", 6, 7),
];

pub fn render(view: &ProfileView, theme: &Theme, look: &Look, frame: &mut Frame, area: Rect) {
    let [facts, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(facts_line(view, theme, facts.width)), facts);
    match view.mode() {
        ProfileMode::Table => table(view, theme, frame, body),
        ProfileMode::Flame => flame_graph(view, theme, look, frame, body),
    }
}

/// "1234 samples · 3.1 s · 19.9/s · on-CPU 45% · longest stop 0.12 ms": each figure whole
/// or left out, the least telling first.
fn facts_line(view: &ProfileView, theme: &Theme, width: u16) -> Line<'static> {
    let p = view.profile();
    let secs = p.duration().as_secs_f64();
    let rate = if secs > 0.0 {
        format!(" · {:.1}/s", (p.snapshots.saturating_sub(1)) as f64 / secs)
    } else {
        String::new()
    };
    let tree = view.tree();
    let mut parts = vec![
        Part::new(
            Piece::whole(format!(" {} samples", tree.samples)).style(theme.title),
            9,
        ),
        Part::new(Piece::whole(format!(" ({} snapshots)", p.snapshots)), 2),
        Part::new(Piece::whole(format!(" · {secs:.1} s")), 8),
        Part::new(Piece::whole(rate), 6),
        Part::new(
            Piece::whole(format!(
                " · on-CPU {:.0}%",
                100.0 * share(tree.on_cpu, tree.samples)
            )),
            7,
        ),
        Part::new(
            Piece::whole(format!(
                " · longest stop {:.2} ms",
                p.longest_stop.as_secs_f64() * 1000.0
            )),
            5,
        ),
    ];
    if p.dropped > 0 {
        parts.push(Part::new(
            Piece::whole(format!(" · {} not counted (bounds)", p.dropped)).style(theme.error),
            4,
        ));
    }
    fit::line(&parts, width)
}

/// "whole process", or "thread 1234".
fn scope_text(view: &ProfileView) -> String {
    match view.scope_thread() {
        Some(tid) => format!("thread {tid}"),
        None => "whole process".to_string(),
    }
}

fn percent(n: u64, total: u64) -> String {
    format!("{:.1}%", 100.0 * share(n, total))
}

fn table(view: &ProfileView, theme: &Theme, frame: &mut Frame, area: Rect) {
    let total = view.tree().samples;
    let pattern = view.search().pattern();
    let rows: Vec<PieceRow> = view
        .rows()
        .iter()
        .map(|r| {
            let name = super::search::piece(Piece::text(&r.name), pattern.as_ref(), theme.search);
            let cells = vec![
                name,
                Piece::whole(percent(r.self_samples, total)),
                Piece::whole(percent(r.total_samples, total)),
                Piece::whole(percent(r.total_on_cpu, total)),
                Piece::whole(percent(r.total_samples - r.total_on_cpu, total)),
            ];
            (cells, Style::new())
        })
        .collect();
    let sorted = match view.sort() {
        SortColumn::Name => 0,
        SortColumn::SelfShare => 1,
        SortColumn::Total => 2,
        SortColumn::OnCpu => 3,
        SortColumn::OffCpu => 4,
    };
    let mut columns = COLUMNS.clone();
    let mark = if sorted == 0 {
        theme.glyphs().sort_up
    } else {
        theme.glyphs().sort_down
    };
    columns[sorted] = columns[sorted]
        .clone()
        .titled(format!("{}{mark}", columns[sorted].title));
    let title = format!(
        " Top functions · {} ({} functions; s sorts, Tab: flame graph) ",
        scope_text(view),
        rows.len()
    );
    let selected = view.table_index();
    let height = usize::from(area.height.saturating_sub(2)).max(1);
    ListPane {
        columns: &columns,
        rows: &rows,
        title: &title,
        focused: true,
        offset: selected.map_or(0, |s| s.saturating_sub(height - 1)),
        selected,
    }
    .draw(theme, frame, area);
}

fn flame_graph(view: &ProfileView, theme: &Theme, look: &Look, frame: &mut Frame, area: Rect) {
    let (top, zoom) = view.zoomed();
    let node = view.selected_node();
    let zoomed = if zoom.is_empty() { "" } else { " · zoomed" };
    let title = format!(
        " Flame graph · {}{zoomed} · {} {} ({:.0}% on-CPU) ",
        scope_text(view),
        node.name,
        percent(node.samples, view.tree().samples),
        100.0 * share(node.on_cpu, node.samples),
    );
    let block = theme.pane(fit::cut(&title, area.width.into()).into_owned(), true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let selected = view.selected_path().strip_prefix(zoom);
    let depth = selected.map_or(0, <[String]>::len);
    let height = usize::from(inner.height).max(1);
    // The selected frame's row stays on screen.
    let skip = depth.saturating_sub(height - 1);
    let rows = flame::layout(top, selected, inner.width, skip, height);
    let pattern = view.search().pattern();
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| flame::line(r, inner.width, theme, look, pattern.as_ref()))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The footer while the view's search is shown: the prompt (a cursor while typed), how many
/// frames match and their share of the samples, and the keys that act now.
pub fn footer_spans(view: &ProfileView, theme: &Theme) -> Vec<Span<'static>> {
    let search = view.search();
    let cursor = if search.is_editing() {
        theme.glyphs().cursor
    } else {
        ""
    };
    let mut spans = vec![Span::styled(
        format!(" /{}{cursor} ", search.text()),
        theme.title,
    )];
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let matched = match (view.search().pattern(), view.search_share()) {
        (Some(p), Some((frames, part))) => {
            let counted = match view.mode() {
                ProfileMode::Table => plural(
                    view.rows().iter().filter(|r| p.matches(&r.name)).count(),
                    "function",
                ),
                ProfileMode::Flame => plural(frames, "frame"),
            };
            format!(" {counted}, {:.1}% of samples   ", part * 100.0)
        }
        _ => "  ".to_string(),
    };
    spans.push(Span::raw(matched));
    let mut key = |label: &str, what: &str| {
        spans.push(Span::styled(label.to_string(), theme.key));
        spans.push(Span::raw(format!(" {what}  ")));
    };
    if search.is_editing() {
        key("Enter", "keep");
    } else {
        key("n", "next");
        key("N", "prev");
    }
    key("Esc", "clear");
    spans
}
