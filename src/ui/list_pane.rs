//! A list pane drawn the one way the threads, diff, groups and goroutine views share: rows
//! fitted to the width, the title cut to it, the header styled, scrolled to the offset the
//! app keeps (so clicks and the drawing agree).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::TableState;

use super::fit::{self, Column, PieceRow};
use super::theme::Theme;

pub struct ListPane<'a> {
    pub columns: &'a [Column],
    pub rows: &'a [PieceRow],
    pub title: &'a str,
    pub focused: bool,
    /// The first row shown.
    pub offset: usize,
    pub selected: Option<usize>,
}

impl ListPane<'_> {
    pub fn draw(self, theme: &Theme, frame: &mut Frame, area: Rect) {
        let (header, body, widths) = fit::table(self.columns, self.rows, area.width, true);
        let title = fit::cut(self.title, area.width.into());
        let mut table = theme.pane_table(body, widths, title, self.focused);
        if let Some(h) = header {
            table = table.header(h.style(theme.header));
        }
        let mut state = TableState::new()
            .with_offset(self.offset)
            .with_selected(self.selected);
        frame.render_stateful_widget(table, area, &mut state);
    }
}
