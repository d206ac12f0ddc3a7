//! How the screen is drawn: the colours the terminal can show (from `TERM`, `COLORTERM` and
//! `NO_COLOR`), whether it may show characters beyond ASCII (from the locale, or `--ascii`),
//! and the palette asked for (`--theme`). Pure rules over the environment; the theme maps its
//! styles to what is decided here.

/// The colours a terminal can show, fewest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColorLevel {
    /// No colour at all (`TERM=dumb`, `NO_COLOR`, an unknown terminal): attributes only.
    None,
    /// The 16 ANSI colours (`xterm`, `vt100`, `linux`, `screen`).
    Ansi16,
    /// The 256-colour palette (`*-256color`, and terminals known to have it).
    Ansi256,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColor,
}

/// The palette the user picked with `--theme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Palette {
    /// Reads on dark and light backgrounds alike: the terminal's own foreground for text,
    /// colour only on accents.
    #[default]
    Auto,
    /// Brighter accents for a dark background.
    Dark,
    /// Darker accents for a light background.
    Light,
    /// No colour: reverse video, bold and underline only.
    Mono,
}

/// Everything that decides how the screen is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub colors: ColorLevel,
    pub palette: Palette,
    /// Draw nothing above 0x7F: ASCII borders, arrows and marks.
    pub ascii: bool,
}

impl Default for Look {
    /// What tests and a capable terminal get: 16 colours, the default palette, Unicode.
    fn default() -> Look {
        Look {
            colors: ColorLevel::Ansi16,
            palette: Palette::Auto,
            ascii: false,
        }
    }
}

impl Look {
    /// The look for this environment (`var` reads an environment variable), with the
    /// command line's palette and `--ascii`.
    pub fn detect(var: impl Fn(&str) -> Option<String>, palette: Palette, ascii: bool) -> Look {
        let no_color = var("NO_COLOR").is_some_and(|v| !v.is_empty());
        let colors = if no_color {
            ColorLevel::None
        } else {
            color_level(var("TERM").as_deref(), var("COLORTERM").as_deref())
        };
        Look {
            colors,
            palette,
            ascii: ascii || !locale_is_utf8(&var),
        }
    }

    /// No colour is drawn (no colour terminal, `NO_COLOR`, or `--theme mono`).
    pub fn monochrome(&self) -> bool {
        self.colors == ColorLevel::None || self.palette == Palette::Mono
    }
}

/// Terminal names (or their part before the first `-`) and the colours they have, for names
/// that do not say `256color` themselves (`screen.xterm-new` is a `screen`). An unknown terminal gets 16 colours when its name
/// says `color`, else none.
const TERMINALS: &[(&str, ColorLevel)] = &[
    ("dumb", ColorLevel::None),
    ("vt100", ColorLevel::Ansi16),
    ("vt102", ColorLevel::Ansi16),
    ("vt220", ColorLevel::Ansi16),
    ("ansi", ColorLevel::Ansi16),
    ("linux", ColorLevel::Ansi16),
    ("xterm", ColorLevel::Ansi16),
    ("screen", ColorLevel::Ansi16),
    ("tmux", ColorLevel::Ansi16),
    ("rxvt", ColorLevel::Ansi16),
    ("putty", ColorLevel::Ansi16),
    ("cygwin", ColorLevel::Ansi16),
    ("konsole", ColorLevel::Ansi16),
    ("gnome", ColorLevel::Ansi16),
    ("alacritty", ColorLevel::Ansi256),
    ("foot", ColorLevel::Ansi256),
    ("kitty", ColorLevel::Ansi256),
    ("xterm-kitty", ColorLevel::Ansi256),
    ("wezterm", ColorLevel::Ansi256),
    ("xterm-ghostty", ColorLevel::Ansi256),
    ("iterm2", ColorLevel::Ansi256),
];

