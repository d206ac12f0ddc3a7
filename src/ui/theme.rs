//! Named styles and glyphs, fitted to the terminal in one place: the palette picked with
//! `--theme` (the default reads on dark and light backgrounds), its colours mapped down to what
//! the terminal shows (`TERM`, `COLORTERM`), monochrome for `NO_COLOR`, ASCII glyphs for a
//! locale that is not UTF-8 (or `--ascii`).

use std::borrow::Cow;

use ratatui::layout::Constraint;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Row, Table};

pub use crate::app::look::{ColorLevel, Look, Palette};

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
    /// A Python frame's symbol and place, apart from the native frames around it (the `[py]`
    /// before its name says it without colour).
    pub python: Style,
    glyphs: Glyphs,
}

/// The characters drawn for marks, arrows and borders: Unicode, or ASCII of the same width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    /// Marks a cut: `…`, or `~`.
    pub ellipsis: &'static str,
    pub arrow_right: &'static str,
    pub arrow_left: &'static str,
    pub sort_up: &'static str,
    pub sort_down: &'static str,
    /// A text prompt's cursor.
    pub cursor: &'static str,
    /// Between the status line's parts.
    pub separator: &'static str,
    pub border: border::Set<'static>,
    ascii: bool,
}

impl Glyphs {
    pub const UNICODE: Glyphs = Glyphs {
        ellipsis: "\u{2026}",
        arrow_right: "\u{2192}",
        arrow_left: "\u{2190}",
        sort_up: "\u{25b2}",
        sort_down: "\u{25bc}",
        cursor: "\u{2588}",
        separator: "\u{b7}",
        border: border::PLAIN,
        ascii: false,
    };

    pub const ASCII: Glyphs = Glyphs {
        ellipsis: "~",
        arrow_right: ">",
        arrow_left: "<",
        sort_up: "^",
        sort_down: "v",
        cursor: "_",
        separator: ".",
        border: border::Set {
            top_left: "+",
            top_right: "+",
            bottom_left: "+",
            bottom_right: "+",
            vertical_left: "|",
            vertical_right: "|",
            horizontal_top: "-",
            horizontal_bottom: "-",
        },
        ascii: true,
    };

    /// Only ASCII is drawn.
    pub fn ascii(&self) -> bool {
        self.ascii
    }

    /// `s` as this terminal can draw it: unchanged, or each character beyond ASCII replaced
    /// by ASCII of the same width (so columns line up as laid out).
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if !self.ascii || s.is_ascii() {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            let mut buf = [0; 4];
            out.push_str(&ascii_cell(c.encode_utf8(&mut buf), 1));
        }
        Cow::Owned(out)
    }
}

/// The ASCII drawn for one screen cell's `symbol` that is `width` columns wide: a look-alike
/// for box lines, arrows and marks, `?` for anything else, repeated to fill `width`.
pub fn ascii_cell(symbol: &str, width: usize) -> Cow<'_, str> {
    if symbol.is_ascii() {
        return Cow::Borrowed(symbol);
    }
    let c = match symbol.chars().next().unwrap_or('?') {
        '\u{2500}' | '\u{2501}' | '\u{2504}' | '\u{2505}' | '\u{254c}' | '\u{254d}' => '-',
        '\u{2550}' => '=',
        '\u{2502}' | '\u{2503}' | '\u{2506}' | '\u{2507}' | '\u{254e}' | '\u{254f}'
        | '\u{2551}' => '|',
        '\u{250c}'..='\u{254b}' | '\u{2552}'..='\u{2570}' => '+',
        '\u{2026}' => '~',
        '\u{2192}' | '\u{25b6}' | '\u{25ba}' | '\u{2265}' | '\u{bb}' => '>',
        '\u{2190}' | '\u{25c0}' | '\u{25c4}' | '\u{2264}' | '\u{ab}' => '<',
        '\u{2191}' | '\u{25b2}' => '^',
        '\u{2193}' | '\u{25bc}' => 'v',
        '\u{b7}' => '.',
        '\u{2022}' => '*',
        '\u{27f2}' => '@',
        '\u{2588}' | '\u{2589}'..='\u{258f}' => '#',
        _ => '?',
    };
    Cow::Owned(c.to_string().repeat(width.max(1)))
}

impl Theme {
    /// The theme for `look`: its palette with colours the terminal shows, or monochrome.
    pub fn new(look: &Look) -> Theme {
        let glyphs = if look.ascii {
            Glyphs::ASCII
        } else {
            Glyphs::UNICODE
        };
        let theme = match look.palette {
            _ if look.monochrome() => Theme::mono(),
            Palette::Auto | Palette::Mono => Theme::auto(),
            Palette::Dark => Theme::dark(),
            Palette::Light => Theme::light(),
        };
        Theme {
            glyphs,
            ..theme.fit(look.colors)
        }
    }

