//! Width-aware cutting: text is fitted to terminal columns (Unicode width) and every cut is
//! marked with an ellipsis, so a cut value never passes for a whole one. Whole cells (numbers,
//! ids, durations with their unit, `file:line`) are never cut: a table or line drops or
//! narrows other columns first, lowest priority first, as htop does.

use std::borrow::Cow;
use std::ops::Range;

use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// What marks a cut; the one place to swap it (an ASCII fallback, say).
pub fn ellipsis() -> &'static str {
    "…"
}

/// Terminal columns `s` takes (the text is inert: no control characters).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `s` in at most `max` columns: whole when it fits, else its head and an ellipsis.
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    let mark = ellipsis();
    let room = max.saturating_sub(width(mark));
    if max < width(mark) {
        return Cow::Owned(" ".repeat(max));
    }
    let mut out = String::with_capacity(max + mark.len());
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    // A cut inside a word with a digit in it (an id, an address, a line number) takes the
    // whole word: "held by 29087" is never shown as "held by 290…".
    let alnum = |c: &char| c.is_ascii_alphanumeric();
    let next = s[out.len()..].chars().next();
    if next.is_some_and(|c| alnum(&c)) && out.chars().next_back().is_some_and(|c| alnum(&c)) {
        let start = out
            .char_indices()
            .rev()
            .find(|(_, c)| !alnum(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let rest = s[out.len()..].chars().take_while(alnum);
        if out[start..].chars().chain(rest).any(|c| c.is_ascii_digit()) {
            out.truncate(start);
        }
    }
    out.push_str(mark);
    Cow::Owned(out)
}

/// Like [`cut`], for prose (a message): the cut goes back to the end of the last whole word
/// when that keeps at least two thirds of the room.
pub fn cut_words(s: &str, max: usize) -> Cow<'_, str> {
    let cut_at = cut(s, max);
    let Some(head) = cut_at.strip_suffix(ellipsis()) else {
        return cut_at;
    };
    match head.rfind(' ') {
        Some(i) if width(&head[..i]) * 3 >= max * 2 => {
            Cow::Owned(format!("{}{}", head[..i].trim_end(), ellipsis()))
        }
        _ => cut_at,
    }
}

/// `s` scrolled `skip` columns to the left, in at most `max` columns: an ellipsis marks each
/// side that is cut. It scrolls no further than shows its end, so every tail can be reached.
pub fn window(s: &str, skip: usize, max: usize) -> Cow<'_, str> {
    let (lead, start, room) = window_start(s, skip, max);
    if !lead {
        return cut(s, max);
    }
    let mut out = ellipsis().to_string();
    out.push_str(&cut(&s[start..], room));
    Cow::Owned(out)
}

/// Where [`window`] starts `s`: whether an ellipsis leads, the byte the rest starts at, and
/// the columns left for it.
fn window_start(s: &str, skip: usize, max: usize) -> (bool, usize, usize) {
    let total = width(s);
    let mark = width(ellipsis());
    if skip == 0 || total <= max || max <= mark {
        return (false, 0, max);
    }
    let skip = skip.min(total - (max - mark));
    let mut dropped = 0;
    let start = s
        .char_indices()
        .find(|&(_, c)| {
            if dropped >= skip {
                return true;
            }
            dropped += char_width(c);
            false
        })
        .map_or(s.len(), |(i, _)| i);
    (true, start, max - mark)
}

/// `s` in lines of at most `max` columns, never cut: read one after the other they are `s`.
/// A line ends before a space when one is in its second half (`, ` in a C++ name), else where
/// the room does; so no line ends with a space, and the next starts with it.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > max {
            // Carry the part from the last space in the line's second half over.
            let split = line
                .char_indices()
                .filter(|&(_, c)| c == ' ')
                .map(|(i, _)| i)
                .next_back()
                .filter(|&i| width(&line[..i]) * 2 >= max);
            let carried = split.map(|i| line.split_off(i)).unwrap_or_default();
            lines.push(std::mem::replace(&mut line, carried));
            used = width(&line);
        }
        used += w;
        line.push(c);
    }
    lines.push(line);
    lines
}