/// The colours of terminal `term`; `COLORTERM=truecolor|24bit` raises a colour terminal to
/// 24-bit. An unset `TERM` is no terminal we know: no colour.
pub fn color_level(term: Option<&str>, colorterm: Option<&str>) -> ColorLevel {
    let term = term.unwrap_or("dumb").to_ascii_lowercase();
    let base = if term.ends_with("256color") || term.ends_with("-direct") {
        ColorLevel::Ansi256
    } else if let Some(&(_, level)) = TERMINALS.iter().find(|(name, _)| *name == term) {
        level
    } else if let Some(&(_, level)) = TERMINALS
        .iter()
        .find(|(name, _)| term.split(['-', '.']).next() == Some(name))
    {
        level
    } else if term.contains("color") {
        ColorLevel::Ansi16
    } else {
        ColorLevel::None
    };
    let truecolor = colorterm.is_some_and(|c| c == "truecolor" || c == "24bit");
    if base != ColorLevel::None && truecolor {
        ColorLevel::TrueColor
    } else {
        base
    }
}

/// The locale's character set is UTF-8: the first set of `LC_ALL`, `LC_CTYPE`, `LANG` (the
/// order setlocale reads them) names it. Unset, `C` and `POSIX` are ASCII.
pub fn locale_is_utf8(var: impl Fn(&str) -> Option<String>) -> bool {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| var(v).filter(|s| !s.is_empty()));
    locale.is_some_and(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("utf-8") || l.contains("utf8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn terminals_get_the_colours_they_have() {
        use ColorLevel::{Ansi16, Ansi256, TrueColor};
        let cases = [
            (None::<&str>, None::<&str>, ColorLevel::None),
            (Some("dumb"), Some("truecolor"), ColorLevel::None),
            (Some("vt100"), None, Ansi16),
            (Some("linux"), None, Ansi16),
            (Some("xterm"), None, Ansi16),
            (Some("screen.xterm-new"), None, Ansi16),
            (Some("xterm-color"), None, Ansi16),
            (Some("screen"), None, Ansi16),
            (Some("xterm-256color"), None, Ansi256),
            (Some("tmux-256color"), None, Ansi256),
            (Some("xterm-kitty"), None, Ansi256),
            (Some("xterm-256color"), Some("truecolor"), TrueColor),
            (Some("xterm"), Some("24bit"), TrueColor),
            (Some("xterm"), Some("yes"), Ansi16),
            (Some("some-unknown"), None, ColorLevel::None),
        ];
        for (term, colorterm, want) in cases {
            assert_eq!(color_level(term, colorterm), want, "{term:?} {colorterm:?}");
        }
    }

    #[test]
    fn the_locale_is_read_as_setlocale_does() {
        assert!(!locale_is_utf8(env(&[])));
        assert!(locale_is_utf8(env(&[("LANG", "en_US.UTF-8")])));
        assert!(locale_is_utf8(env(&[
            ("LANG", "C"),
            ("LC_CTYPE", "C.utf8")
        ])));
        assert!(!locale_is_utf8(env(&[
            ("LC_ALL", "C"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!locale_is_utf8(env(&[("LC_ALL", "POSIX")])));
        // An empty LC_ALL is unset.
        assert!(locale_is_utf8(env(&[
            ("LC_ALL", ""),
            ("LANG", "de_DE.utf8")
        ])));
    }

    #[test]
    fn no_color_and_ascii_win() {
        let utf8 = [("TERM", "xterm-256color"), ("LANG", "C.UTF-8")];
        let look = Look::detect(env(&utf8), Palette::Auto, false);
        assert_eq!((look.colors, look.ascii), (ColorLevel::Ansi256, false));
        assert!(Look::detect(env(&utf8), Palette::Auto, true).ascii);
        let no_color = [("TERM", "xterm-256color"), ("NO_COLOR", "1")];
        let look = Look::detect(env(&no_color), Palette::Dark, false);
        assert!(look.monochrome() && look.ascii);
        assert!(Look::detect(env(&utf8), Palette::Mono, false).monochrome());
    }
}
