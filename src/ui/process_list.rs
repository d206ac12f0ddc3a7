//! The process list: pid, user, state, threads, CPU%, RSS and command line, sorted and
//! filtered as the app says; narrow terminals drop USER, RSS and THR before COMMAND, which
//! is cut with `…`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Table, TableState};

use super::fit::{self, Column, Piece, PieceRow};
use super::theme::Theme;
use crate::app::{ProcColumn, ProcessList};

/// The columns in [`ProcColumn::ALL`]'s order, by priority: the pid and the command (at
/// least 16 columns, so identical rows stay apart) go last; USER, then RSS, then THR go
/// first, as htop drops them.
const COLUMNS: [Column; 7] = [
    Column::new("", 9, 7),
    Column::new("", 2, 9).min(4),
    Column::new("", 7, 1),
    Column::new("", 4, 5),
    Column::new("", 6, 6),
    Column::new("", 3, 7),
    Column::new("", 8, 20).min(16).fill(1),
];

pub fn render(list: &ProcessList, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = list.visible();
    let g = theme.glyphs();
    let arrow = if list.sort_descending() {
        g.sort_down
    } else {
        g.sort_up
    };
    let columns: Vec<Column> = ProcColumn::ALL
        .iter()
        .zip(COLUMNS)
        .map(|(c, col)| {
            if *c == list.sort() {
                col.titled(format!("{}{arrow}", c.title()))
            } else {
                col.titled(c.title().to_string())
            }
        })
        .collect();
    let body: Vec<PieceRow> = rows
        .iter()
        .map(|p| {
            let cells = vec![
                Piece::whole(p.pid.to_string()),
                Piece::text(p.user.clone()),
                Piece::whole(p.state.to_string()),
                Piece::whole(p.threads.to_string()),
                Piece::whole(format!("{:.1}", p.cpu_percent)),
                Piece::whole(human_bytes(p.rss_bytes)),
                Piece::text(p.command.clone()),
            ];
            (cells, Style::new())
        })
        .collect();
    let (header, body, widths) = fit::table(&columns, &body, area.width, true);
    let mut title = vec![Span::styled(
        format!(" Processes ({}) ", rows.len()),
        theme.title,
    )];
    let filter = list.filter();
    if filter.is_shown() {
        let cursor = if filter.is_editing() { g.cursor } else { "" };
        title.push(Span::raw(format!(" filter: {}{cursor} ", filter.text())));
    }
    if list.show_kernel() {
        title.push(Span::styled(" +kernel threads ", theme.dim));
    }
    let mut table = Table::new(body, widths)
        .block(
            Block::new()
                .borders(Borders::TOP)
                .border_set(theme.glyphs().border)
                .border_style(theme.border_focused)
                .title(Line::from(title)),
        )
        .row_highlight_style(theme.selected)
        .column_spacing(1);
    if let Some(h) = header {
        table = table.header(h.style(theme.header));
    }
    let mut state = TableState::new()
        .with_offset(list.offset())
        .with_selected(list.selected_index(&rows));
    frame.render_stateful_widget(table, area, &mut state);
}

/// 1536 -> "1.5K", in powers of 1024.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}
