//! Reads the inspector's two panes off a captured screen at any width: stacked (the frames
//! pane under the threads pane) or side by side. The frames pane is found where its title
//! (" Stack ...") starts, so no test depends on where a layout puts the split.

/// The frames pane's title and the column (in characters) where the frames pane starts:
/// 0 when stacked.
fn stack_title(screen: &str) -> Option<(usize, usize)> {
    screen.lines().enumerate().find_map(|(i, l)| {
        let at = l.find(" Stack of ").or_else(|| l.find(" Stack "))?;
        Some((i, l[..at].chars().count()))
    })
}

/// The lines between the header (the first line) and the status line and footer (the last
/// two), as (screen line, text).
fn body(screen: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = screen.lines().collect();
    let footer = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .unwrap_or(0);
    lines
        .into_iter()
        .enumerate()
        .take(footer.saturating_sub(1))
        .skip(1)
        .collect()
}

/// The threads pane (or the view that takes its place: diff, groups), at the screen's left
/// edge, as (screen line, text), its title line included. With no frames pane on the screen,
/// the whole body.
pub fn threads_pane(screen: &str) -> Vec<(usize, String)> {
    let split = stack_title(screen);
    body(screen)
        .into_iter()
        .filter_map(|(i, l)| match split {
            Some((t, 0)) if i >= t => None,
            Some((t, c)) if i >= t => Some((i, l.chars().take(c).collect())),
            _ => Some((i, l.to_string())),
        })
        .collect()
}

/// The frames pane below its title, as (screen line, column where the pane starts, text).
pub fn frames_pane(screen: &str) -> Vec<(usize, usize, String)> {
    let Some((t, c)) = stack_title(screen) else {
        return Vec::new();
    };
    body(screen)
        .into_iter()
        .filter(|&(i, _)| i > t)
        .map(|(i, l)| (i, c, l.chars().skip(c).collect()))
        .collect()
}

/// The row of the threads pane for the thread named `name` (second column): (screen line,
/// its text in the pane).
pub fn thread_row(screen: &str, name: &str) -> Option<(usize, String)> {
    threads_pane(screen)
        .into_iter()
        .find(|(_, l)| l.split_whitespace().nth(1) == Some(name))
}

/// The data rows of the threads pane (those starting with a tid): (screen line, tid).
pub fn tid_rows(screen: &str) -> Vec<(usize, u32)> {
    threads_pane(screen)
        .into_iter()
        .filter_map(|(i, l)| Some((i, l.split_whitespace().next()?.parse().ok()?)))
        .collect()
}
