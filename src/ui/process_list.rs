//! The process list: pid, user, state, threads, CPU%, RSS and command line, sorted and
//! filtered as the app says.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::theme::Theme;
use crate::app::{ProcColumn, ProcessList};

pub fn render(list: &ProcessList, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = list.visible();
    let arrow = if list.sort_descending() { "▼" } else { "▲" };
    let header = Row::new(ProcColumn::ALL.iter().map(|c| {
        let title = if *c == list.sort() {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        Cell::from(title)
    }))
    .style(theme.header);
    let body = rows.iter().map(|p| {
        Row::new(vec![
            Cell::from(p.pid.to_string()),
            Cell::from(p.user.clone()),
            Cell::from(p.state.to_string()),
            Cell::from(p.threads.to_string()),
            Cell::from(format!("{:.1}", p.cpu_percent)),
            Cell::from(human_bytes(p.rss_bytes)),
            Cell::from(p.command.clone()),
        ])
    });
    let widths = [
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Fill(1),
    ];
    let mut title = vec![Span::styled(
        format!(" Processes ({}) ", rows.len()),
        theme.title,
    )];
    let filter = list.filter();
    if filter.is_shown() {
        let cursor = if filter.is_editing() { "█" } else { "" };
        title.push(Span::raw(format!(" filter: {}{cursor} ", filter.text())));
    }
    if list.show_kernel() {
        title.push(Span::styled(" +kernel threads ", theme.dim));
    }
    let table = Table::new(body, widths)
        .header(header)
        .block(
            Block::new()
                .borders(Borders::TOP)
                .border_style(theme.border_focused)
                .title(Line::from(title)),
        )
        .row_highlight_style(theme.selected)
        .column_spacing(1);
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