/// How much of the room an item (a column, a part of a line) wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// Narrower than this it is dropped instead.
    pub min: usize,
    /// What shows it all (or all that is worth showing).
    pub need: usize,
    /// Dropped in order of priority, lowest first (the last of equals first).
    pub priority: u8,
    /// Share of the room left once every item has its need (0: none).
    pub fill: u16,
}

/// The width of each item in `avail` columns with `spacing` between shown items, `None` for the
/// dropped. Items are dropped, lowest priority first, until the rest fit at their minimum; the
/// room left goes to them up to their need, highest priority first, then to the fill items.
pub fn allocate(avail: usize, spacing: usize, wants: &[Want]) -> Vec<Option<usize>> {
    let mut wants = wants.to_vec();
    let mut shown: Vec<bool> = vec![true; wants.len()];
    let total_min = |wants: &[Want], shown: &[bool]| {
        let n = shown.iter().filter(|s| **s).count();
        let mins: usize = wants
            .iter()
            .zip(shown)
            .filter(|(_, s)| **s)
            .map(|(w, _)| w.min)
            .sum();
        mins + spacing * n.saturating_sub(1)
    };
    // A fill item (the symbol, the command) outlasts every item of lower priority; past that
    // it is narrowed before an item of higher priority (the frame's number) goes.
    let fill_priority = wants
        .iter()
        .filter(|w| w.fill > 0)
        .map(|w| w.priority)
        .max();
    while total_min(&wants, &shown) > avail && shown.iter().filter(|s| **s).count() > 1 {
        let lowest = |spare_fills: bool| {
            (0..wants.len())
                .filter(|&i| shown[i])
                .filter(|&i| {
                    !spare_fills || wants[i].fill == 0 && Some(wants[i].priority) < fill_priority
                })
                .min_by_key(|&i| (wants[i].priority, std::cmp::Reverse(i)))
        };
        if let Some(i) = lowest(true) {
            shown[i] = false;
            continue;
        }
        let fills: Vec<usize> = (0..wants.len())
            .filter(|&i| shown[i] && wants[i].fill > 0)
            .collect();
        let others = total_min(&wants, &shown) - fills.iter().map(|&i| wants[i].min).sum::<usize>();
        if !fills.is_empty() && others + fills.len() <= avail {
            let share = (avail - others) / fills.len();
            for &i in &fills {
                wants[i].min = wants[i].min.min(share);
            }
            continue;
        }
        let i = lowest(false).expect("more than one shown");
        shown[i] = false;
    }
    let mut widths: Vec<Option<usize>> = wants
        .iter()
        .zip(&shown)
        .map(|(w, s)| s.then_some(w.min))
        .collect();
    let mut left = avail.saturating_sub(total_min(&wants, &shown));
    if shown.iter().filter(|s| **s).count() == 1 {
        // One item left that does not fit: it takes what there is (and is cut).
        if let Some(w) = widths.iter_mut().flatten().next() {
            *w = (*w).min(avail);
        }
    }
    let mut order: Vec<usize> = (0..wants.len()).filter(|&i| shown[i]).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(wants[i].priority));
    for &i in &order {
        let w = widths[i].as_mut().expect("shown");
        let more = wants[i].need.saturating_sub(*w).min(left);
        *w += more;
        left -= more;
    }
    let weights: usize = order.iter().map(|&i| usize::from(wants[i].fill)).sum();
    if weights > 0 && left > 0 {
        let mut given = 0;
        let fills: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| wants[i].fill > 0)
            .collect();
        for (n, &i) in fills.iter().enumerate() {
            let share = if n + 1 == fills.len() {
                left - given
            } else {
                left * usize::from(wants[i].fill) / weights
            };
            given += share;
            *widths[i].as_mut().expect("shown") += share;
        }
    }
    widths
}

