//! The flame graph laid out in terminal cells: the zoomed frame on the top row across the whole
//! width, each row below its children (root at the top, as flamelens draws it), each frame a
//! run of cells as wide as its share of the samples; its label cut with the usual ellipsis,
//! its colour stable per name (warm on a CPU, cool off it) and meaningful without colour.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::fit;
use super::theme::{Theme, fit_color};
use crate::app::inspector::search::Pattern;
use crate::app::look::Look;
use crate::profile::FlameNode;

/// One frame on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell<'a> {
    pub node: &'a FlameNode,
    /// The first column and how many it takes (at least 1).
    pub x: u16,
    pub width: u16,
    /// On the selected path and at its end.
    pub selected: bool,
}

/// The rows of `top`'s graph at `width` columns, from row `skip` (0 is `top` itself), at
/// most `height` of them; `selected` is a path of names from `top`'s children down. A frame
/// narrower than a column is left out, and so is all under it.
pub fn layout<'a>(
    top: &'a FlameNode,
    selected: Option<&[String]>,
    width: u16,
    skip: usize,
    height: usize,
) -> Vec<Vec<Cell<'a>>> {
    let mut rows: Vec<Vec<Cell<'a>>> = vec![Vec::new(); height];
    if top.samples == 0 || width == 0 {
        return rows;
    }
    // (node, its first sample's position, depth, the selected path runs through it)
    let mut stack = vec![(top, 0u64, 0usize, selected)];
    let total = u128::from(top.samples);
    let col = |at: u64| (u128::from(at) * u128::from(width) / total) as u16;
    while let Some((node, start, depth, sel)) = stack.pop() {
        let (x, end) = (col(start), col(start + node.samples));
        if end <= x || depth >= skip + height {
            continue;
        }
        if depth >= skip {
            rows[depth - skip].push(Cell {
                node,
                x,
                width: end - x,
                selected: sel.is_some_and(<[String]>::is_empty),
            });
        }
        let mut at = start;
        for c in &node.children {
            let on_path = sel
                .and_then(|s| s.split_first())
                .filter(|(n, _)| **n == c.name);
            stack.push((c, at, depth + 1, on_path.map(|(_, rest)| rest)));
            at += c.samples;
        }
    }
    for r in &mut rows {
        r.sort_by_key(|c| c.x);
    }
    while rows.last().is_some_and(Vec::is_empty) {
        rows.pop();
    }
    rows
}

