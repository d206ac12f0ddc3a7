//! Named styles. With `NO_COLOR` set the monochrome theme marks selection and focus with
//! REVERSED and BOLD only.

use ratatui::layout::Constraint;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Row, Table};

/// The styles every pane draws with.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub title: Style,
    pub header: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub border: Style,
    pub border_focused: Style,
    pub dim: Style,
    pub error: Style,
    pub exited: Style,
    pub key: Style,
    pub busy: Style,
    /// A search match inside a cell (underlined too, so it shows in the selected row).
    pub search: Style,
}

impl Theme {
    pub fn color() -> Theme {
        Theme {
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            header: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().bg(Color::DarkGray).fg(Color::White),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            dim: Style::new().fg(Color::DarkGray),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            exited: Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::CROSSED_OUT),
            key: Style::new().fg(Color::Black).bg(Color::Cyan),
            busy: Style::new().fg(Color::Green),
            search: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::UNDERLINED),
        }
    }

    pub fn mono() -> Theme {
        Theme {
            title: Style::new().add_modifier(Modifier::BOLD),
            header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            selected_unfocused: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new(),
            border_focused: Style::new().add_modifier(Modifier::BOLD),
            dim: Style::new().add_modifier(Modifier::DIM),
            error: Style::new().add_modifier(Modifier::BOLD),
            exited: Style::new().add_modifier(Modifier::CROSSED_OUT),
            key: Style::new().add_modifier(Modifier::REVERSED),
            busy: Style::new().add_modifier(Modifier::BOLD),
            search: Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
        }
    }

    pub fn for_no_color(no_color: bool) -> Theme {
        if no_color {
            Theme::mono()
        } else {
            Theme::color()
        }
    }
}

impl Theme {
    /// The block of a pane: a top border with the title, brighter when the pane has focus.
    pub fn pane<'a>(&self, title: impl Into<String>, focused: bool) -> Block<'a> {
        Block::new()
            .borders(Borders::TOP)
            .border_style(if focused {
                self.border_focused
            } else {
                self.border
            })
            .title(Line::styled(title.into(), self.title))
    }

    /// The style of the selected row of a pane.
    pub fn highlight(&self, focused: bool) -> Style {
        if focused {
            self.selected
        } else {
            self.selected_unfocused
        }
    }

    /// A pane's table: its block with `title`, the selected row styled as focus says, one
    /// column of space between cells.
    pub fn pane_table<'a>(
        &self,
        rows: impl IntoIterator<Item = Row<'a>>,
        widths: impl IntoIterator<Item = Constraint>,
        title: impl Into<String>,
        focused: bool,
    ) -> Table<'a> {
        Table::new(rows, widths)
            .block(self.pane(title, focused))
            .row_highlight_style(self.highlight(focused))
            .column_spacing(1)
    }
}