/// A cell of a fitted table or line: whole (never cut) or text (cut with an ellipsis).
#[derive(Debug, Clone, Default)]
pub struct Piece {
    pub text: String,
    pub whole: bool,
    pub style: Style,
    /// Columns scrolled off the left (text only).
    pub skip: usize,
    /// Byte ranges of `text` drawn in `mark_style` (search matches), wherever cutting leaves
    /// them, in part or whole.
    pub marks: Vec<Range<usize>>,
    pub mark_style: Style,
    /// Prose: cut after a whole word when one is near the edge.
    pub words: bool,
}

impl Piece {
    /// A value that is never cut: a number, an id, a duration with its unit, `file:line`.
    pub fn whole(text: impl Into<String>) -> Piece {
        Piece {
            text: text.into(),
            whole: true,
            ..Piece::default()
        }
    }

    /// Text that may be cut: a name, a symbol, a path, a message.
    pub fn text(text: impl Into<String>) -> Piece {
        Piece {
            text: text.into(),
            ..Piece::default()
        }
    }

    /// A message: text cut after a whole word when one ends near the edge.
    pub fn prose(text: impl Into<String>) -> Piece {
        Piece {
            words: true,
            ..Piece::text(text)
        }
    }

    pub fn style(mut self, style: Style) -> Piece {
        self.style = style;
        self
    }

    pub fn scrolled(mut self, skip: usize) -> Piece {
        self.skip = skip;
        self
    }

    /// `ranges` of the text (byte ranges on char boundaries) are drawn in `style`.
    pub fn marked(mut self, ranges: Vec<Range<usize>>, style: Style) -> Piece {
        self.marks = ranges;
        self.mark_style = style;
        self
    }

    /// The text in `max` columns.
    pub fn fitted(&self, max: usize) -> Cow<'_, str> {
        if self.words {
            cut_words(&self.text, max)
        } else {
            window(&self.text, self.skip, max)
        }
    }

    /// The text in `max` columns as spans: its marks kept where the cut leaves them (the
    /// part of a match an ellipsis replaced is not drawn, the rest of it is).
    pub fn spans(&self, max: usize) -> Vec<Span<'static>> {
        if self.marks.is_empty() {
            return vec![Span::styled(self.fitted(max).into_owned(), self.style)];
        }
        let View {
            lead,
            shown,
            tail,
            blank,
        } = self.view(max);
        let mut spans = Vec::new();
        if lead {
            spans.push(Span::styled(ellipsis(), self.style));
        }
        let mut at = shown.start;
        for r in &self.marks {
            let (start, end) = (r.start.max(shown.start), r.end.min(shown.end));
            if start >= end {
                continue;
            }
            if start > at {
                spans.push(Span::styled(self.text[at..start].to_string(), self.style));
            }
            spans.push(Span::styled(
                self.text[start..end].to_string(),
                self.style.patch(self.mark_style),
            ));
            at = end;
        }
        if shown.end > at {
            spans.push(Span::styled(
                self.text[at..shown.end].to_string(),
                self.style,
            ));
        }
        if tail {
            spans.push(Span::styled(ellipsis(), self.style));
        }
        if blank > 0 {
            spans.push(Span::styled(" ".repeat(blank), self.style));
        }
        spans
    }
}

/// What [`Piece::fitted`] shows of a text: an ellipsis before, a byte range of the text, an
/// ellipsis after, and blank columns (a room narrower than the ellipsis).
struct View {
    lead: bool,
    shown: Range<usize>,
    tail: bool,
    blank: usize,
}

impl Piece {
    /// The fitted text as a [`View`] of the text, so marks on it can be placed in it: it is
    /// made by the same cuts as [`Piece::fitted`], so the two always read the same.
    fn view(&self, max: usize) -> View {
        let s = self.text.as_str();
        let (lead, start, room) = if self.words {
            (false, 0, max)
        } else {
            window_start(s, self.skip, max)
        };
        let rest = &s[start..];
        let fitted = if self.words {
            cut_words(rest, room)
        } else {
            cut(rest, room)
        };
        let (shown, tail, blank) = if fitted == rest {
            (start..s.len(), false, 0)
        } else if let Some(head) = fitted
            .strip_suffix(ellipsis())
            .filter(|h| rest.starts_with(h))
        {
            (start..start + head.len(), true, 0)
        } else {
            (start..start, false, width(&fitted))
        };
        View {
            lead,
            shown,
            tail,
            blank,
        }
    }
}