    /// The glyphs this terminal draws.
    pub fn glyphs(&self) -> &Glyphs {
        &self.glyphs
    }

    /// The default: text in the terminal's own foreground (bold or dim, never colour 8, which
    /// is the background of Solarized Dark), colour on accents that read on dark and light
    /// backgrounds, selection on its own background.
    pub fn auto() -> Theme {
        Theme {
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            header: Style::new().add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().add_modifier(Modifier::REVERSED),
            border: Style::new(),
            border_focused: Style::new().fg(Color::Cyan),
            dim: Style::new().add_modifier(Modifier::DIM),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            exited: Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT),
            key: Style::new().fg(Color::Black).bg(Color::Cyan),
            busy: Style::new().fg(Color::Green),
            search: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::UNDERLINED),
            python: Style::new().fg(Color::Magenta),
            glyphs: Glyphs::UNICODE,
        }
    }

    /// Brighter accents for a dark background; greys from the 256-colour palette where the
    /// terminal has it (light grey on 16 colours). The unfocused selection stays reverse
    /// video: a dark grey bar maps to black on 16 colours, which a dark background hides.
    pub fn dark() -> Theme {
        Theme {
            title: Style::new()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
            header: Style::new()
                .fg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            border: Style::new().fg(Color::Indexed(246)),
            border_focused: Style::new().fg(Color::LightCyan),
            dim: Style::new().fg(Color::Indexed(248)),
            error: Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            key: Style::new().fg(Color::Black).bg(Color::LightCyan),
            busy: Style::new().fg(Color::LightGreen),
            python: Style::new().fg(Color::LightMagenta),
            ..Theme::auto()
        }
    }

    /// Darker accents for a light background.
    pub fn light() -> Theme {
        Theme {
            title: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            header: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().bg(Color::Indexed(252)).fg(Color::Black),
            border: Style::new().fg(Color::Indexed(244)),
            border_focused: Style::new().fg(Color::Blue),
            dim: Style::new().fg(Color::Indexed(240)),
            key: Style::new().fg(Color::White).bg(Color::Blue),
            ..Theme::auto()
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
            python: Style::new().add_modifier(Modifier::ITALIC),
            glyphs: Glyphs::UNICODE,
        }
    }

    /// Every colour of the theme mapped to the nearest one the terminal shows.
    fn fit(self, level: ColorLevel) -> Theme {
        let f = |s: Style| Style {
            fg: s.fg.map(|c| fit_color(c, level)),
            bg: s.bg.map(|c| fit_color(c, level)),
            ..s
        };
        Theme {
            title: f(self.title),
            header: f(self.header),
            selected: f(self.selected),
            selected_unfocused: f(self.selected_unfocused),
            border: f(self.border),
            border_focused: f(self.border_focused),
            dim: f(self.dim),
            error: f(self.error),
            exited: f(self.exited),
            key: f(self.key),
            busy: f(self.busy),
            search: f(self.search),
            python: f(self.python),
            glyphs: self.glyphs,
        }
    }
}

