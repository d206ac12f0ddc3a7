//! The inspector's terminal backend: crossterm's, except that cells are drawn with SGR codes
//! a 16-colour terminal understands (crossterm writes `38;5;N` even for the 16 ANSI colours,
//! which `vt100`, `linux` and plain `xterm` do not), and, in ASCII mode, with nothing above
//! 0x7F: the last guard for text from the target and glyphs the theme does not know.

use std::fmt::Write as _;
use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::crossterm::cursor::MoveTo;
use ratatui::crossterm::queue;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use unicode_width::UnicodeWidthStr;

use crate::ui::theme::ascii_cell;

/// Crossterm's backend with our own cell drawing.
pub struct SgrBackend<W: Write> {
    inner: CrosstermBackend<W>,
    ascii: bool,
}

impl<W: Write> SgrBackend<W> {
    pub fn new(writer: W, ascii: bool) -> SgrBackend<W> {
        SgrBackend {
            inner: CrosstermBackend::new(writer),
            ascii,
        }
    }
}

/// The SGR parameters that set exactly this style from any other: a reset, the attributes,
/// then the colours (30-37 and 90-97 for the 16 ANSI colours, 38;5 and 38;2 only for palette
/// and 24-bit colours, which the theme uses only where the terminal has them).
pub fn sgr(fg: Color, bg: Color, modifier: Modifier) -> String {
    let mut s = String::from("0");
    for (m, code) in [
        (Modifier::BOLD, 1),
        (Modifier::DIM, 2),
        (Modifier::ITALIC, 3),
        (Modifier::UNDERLINED, 4),
        (Modifier::SLOW_BLINK, 5),
        (Modifier::RAPID_BLINK, 6),
        (Modifier::REVERSED, 7),
        (Modifier::HIDDEN, 8),
        (Modifier::CROSSED_OUT, 9),
    ] {
        if modifier.contains(m) {
            let _ = write!(s, ";{code}");
        }
    }
    color_sgr(&mut s, fg, 30);
    color_sgr(&mut s, bg, 40);
    s
}

/// Appends the parameters of colour `c`; `base` is 30 for the foreground, 40 for the background.
fn color_sgr(s: &mut String, c: Color, base: u8) {
    let ansi = |i: u8| if i < 8 { base + i } else { base + 60 + i - 8 };
    let code = match c {
        Color::Reset => return,
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Indexed(i) => {
            let _ = write!(s, ";{};5;{i}", base + 8);
            return;
        }
        Color::Rgb(r, g, b) => {
            let _ = write!(s, ";{};2;{r};{g};{b}", base + 8);
            return;
        }
    };
    let _ = write!(s, ";{code}");
}

impl<W: Write> Backend for SgrBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let w = &mut self.inner;
        let mut style = None;
        let mut last: Option<(u16, u16)> = None;
        for (x, y, cell) in content {
            if !matches!(last, Some((lx, ly)) if x == lx + 1 && y == ly) {
                queue!(w, MoveTo(x, y))?;
            }
            last = Some((x, y));
            let now = (cell.fg, cell.bg, cell.modifier);
            if style != Some(now) {
                write!(w, "\x1b[{}m", sgr(cell.fg, cell.bg, cell.modifier))?;
                style = Some(now);
            }
            let symbol = cell.symbol();
            if self.ascii && !symbol.is_ascii() {
                w.write_all(ascii_cell(symbol, symbol.width()).as_bytes())?;
            } else {
                w.write_all(symbol.as_bytes())?;
            }
        }
        w.write_all(b"\x1b[0m")
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::text::Span;

    #[test]
    fn ansi_colours_use_their_own_codes() {
        let m = Modifier::BOLD | Modifier::REVERSED;
        assert_eq!(sgr(Color::Cyan, Color::Reset, m), "0;1;7;36");
        assert_eq!(sgr(Color::White, Color::Blue, Modifier::empty()), "0;97;44");
        assert_eq!(
            sgr(Color::DarkGray, Color::LightCyan, Modifier::DIM),
            "0;2;90;106"
        );
        assert_eq!(
            sgr(Color::Indexed(246), Color::Reset, Modifier::empty()),
            "0;38;5;246"
        );
        assert_eq!(
            sgr(Color::Reset, Color::Rgb(1, 2, 3), Modifier::empty()),
            "0;48;2;1;2;3"
        );
    }

    /// What a frame writes to the terminal: 16-colour codes, and only ASCII in ASCII mode
    /// with a wide character filling its two columns.
    #[test]
    fn a_frame_in_ascii_is_ascii() {
        let mut out = Vec::new();
        {
            let mut t = Terminal::with_options(
                SgrBackend::new(&mut out, true),
                ratatui::TerminalOptions {
                    viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 8, 1)),
                },
            )
            .unwrap();
            t.draw(|f| {
                let s = Span::styled(
                    "a\u{2192}\u{4e2d}\u{2026}",
                    ratatui::style::Style::new().fg(Color::Red),
                );
                f.render_widget(s, f.area());
            })
            .unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.is_ascii(), "{text:?}");
        // The wide character's second column is skipped: the cursor moves past it.
        assert!(text.contains("\x1b[0;31ma>??\x1b[1;5H~"), "{text:?}");
        assert!(!text.contains("38;5"), "{text:?}");
    }
}