/// A column of a fitted table.
#[derive(Debug, Clone)]
pub struct Column {
    pub title: Cow<'static, str>,
    pub priority: u8,
    /// The most it takes (unless a whole cell is wider) before the fill columns grow; text
    /// wider than its column is cut.
    pub width: usize,
    /// The narrowest its text may be cut to before the column is dropped.
    pub min: usize,
    /// Share of the room left over (0: none).
    pub fill: u16,
}

impl Column {
    pub const fn new(title: &'static str, priority: u8, width: usize) -> Column {
        Column {
            title: Cow::Borrowed(title),
            priority,
            width,
            min: width,
            fill: 0,
        }
    }

    /// The same column under another title (a sort arrow added, say).
    pub fn titled(mut self, title: String) -> Column {
        self.title = Cow::Owned(title);
        self
    }

    /// Text in it may be cut down to `min` columns.
    pub const fn min(mut self, min: usize) -> Column {
        self.min = min;
        self
    }

    /// It takes a `weight` share of the room left over.
    pub const fn fill(mut self, weight: u16) -> Column {
        self.fill = weight;
        self
    }
}

/// One table row: its pieces (one a column) and its style.
pub type PieceRow = (Vec<Piece>, Style);

/// The width of each column of [`table`], `None` for a dropped (or empty) one.
pub fn widths(
    columns: &[Column],
    rows: &[PieceRow],
    avail: u16,
    header: bool,
) -> Vec<Option<usize>> {
    let wants: Vec<Option<Want>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cells = rows.iter().filter_map(|(r, _)| r.get(i));
            let (mut whole, mut text) = (0, 0);
            for p in cells {
                let w = width(&p.text);
                if p.whole {
                    whole = whole.max(w);
                } else {
                    text = text.max(w);
                }
            }
            let title = if header { width(&c.title) } else { 0 };
            if whole.max(text).max(title) == 0 {
                return None;
            }
            // A column of values keeps its title whole too (a sort arrow beside `S`, say).
            let min = if text == 0 {
                whole.max(title)
            } else {
                whole.max(c.min.min(text.max(title)))
            };
            // Text columns are as wide as their text (up to their width); columns of values
            // keep their width, so ids line up from one refresh to the next.
            let need = if text > 0 {
                min.max(c.width.min(whole.max(text).max(title)))
            } else {
                min.max(c.width)
            };
            Some(Want {
                min,
                need,
                priority: c.priority,
                fill: c.fill,
            })
        })
        .collect();
    // A column with nothing to show takes no room, not even its spacing.
    let kept: Vec<Want> = wants.iter().flatten().copied().collect();
    let mut fitted = allocate(usize::from(avail), 1, &kept).into_iter();
    wants
        .iter()
        .map(|w| w.and_then(|_| fitted.next().flatten()))
        .collect()
}

/// A table fitted to `avail` columns with one column of spacing: its header (when `header`),
/// rows and the widths to give ratatui's `Table`. Whole cells set their column's minimum, so
/// they are never cut: a column that cannot get it is dropped.
pub fn table<'a>(
    columns: &[Column],
    rows: &[PieceRow],
    avail: u16,
    header: bool,
) -> (Option<Row<'a>>, Vec<Row<'a>>, Vec<Constraint>) {
    let widths = widths(columns, rows, avail, header);
    let shown = |cells: Vec<Cell<'a>>| -> Vec<Cell<'a>> {
        cells
            .into_iter()
            .zip(&widths)
            .filter_map(|(c, w)| w.map(|_| c))
            .collect()
    };
    let head = header.then(|| {
        Row::new(shown(
            columns
                .iter()
                .zip(&widths)
                .map(|(c, w)| Cell::from(cut(&c.title, w.unwrap_or(0)).into_owned()))
                .collect(),
        ))
    });
    let body = rows
        .iter()
        .map(|(pieces, style)| {
            let cells = widths
                .iter()
                .enumerate()
                .map(|(i, w)| match pieces.get(i) {
                    Some(p) => Cell::from(Line::from(p.spans(w.unwrap_or(0)))),
                    None => Cell::from(""),
                })
                .collect();
            Row::new(shown(cells)).style(*style)
        })
        .collect();
    let constraints = widths
        .iter()
        .flatten()
        .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)))
        .collect();
    (head, body, constraints)
}