/// The 16 ANSI colours in the order of their codes, with xterm's default values.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The value of a 256-palette index beyond the 16 ANSI colours (the 6x6x6 cube, then the
/// grey ramp).
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let n = i - 16;
            (level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// The nearest 256-palette index to a 24-bit colour (the cube or the grey ramp).
fn nearest_indexed(rgb: (u8, u8, u8)) -> u8 {
    (16..=255u8)
        .min_by_key(|&i| distance(indexed_rgb(i), rgb))
        .unwrap_or(16)
}

/// The nearest of the 16 ANSI colours; a grey stays a grey (black, 7 or white: by distance
/// alone a mid grey is nearest light blue). Colour 8 is left out: it is the background of
/// Solarized Dark, so a grey mapped to it would vanish there.
fn nearest_ansi16(rgb: (u8, u8, u8)) -> Color {
    let (r, g, b) = rgb;
    let grey = r.max(g).max(b) - r.min(g).min(b) < 16;
    ANSI16
        .iter()
        .filter(|(c, _)| *c != Color::DarkGray)
        .filter(|(c, _)| !grey || matches!(c, Color::Black | Color::Gray | Color::White))
        .min_by_key(|(_, v)| distance(*v, rgb))
        .map_or(Color::Reset, |(c, _)| *c)
}

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs().pow(2);
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

/// `c` as a terminal of `level` shows it: named colours stay, a palette index or 24-bit
/// value becomes the nearest colour the terminal has.
pub fn fit_color(c: Color, level: ColorLevel) -> Color {
    match (level, c) {
        (ColorLevel::None, _) => Color::Reset,
        (ColorLevel::TrueColor, _) => c,
        (ColorLevel::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_indexed((r, g, b))),
        (ColorLevel::Ansi16, Color::Indexed(i)) if i < 16 => ANSI16[usize::from(i)].0,
        (ColorLevel::Ansi16, Color::Indexed(i)) => nearest_ansi16(indexed_rgb(i)),
        (ColorLevel::Ansi16, Color::Rgb(r, g, b)) => nearest_ansi16((r, g, b)),
        _ => c,
    }
}

impl Theme {
    /// The block of a pane: a top border with the title, brighter when the pane has focus.
    pub fn pane<'a>(&self, title: impl Into<String>, focused: bool) -> Block<'a> {
        Block::new()
            .borders(Borders::TOP)
            .border_set(self.glyphs.border)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_map_down_to_the_terminal() {
        use ColorLevel::{Ansi16, Ansi256, TrueColor};
        assert_eq!(fit_color(Color::Indexed(246), Ansi16), Color::Gray);
        assert_eq!(fit_color(Color::Indexed(244), Ansi16), Color::Gray);
        assert_eq!(fit_color(Color::Indexed(240), Ansi16), Color::Black);
        assert_eq!(fit_color(Color::Indexed(252), Ansi16), Color::Gray);
        assert_eq!(fit_color(Color::Indexed(9), Ansi16), Color::LightRed);
        assert_eq!(fit_color(Color::Rgb(250, 0, 0), Ansi16), Color::LightRed);
        assert_eq!(
            fit_color(Color::Rgb(255, 0, 0), Ansi256),
            Color::Indexed(196)
        );
        assert_eq!(
            fit_color(Color::Rgb(128, 128, 128), Ansi256),
            Color::Indexed(244)
        );
        assert_eq!(fit_color(Color::Indexed(246), Ansi256), Color::Indexed(246));
        assert_eq!(
            fit_color(Color::Rgb(1, 2, 3), TrueColor),
            Color::Rgb(1, 2, 3)
        );
        assert_eq!(fit_color(Color::Cyan, ColorLevel::None), Color::Reset);
    }

    /// Every style of every palette at every level: no palette index on a 16-colour terminal,
    /// no colour at all without colour, and never colour 8 for text in the default palette.
    #[test]
    fn every_theme_fits_every_terminal() {
        let styles = |t: &Theme| {
            [
                t.title,
                t.header,
                t.selected,
                t.selected_unfocused,
                t.border,
                t.border_focused,
                t.dim,
                t.error,
                t.exited,
                t.key,
                t.busy,
                t.python,
            ]
        };
        for palette in [Palette::Auto, Palette::Dark, Palette::Light, Palette::Mono] {
            for colors in [ColorLevel::None, ColorLevel::Ansi16, ColorLevel::Ansi256] {
                let look = Look {
                    colors,
                    palette,
                    ascii: false,
                };
                for s in styles(&Theme::new(&look)) {
                    for c in [s.fg, s.bg].into_iter().flatten() {
                        let mono = colors == ColorLevel::None || palette == Palette::Mono;
                        assert!(!mono || c == Color::Reset, "{look:?} {s:?}");
                        let indexed = matches!(c, Color::Indexed(_) | Color::Rgb(..));
                        assert!(colors == ColorLevel::Ansi256 || !indexed, "{look:?} {s:?}");
                        assert_ne!(c, Color::DarkGray, "{look:?} {s:?}");
                    }
                }
            }
        }
        for s in styles(&Theme::auto()) {
            assert_ne!(s.fg, Some(Color::DarkGray));
            assert_ne!(s.fg, Some(Color::Yellow));
        }
    }

    #[test]
    fn ascii_glyphs_keep_the_width() {
        let g = Glyphs::ASCII;
        assert_eq!(
            g.text("k/\u{2191} \u{2026} a\u{2192}b \u{e9}"),
            "k/^ ~ a>b ?"
        );
        assert_eq!(Glyphs::UNICODE.text("a\u{2192}b"), "a\u{2192}b");
        assert_eq!(ascii_cell("\u{2500}", 1), "-");
        assert_eq!(ascii_cell("\u{4e2d}", 2), "??");
        assert_eq!(ascii_cell("x", 1), "x");
        let b = g.border;
        for s in [b.top_left, b.horizontal_top, b.vertical_left] {
            assert!(s.is_ascii());
        }
    }
}
