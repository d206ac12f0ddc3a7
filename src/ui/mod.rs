//! Rendering: a pure function of the app state ([`render`]), one module per pane or overlay,
//! the theme; the footer and help render the app's keymap table. Nothing here calls ptrace
//! or reads `/proc`.

pub mod chains;
pub mod detail;
pub mod diff;
pub mod fit;
pub mod flame;
pub mod frames;
pub mod goroutines;
pub mod groups;
pub mod help;
pub mod list_pane;
pub mod process_list;
pub mod profile;
pub mod search;
pub mod status;
pub mod theme;
pub mod threads;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

/// The keymap table lives with the app, which dispatches on it; the footer and help render it.
pub use crate::app::keymap;
use crate::app::{App, Pane, Screen, View, Viewport};
use theme::Theme;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub header: Rect,
    pub process_list: Rect,
    pub threads: Rect,
    pub frames: Rect,
    pub status: Rect,
    pub footer: Rect,
}

impl Areas {
    /// The pane at a screen position and the data row under it (rows start below the pane's
    /// title line and, for tables with a header, the header line).
    pub fn hit(&self, x: u16, y: u16, screen: Screen) -> Option<(Option<Pane>, usize)> {
        let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        let row = |r: Rect, skip: u16| y.checked_sub(r.y + skip).map(usize::from);
        match screen {
            Screen::ProcessList if inside(self.process_list) => {
                row(self.process_list, 2).map(|r| (None, r))
            }
            Screen::Inspector if inside(self.threads) => {
                row(self.threads, 2).map(|r| (Some(Pane::Threads), r))
            }
            Screen::Inspector if inside(self.frames) => {
                row(self.frames, 1).map(|r| (Some(Pane::Frames), r))
            }
            _ => None,
        }
    }
}

/// The threads pane's width side by side: what its columns need (ids, name, state, CPU, wait,
/// SAME: 55 with spacing) and a top frame's worth; the stacks take the rest.
const THREADS_WIDE: u16 = 90;

/// Lays out the screen: header, body, status line, footer. The inspector stacks threads
/// over frames, or puts them side by side on wide terminals, where the frames get the room.
pub fn layout(area: Rect, screen: Screen) -> Areas {
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut a = Areas {
        header,
        status,
        footer,
        ..Areas::default()
    };
    match screen {
        Screen::ProcessList => a.process_list = body,
        Screen::Inspector if area.width >= 160 => {
            let threads = THREADS_WIDE.min(area.width / 2);
            [a.threads, a.frames] =
                Layout::horizontal([Constraint::Length(threads), Constraint::Fill(1)]).areas(body);
        }
        Screen::Inspector => {
            [a.threads, a.frames] =
                Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(body);
        }
    }
    a
}

/// Draws the whole screen from the app state.
pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme::new(&app.look());
    let areas = layout(frame.area(), app.screen());
    status::render_header(app, &theme, frame, areas.header);
    match (app.screen(), app.inspector()) {
        (Screen::ProcessList, _) => {
            process_list::render(app.process_list(), &theme, frame, areas.process_list)
        }
        (Screen::Inspector, Some(inspector)) if inspector.profile().is_some() => {
            if let Some(view) = inspector.profile() {
                let body = areas.threads.union(areas.frames);
                profile::render(view, &theme, &app.look(), frame, body);
            }
        }
        (Screen::Inspector, Some(inspector)) => {
            match inspector.view() {
                View::Diff => diff::render(
                    inspector,
                    app.refresh().offline(),
                    &theme,
                    frame,
                    areas.threads,
                ),
                View::Groups => groups::render(inspector, &theme, frame, areas.threads),
                View::Goroutines => {
                    goroutines::render(inspector, &theme, frame, areas.threads);
                    goroutines::render_frames(inspector, &theme, frame, areas.frames);
                }
                View::Threads => threads::render(inspector, &theme, frame, areas.threads),
                View::Chains => chains::render(inspector, &theme, frame, areas.threads),
            }
            if inspector.view() != View::Goroutines {
                frames::render(inspector, &theme, frame, areas.frames);
            }
            if let Some(d) = inspector.detail() {
                detail::render(d, &theme, frame, areas.threads.union(areas.frames));
            }
        }
        (Screen::Inspector, None) => {}
    }
    status::render_status(app, &theme, frame, areas.status);
    status::render_footer(app, &theme, frame, areas.footer);
    if app.help().is_open() {
        help::render(&theme, app.help().scroll(), frame, frame.area());
    }
}

/// Rows each list shows (below its title line and, for tables with one, its header line),
/// for PgUp/PgDn and for how far the lists scroll.
pub fn viewport(area: Rect, screen: Screen) -> Viewport {
    let a = layout(area, screen);
    let pane = if screen == Screen::ProcessList {
        a.process_list
    } else {
        a.threads
    };
    Viewport {
        list: usize::from(pane.height.saturating_sub(2)).max(1),
        frames: usize::from(a.frames.height.saturating_sub(1)).max(1),
    }
}