/// A part of a fitted line.
#[derive(Debug, Clone)]
pub struct Part {
    pub piece: Piece,
    pub priority: u8,
    /// Text narrower than this is dropped instead of cut.
    pub min: usize,
}

impl Part {
    pub fn new(piece: Piece, priority: u8) -> Part {
        Part {
            piece,
            priority,
            min: 16,
        }
    }

    /// Text narrower than `min` columns is dropped instead of cut.
    pub fn min(mut self, min: usize) -> Part {
        self.min = min;
        self
    }
}

/// A line of parts fitted to `avail` columns, in order of priority: each takes all it needs
/// if that fits, else a whole part is dropped and a text part is cut (with an ellipsis) to
/// what is left, when that is at least its minimum.
pub fn line<'a>(parts: &[Part], avail: u16) -> Line<'a> {
    let mut left = usize::from(avail);
    let mut widths = vec![None; parts.len()];
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].priority));
    for i in order {
        let p = &parts[i];
        let need = width(&p.piece.text);
        let w = if need <= left {
            need
        } else if !p.piece.whole && left >= p.min.min(need) {
            left
        } else {
            continue;
        };
        widths[i] = Some(w);
        left -= w;
    }
    Line::from(
        parts
            .iter()
            .zip(widths)
            .filter_map(|(p, w)| Some(p.piece.spans(w?)))
            .flatten()
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_marks_the_cut_and_counts_columns_not_bytes() {
        assert_eq!(cut("held by 29087", 13), "held by 29087");
        assert_eq!(cut("server::pool::take_job", 10), "server::p…");
        assert_eq!(width(&cut("server::pool::take_job", 10)), 10);
        // Wide characters take two columns: one that would straddle the edge is left out.
        assert_eq!(cut("日本語テキスト", 6), "日本…");
        assert_eq!(cut("日本語テキスト", 7), "日本語…");
        assert_eq!(cut("é́tat", 3), "é́t…");
        assert_eq!(cut("abc", 0), "");
        assert_eq!(cut("abc", 1), "…");
    }

    #[test]
    fn prose_is_cut_after_a_word() {
        let m = "reading /proc/4242/maps failed: permission denied";
        assert_eq!(cut_words(m, 40), "reading /proc/4242/maps failed:…");
        assert_eq!(cut(m, 40), "reading /proc/4242/maps failed: permiss…");
        // No word ends in the last third: cut where the room ends.
        assert_eq!(
            cut_words("averyveryverylongword and more", 12),
            "averyveryve…"
        );
        assert_eq!(cut_words("short", 12), "short");
    }

    #[test]
    fn a_cut_never_splits_a_number() {
        assert_eq!(cut("held by 29087 \"worker-2\"", 12), "held by …");
        assert_eq!(cut("held by 29087 \"worker-2\"", 15), "held by 29087 …");
        assert_eq!(
            cut("nptl/pthread_create.c:442", 24),
            "nptl/pthread_create.c:…"
        );
        assert_eq!(cut("mutex 0x555512340040 held", 12), "mutex …");
        assert_eq!(
            cut("worker-with-a-long-name-29087", 27),
            "worker-with-a-long-name-…"
        );
        // Words without a digit are cut where the room ends.
        assert_eq!(cut("server::pool::take_job", 10), "server::p…");
    }

    #[test]
    fn window_scrolls_with_marks_on_both_sides_and_stops_at_the_tail() {
        let s = "app::Pool<std::vector<int>>::run(int)";
        assert_eq!(window(s, 0, 12), "app::Pool<s…");
        assert_eq!(window(s, 5, 12), "…Pool<std::…");
        // Scrolled beyond: the tail, whole, and no further.
        assert_eq!(window(s, 1000, 12), "…>::run(int)");
        assert_eq!(window(s, 26, 12), "…>::run(int)");
        assert_eq!(window("short", 3, 12), "short");
    }

    #[test]
    fn wrap_never_cuts() {
        let s = "std::map<std::string, int>::find(std::string const&)";
        let lines = wrap(s, 24);
        assert!(lines.iter().all(|l| width(l) <= 24), "{lines:?}");
        assert_eq!(lines.concat(), s);
        assert_eq!(
            lines,
            [
                "std::map<std::string,",
                " int>::find(std::string",
                " const&)"
            ]
        );
        // No space in the second half: cut where the room ends.
        assert_eq!(
            wrap("abcdefgh ijklmnopqrstuvwxyz", 10),
            ["abcdefgh", " ijklmnopq", "rstuvwxyz"]
        );
        assert_eq!(wrap("日本語", 3), ["日", "本", "語"]);
    }

    fn want(min: usize, need: usize, priority: u8, fill: u16) -> Want {
        Want {
            min,
            need,
            priority,
            fill,
        }
    }

    #[test]
    fn allocate_drops_lowest_priority_first_then_grows_and_fills() {
        // tid, name (text), address (low), symbol (fill).
        let wants = [
            want(7, 7, 9, 0),
            want(6, 15, 5, 0),
            want(14, 14, 2, 0),
            want(20, 20, 8, 1),
        ];
        // Everything fits at its need, the symbol takes the rest.
        assert_eq!(
            allocate(100, 1, &wants),
            [Some(7), Some(15), Some(14), Some(61)]
        );
        // 7+6+14+20+3 = 50: the minimums fit, the name grows before the symbol fills.
        assert_eq!(
            allocate(52, 1, &wants),
            [Some(7), Some(8), Some(14), Some(20)]
        );
        // Not even the minimums: the address goes first.
        assert_eq!(allocate(40, 1, &wants), [Some(7), Some(11), None, Some(20)]);
        // Then the name.
        assert_eq!(allocate(30, 1, &wants), [Some(7), None, None, Some(22)]);
        // The last one standing takes what there is.
        assert_eq!(allocate(5, 1, &wants), [Some(5), None, None, None]);
    }

    #[test]
    fn a_fill_item_is_narrowed_before_a_higher_one_goes() {
        // Frame number, address, symbol (fill), file:line.
        let wants = [
            want(2, 4, 9, 0),
            want(14, 14, 2, 0),
            want(40, 40, 8, 1),
            want(15, 15, 7, 0),
        ];
        assert_eq!(
            allocate(80, 1, &wants),
            [Some(4), Some(14), Some(44), Some(15)]
        );
        // The address, then file:line go; then the symbol narrows, the number stays.
        assert_eq!(allocate(61, 1, &wants), [Some(4), None, Some(40), Some(15)]);
        assert_eq!(allocate(40, 1, &wants), [Some(2), None, Some(37), None]);
        // No room for both: the number, of the higher priority, is what is left.
        assert_eq!(allocate(3, 1, &wants), [Some(3), None, None, None]);
    }

    #[test]
    fn a_table_never_cuts_a_whole_cell_and_marks_text_cuts() {
        let columns = [
            Column::new("TID", 9, 7),
            Column::new("WAITING ON", 5, 16).min(6),
            Column::new("TOP FRAME", 8, 9).min(10).fill(1),
        ];
        let rows = vec![
            (
                vec![
                    Piece::whole("29086"),
                    Piece::whole("held by 29087"),
                    Piece::text("app::detail::descend<3>()"),
                ],
                Style::new(),
            ),
            (
                vec![
                    Piece::whole("29087"),
                    Piece::text("! a long error message"),
                    Piece::text("main"),
                ],
                Style::new(),
            ),
        ];
        let (_, _, widths) = table(&columns, &rows, 40, true);
        // The ids' column at its width, the waiting column grown to its width (its error cut),
        // the frame takes the rest: 7 + 16 + 15 + 2 spaces.
        assert_eq!(
            widths,
            [
                Constraint::Length(7),
                Constraint::Length(16),
                Constraint::Length(15)
            ]
        );
        // Narrowed to the minimums: the ids' 5, "held by 29087" whole, the frame cut to 10.
        let (_, _, widths) = table(&columns, &rows, 30, true);
        assert_eq!(
            widths,
            [
                Constraint::Length(5),
                Constraint::Length(13),
                Constraint::Length(10)
            ]
        );
        // Narrower: the lower priority column goes whole, no id is cut.
        let (_, _, widths) = table(&columns, &rows, 28, true);
        assert_eq!(widths, [Constraint::Length(7), Constraint::Length(20)]);
        let (_, body, _) = table(&columns, &rows, 32, true);
        assert_eq!(body.len(), 2);
        let pieces = &rows[1].0;
        assert_eq!(pieces[1].fitted(13), "! a long err…");
        assert_eq!(pieces[2].fitted(10), "main");
    }

    #[test]
    fn marks_survive_the_cut_where_it_leaves_them() {
        let mark = Style::new().add_modifier(ratatui::style::Modifier::UNDERLINED);
        let p =
            Piece::text("pthread_mutex_lock_impl").marked(std::iter::once(14..18).collect(), mark);
        let drawn = |p: &Piece, max: usize| -> Vec<(String, bool)> {
            p.spans(max)
                .into_iter()
                .map(|s| (s.content.into_owned(), s.style == mark))
                .collect()
        };
        // Cut before the match: nothing marked; through it: its shown head marked.
        assert_eq!(
            drawn(&p, 12),
            [("pthread_mut".to_string(), false), ("…".to_string(), false)]
        );
        assert_eq!(
            drawn(&p, 17),
            [
                ("pthread_mutex_".to_string(), false),
                ("lo".to_string(), true),
                ("…".to_string(), false)
            ]
        );
        // Scrolled: the match after the leading ellipsis.
        assert_eq!(
            drawn(&p.clone().scrolled(10), 10),
            [
                ("…".to_string(), false),
                ("tex_".to_string(), false),
                ("lock".to_string(), true),
                ("…".to_string(), false)
            ]
        );
        // The spans read as the fitted text at every width and scroll.
        let wide =
            Piece::text("a中b_lock_c中d 4096 ids").marked(std::iter::once(5..9).collect(), mark);
        let prose = Piece::prose("reading maps failed: 4096 ids").marked(vec![8..12, 21..25], mark);
        for skip in 0..6 {
            for max in 0..28 {
                for q in [wide.clone().scrolled(skip), prose.clone().scrolled(skip)] {
                    let text: String = q.spans(max).iter().map(|s| s.content.as_ref()).collect();
                    assert_eq!(text, q.fitted(max), "{} skip {skip} max {max}", q.text);
                }
            }
        }
    }

    #[test]
    fn a_line_drops_whole_parts_and_cuts_text() {
        let parts = [
            Part::new(Piece::text(" ! reading /proc/1/maps failed: no "), 9),
            Part::new(Piece::whole(" rolling · auto 2.0s"), 6),
            Part::new(Piece::whole(" · took 3.1 ms"), 3),
            Part::new(Piece::whole(" · stopped 11/13 ≤ 4.47 ms"), 4),
        ];
        let text = |l: Line| {
            l.spans
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        assert_eq!(
            text(line(&parts, 200)),
            " ! reading /proc/1/maps failed: no  rolling · auto 2.0s · took 3.1 ms · stopped 11/13 ≤ 4.47 ms"
        );
        // "stopped" does not fit after the message and the mode: it goes whole; "took" fits.
        assert_eq!(
            text(line(&parts, 70)),
            " ! reading /proc/1/maps failed: no  rolling · auto 2.0s · took 3.1 ms"
        );
        // Narrower than the message: it is cut, marked, and takes the line.
        assert_eq!(text(line(&parts, 20)), " ! reading /proc/1/…");
    }
}
