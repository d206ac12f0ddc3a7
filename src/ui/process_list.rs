//! The process list: pid, user, state, threads, CPU%, RSS and command line, sorted and
//! filtered as the app says; narrow terminals drop USER, RSS and THR before COMMAND, which
//! is cut with `…`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::theme::Theme;
use crate::app::{ProcColumn, ProcessList};

pub fn render(list: &ProcessList, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = list.visible();
    let g = theme.glyphs();
    let arrow = if list.sort_descending() {
        g.sort_down
    } else {
        g.sort_up
    };
    let columns = columns_for(area.width);
    // COMMAND gets what the others leave (one space between columns); it is cut with `…`.
    let fixed: u16 = columns.iter().map(|c| width(*c) + 1).sum();
    let command_width = usize::from(area.width.saturating_sub(fixed));
    let header = Row::new(columns.iter().chain([&ProcColumn::Command]).map(|c| {
        let title = if *c == list.sort() {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        Cell::from(title)
    }))
    .style(theme.header);
    let body = rows.iter().map(|p| {
        let mut cells: Vec<Cell> = columns
            .iter()
            .map(|c| {
                Cell::from(match c {
                    ProcColumn::Pid => p.pid.to_string(),
                    ProcColumn::User => p.user.clone(),
                    ProcColumn::State => p.state.to_string(),
                    ProcColumn::Threads => p.threads.to_string(),
                    ProcColumn::Cpu => format!("{:.1}", p.cpu_percent),
                    ProcColumn::Rss => human_bytes(p.rss_bytes),
                    ProcColumn::Command => String::new(),
                })
            })
            .collect();
        cells.push(Cell::from(fit(&p.command, command_width)));
        Row::new(cells)
    });
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| Constraint::Length(width(*c)))
        .chain([Constraint::Fill(1)])
        .collect();
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
    let table = Table::new(body, widths)
        .header(header)
        .block(
            Block::new()
                .borders(Borders::TOP)
                .border_set(theme.glyphs().border)
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

/// Fewest columns COMMAND keeps on a narrow terminal: identical rows must stay apart.
const MIN_COMMAND: u16 = 12;

/// Width of a column (its title and sort arrow fit).
fn width(c: ProcColumn) -> u16 {
    match c {
        ProcColumn::Pid => 7,
        ProcColumn::User => 9,
        ProcColumn::State => 2,
        ProcColumn::Threads => 5,
        ProcColumn::Cpu => 6,
        ProcColumn::Rss => 7,
        ProcColumn::Command => MIN_COMMAND,
    }
}

/// The columns before COMMAND that fit in `total` columns with room for COMMAND, dropping
/// the least telling first, as htop does: USER, then RSS, then THR.
fn columns_for(total: u16) -> Vec<ProcColumn> {
    let mut columns: Vec<ProcColumn> = ProcColumn::ALL
        .into_iter()
        .filter(|c| *c != ProcColumn::Command)
        .collect();
    for drop in [ProcColumn::User, ProcColumn::Rss, ProcColumn::Threads] {
        let fixed: u16 = columns.iter().map(|c| width(*c) + 1).sum();
        if fixed + MIN_COMMAND <= total {
            break;
        }
        columns.retain(|c| *c != drop);
    }
    columns
}

/// `s` in at most `width` columns, ending with `…` when cut (a character from U+1100 on
/// counted as two columns, as wide scripts are).
pub fn fit(s: &str, width: usize) -> String {
    let w = |c: char| if c < '\u{1100}' { 1 } else { 2 };
    if s.chars().map(w).sum::<usize>() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + w(c) + 1 > width {
            break;
        }
        used += w(c);
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_keep_command_and_mark_the_cut() {
        use ProcColumn::*;
        assert_eq!(columns_for(80), [Pid, User, State, Threads, Cpu, Rss]);
        assert_eq!(columns_for(40), [Pid, State, Threads, Cpu]);
        assert_eq!(fit("nginx: worker process", 10), "nginx: wo…");
        assert_eq!(fit("nginx", 10), "nginx");
        assert_eq!(fit("日本語", 4), "日…");
    }
}