/// A small stable hash of a name (FNV-1a), to pick its shade.
fn hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A frame's style: a warm colour when most of its samples ran on a CPU, a cool one when
/// they waited, the shade picked by its name; without colour, on-CPU frames are drawn
/// reversed and off-CPU ones plain.
pub fn frame_style(node: &FlameNode, look: &Look) -> Style {
    let on_cpu = node.on_cpu * 2 >= node.samples && node.samples > 0;
    if look.monochrome() {
        return if on_cpu {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
    }
    let h = hash(&node.name);
    let v = (h % 64) as u8;
    let (named, rgb) = if on_cpu {
        const WARM: [Color; 4] = [
            Color::Red,
            Color::Yellow,
            Color::LightRed,
            Color::LightYellow,
        ];
        (
            WARM[(h >> 8) as usize % 4],
            Color::Rgb(205 + v / 2, 80 + v * 2, 40 + v / 2),
        )
    } else {
        const COOL: [Color; 4] = [Color::Blue, Color::Cyan, Color::LightBlue, Color::LightCyan];
        (
            COOL[(h >> 8) as usize % 4],
            Color::Rgb(60 + v, 110 + v, 200 + v / 2),
        )
    };
    let bg = match look.colors {
        super::theme::ColorLevel::Ansi16 => named,
        level => fit_color(rgb, level),
    };
    let fg = if bg == Color::Blue {
        Color::White
    } else {
        Color::Black
    };
    Style::new().bg(bg).fg(fg)
}

/// One row of cells as a line `width` columns wide: each frame's label cut to its width less
/// one column, which stays blank so neighbours are told apart in any colours; the selected
/// frame in the selection's style, frames matching `search` marked.
pub fn line(
    cells: &[Cell<'_>],
    width: u16,
    theme: &Theme,
    look: &Look,
    search: Option<&Pattern>,
) -> Line<'static> {
    let mut spans = Vec::new();
    let mut at = 0u16;
    for c in cells {
        if c.x > at {
            spans.push(Span::raw(" ".repeat(usize::from(c.x - at))));
        }
        let mut style = frame_style(c.node, look);
        if search.is_some_and(|p| p.matches(&c.node.name)) {
            style = style.patch(theme.search);
        }
        if c.selected {
            style = style
                .patch(theme.selected)
                .add_modifier(Modifier::UNDERLINED);
        }
        let w = usize::from(c.width);
        let label = if w == 1 {
            theme.glyphs().ellipsis.to_string()
        } else {
            let room = w - 1;
            let cut = fit::cut(&c.node.name, room);
            // ASCII glyphs keep the width: "~" for the ellipsis.
            let text = theme.glyphs().text(&cut);
            let pad = room.saturating_sub(fit::width(&text));
            format!("{text}{}", " ".repeat(pad))
        };
        spans.push(Span::styled(label, style));
        if w > 1 {
            spans.push(Span::raw(" "));
        }
        at = c.x + c.width;
    }
    if at < width {
        spans.push(Span::raw(" ".repeat(usize::from(width - at))));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, samples: u64, children: Vec<FlameNode>) -> FlameNode {
        FlameNode {
            name: name.into(),
            samples,
            on_cpu: samples,
            children,
        }
    }

    /// all(100) → main(100) → {work(60) → {spin(45)}, wait(30)}; 10 in main itself.
    fn tree() -> FlameNode {
        node(
            "all",
            100,
            vec![node(
                "main",
                100,
                vec![
                    node("work", 60, vec![node("spin", 45, vec![])]),
                    node("wait", 30, vec![]),
                ],
            )],
        )
    }

    fn cells(rows: &[Vec<Cell<'_>>]) -> Vec<Vec<(String, u16, u16, bool)>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|c| (c.node.name.clone(), c.x, c.width, c.selected))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn frames_take_their_share_of_the_width_from_the_left() {
        let t = tree();
        let sel = ["main".to_string(), "work".to_string()];
        let rows = layout(&t, Some(&sel), 80, 0, 10);
        let s = |n: &str, x, w, sel| (n.to_string(), x, w, sel);
        assert_eq!(
            cells(&rows),
            [
                vec![s("all", 0, 80, false)],
                vec![s("main", 0, 80, false)],
                vec![s("work", 0, 48, true), s("wait", 48, 24, false)],
                vec![s("spin", 0, 36, false)],
            ]
        );
        // Narrow: 3 columns; a frame's edges are its samples' columns, rounded down.
        let rows = layout(&t, None, 3, 0, 10);
        assert_eq!(
            cells(&rows),
            [
                vec![s("all", 0, 3, false)],
                vec![s("main", 0, 3, false)],
                vec![s("work", 0, 1, false), s("wait", 1, 1, false)],
                vec![s("spin", 0, 1, false)],
            ]
        );
        // Scrolled down two rows, one row high.
        let rows = layout(&t, None, 80, 2, 1);
        assert_eq!(
            cells(&rows),
            [vec![s("work", 0, 48, false), s("wait", 48, 24, false)]]
        );
    }

    #[test]
    fn a_zoomed_frame_fills_the_width() {
        let t = tree();
        let work = &t.children[0].children[0];
        let rows = layout(work, Some(&[]), 40, 0, 10);
        let got: Vec<Vec<(String, u16, u16, bool)>> = cells(&rows);
        assert_eq!(got[0], [("work".to_string(), 0, 40, true)]);
        assert_eq!(got[1], [("spin".to_string(), 0, 30, false)]);
    }

    #[test]
    fn labels_are_cut_with_an_ellipsis_and_a_blank_column_between_frames() {
        let t = tree();
        let rows = layout(&t, None, 10, 0, 10);
        let theme = Theme::mono();
        let look = Look::default();
        let text = |r: &[Cell<'_>]| -> String {
            line(r, 10, &theme, &look, None)
                .spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect()
        };
        assert_eq!(text(&rows[1]), "main      ");
        // work is 6 wide, wait 3: "work " and "wa…"? wait takes 3 columns: "w… ".
        assert_eq!(text(&rows[2]), "work  w…  ");
        // The search marks the matching frames.
        let p = Pattern::new("wa").unwrap();
        let l = line(&rows[2], 10, &theme, &look, Some(&p));
        let wait = l
            .spans
            .iter()
            .find(|s| s.content.starts_with('w') && s.content.contains('…'));
        assert!(wait.is_some_and(|s| s.style.add_modifier.contains(Modifier::UNDERLINED)));
    }

    #[test]
    fn colours_are_stable_per_name_and_say_on_or_off_cpu() {
        use super::super::theme::ColorLevel;
        let look = Look {
            colors: ColorLevel::Ansi16,
            ..Look::default()
        };
        let mut a = node("spin", 10, vec![]);
        assert_eq!(frame_style(&a, &look), frame_style(&a.clone(), &look));
        let warm = frame_style(&a, &look).bg;
        assert!(matches!(
            warm,
            Some(Color::Red | Color::Yellow | Color::LightRed | Color::LightYellow)
        ));
        a.on_cpu = 2;
        let cool = frame_style(&a, &look).bg;
        assert!(matches!(
            cool,
            Some(Color::Blue | Color::Cyan | Color::LightBlue | Color::LightCyan)
        ));
        // Without colour: reversed on a CPU, plain off it.
        let mono = Look {
            colors: ColorLevel::None,
            ..Look::default()
        };
        assert_eq!(frame_style(&a, &mono), Style::new());
        a.on_cpu = 10;
        assert!(
            frame_style(&a, &mono)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}
