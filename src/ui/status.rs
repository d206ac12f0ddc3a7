//! The header line of the inspector (with the top suspects), the status line (snapshot time, cost, mode,
//! auto-refresh, last error) and the footer of keys from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit::{self, Part, Piece};
use super::theme::Theme;
use crate::app::keymap;
use crate::app::{App, Screen};
use crate::describe;
use crate::profile::suspects::{Suspect, suspect_brief};

/// Suspects named in the header besides deadlocks (the fit drops those that do not fit).
const HEADER_SUSPECTS: usize = 3;

pub fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let parts = match (app.inspector(), app.screen()) {
        (Some(t), Screen::Inspector) => {
            let threads = t
                .snapshot()
                .map(|s| s.threads().len().to_string())
                .unwrap_or_else(|| "?".into());
            let mut parts = vec![Part::new(
                Piece::whole(format!(" pid {} ", t.pid())).style(theme.title),
                9,
            )];
            // Which snapshot is on screen, when it may not be the live one: right after the
            // pid, so that old stacks are never read as current.
            if let Some(which) = viewed_text(t, app.refresh().offline()) {
                parts.push(Part::new(Piece::text(which).style(theme.busy), 9));
            }
            // A deadlock goes right after the pid: it must not be cut off by a long command.
            if let Some(snap) = t.snapshot() {
                for cycle in snap.deadlocks() {
                    let text = format!(" DEADLOCK {} ", describe::cycle_text(snap, cycle));
                    parts.push(Part::new(Piece::text(text).style(theme.error), 7));
                }
                // Cycles through other processes, sockets, pipes, file locks, children.
                for cycle in snap.wait_cycles() {
                    let text = format!(
                        " DEADLOCK {} ",
                        describe::wait_cycle_brief(snap.id(), cycle)
                    );
                    parts.push(Part::new(Piece::text(text).style(theme.error), 7));
                }
                // Then the other top suspects over time, in rank order: stuck lock holders,
                // spinners, threads stuck long (none until the snapshots are evidence enough).
                let others = t
                    .history()
                    .suspects()
                    .iter()
                    .filter(|s| !matches!(s, Suspect::Deadlock { .. }));
                for s in others.take(HEADER_SUSPECTS) {
                    let style = match s {
                        Suspect::Spinner { .. } => theme.busy,
                        _ => theme.error,
                    };
                    let text = format!(" {} ", suspect_brief(snap, s));
                    parts.push(Part::new(Piece::text(text).style(style), 7));
                }
            }
            if t.degraded() {
                parts.push(Part::new(
                    Piece::whole(" NOT TRACED: /proc only ").style(theme.error),
                    8,
                ));
            }
            if t.exited() {
                parts.push(Part::new(Piece::whole(" EXITED ").style(theme.error), 8));
            }
            parts.push(Part::new(Piece::whole(format!("{threads} threads  ")), 6));
            parts.push(Part::new(Piece::text(t.command_line()), 5));
            parts
        }
        _ => vec![
            Part::new(Piece::whole(" rstack-tui ").style(theme.title), 9),
            Part::new(Piece::text("pick a process to inspect its threads"), 5),
        ],
    };
    frame.render_widget(Paragraph::new(fit::line(&parts, area.width)), area);
}

/// " snapshot 2/5, 14:03:22 " on loaded snapshots; live, only when an older snapshot than
/// the newest is viewed, and then saying so.
fn viewed_text(t: &crate::app::Inspector, offline: bool) -> Option<String> {
    let h = t.history();
    let older = h.viewing_older();
    if !offline && !older {
        return None;
    }
    let at = h.viewed_position()?;
    let snap = h.viewed()?;
    let live = if offline || !older {
        ""
    } else {
        ", not the newest (> to live)"
    };
    Some(format!(
        " snapshot {}/{}, {}{live} ",
        at + 1,
        h.len(),
        describe::clock(snap.taken_at())
    ))
}

pub fn render_status(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut parts = Vec::new();
    // A save asking where to write: the path being typed, after the directory that failed.
    if let Some(p) = app.save_prompt() {
        let mut spans = Vec::new();
        if !p.failed().is_empty() {
            spans.push(Span::styled(format!(" ! {} ", p.failed()), theme.error));
        }
        spans.push(Span::raw(format!(" save to: {}█", p.path())));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    // The error first: on a narrow terminal it is what must not be dropped (it is cut, marked).
    if let Some(e) = app.last_error() {
        parts.push(Part::new(
            Piece::prose(format!(" ! {e} ")).style(theme.error),
            9,
        ));
    }
    if let Some(m) = app.status_note() {
        parts.push(Part::new(
            Piece::prose(format!(" {m} ")).style(theme.busy),
            8,
        ));
    }
    let refresh = app.refresh();
    if app.screen() == Screen::Inspector {
        let snapshot = app.inspector().and_then(|t| t.snapshot());
        // A warning about the last trace: before the facts, which a narrow terminal drops.
        if let Some(u) = snapshot.and_then(|s| s.unguarded()) {
            parts.push(Part::new(
                Piece::prose(format!(" ! {} ", describe::unguarded_text(u))).style(theme.error),
                7,
            ));
        }
        let from_core = snapshot.is_some_and(|s| s.mode() == crate::tracer::Mode::Core);
        let mode = if from_core {
            "core"
        } else if refresh.snapshot_mode() {
            "snapshot"
        } else {
            "rolling"
        };
        let when = if refresh.offline() {
            format!(
                "offline, {} snapshots",
                app.inspector().map_or(0, |t| t.history().len())
            )
        } else if refresh.paused() {
            "paused".to_string()
        } else {
            format!("auto {:.1}s", refresh.interval().as_secs_f64())
        };
        parts.push(Part::new(Piece::whole(format!(" {mode} · {when}")), 6));
        // Each figure whole with its unit, or not at all: the least telling go first.
        if let Some(snap) = snapshot.filter(|_| from_core) {
            // A core was not taken by us: when it was written, and nothing of stops.
            parts.push(Part::new(
                Piece::whole(format!(
                    " · dumped {} UTC",
                    describe::clock(snap.taken_at())
                )),
                3,
            ));
        } else if let Some(snap) = snapshot {
            let facts = [
                (
                    format!(" · taken {} UTC", describe::clock(snap.taken_at())),
                    3,
                ),
                (
                    format!(" · took {:.1} ms", snap.elapsed().as_secs_f64() * 1000.0),
                    2,
                ),
                (
                    format!(
                        " · stopped {}/{} ≤ {:.2} ms",
                        snap.stopped_threads(),
                        snap.threads().len(),
                        snap.longest_stop().as_secs_f64() * 1000.0
                    ),
                    4,
                ),
            ];
            for (text, priority) in facts {
                parts.push(Part::new(Piece::whole(text), priority));
            }
        }
        if refresh.tracing() {
            parts.push(Part::new(Piece::whole(" · tracing…").style(theme.busy), 5));
        }
    } else {
        let (count, why) = process_count(app.process_list());
        parts.push(Part::new(Piece::whole(count), 6));
        if !why.is_empty() {
            parts.push(Part::new(Piece::text(why), 4));
        }
    }
    frame.render_widget(Paragraph::new(fit::line(&parts, area.width)), area);
}

/// (" 412 processes", " (37 kernel threads hidden; 3 match the filter)"): the count of
/// every process, and why the list's title counts fewer (the count is never cut, the why may be).
fn process_count(list: &crate::app::ProcessList) -> (String, String) {
    let all = list.all();
    let mut why = Vec::new();
    let kernel = all.iter().filter(|p| p.kernel_thread).count();
    if !list.show_kernel() && kernel > 0 {
        let s = if kernel == 1 { "" } else { "s" };
        why.push(format!("{kernel} kernel thread{s} hidden, K shows them"));
    }
    if !list.filter().text().is_empty() {
        why.push(format!("{} match the filter", list.visible().len()));
    }
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    (format!(" {} processes", all.len()), why)
}

pub fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.screen() == Screen::Inspector
        && let Some(view) = app
            .inspector()
            .and_then(|i| i.profile())
            .filter(|v| v.search().is_shown())
    {
        let line = Line::from(super::profile::footer_spans(view, theme));
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if app.screen() == Screen::Inspector
        && let Some(i) = app
            .inspector()
            .filter(|i| i.search().is_shown() && i.profile().is_none())
    {
        let line = Line::from(super::search::footer_spans(i, theme));
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    // Compact so that the inspector's keys fit in 80 columns.
    let mut spans = vec![Span::raw(" ")];
    let (mut used, room) = (1, usize::from(area.width));
    let mut key = |label: &str, what: &str| {
        // A key that does not fit is left out whole, and so are the ones after it.
        let w = fit::width(label) + 1 + fit::width(what);
        if used + w > room {
            used = room;
            return;
        }
        used += w + 2;
        spans.push(Span::styled(label.to_string(), theme.key));
        spans.push(Span::raw(format!(" {what}  ")));
    };
    if app.save_prompt().is_some() {
        key("Enter", "save");
        key("Esc", "cancel");
    } else if app.typing_filter() {
        key("Enter", "keep filter");
        key("Esc", "clear");
    } else {
        let python =
            app.screen() == Screen::Inspector && app.inspector().is_some_and(|i| i.has_python());
        for (label, short) in keymap::footer(app.context(), python) {
            key(label, short);
        }
        if app.screen() == Screen::Inspector
            && let Some(word) = app.back_word()
        {
            key("Esc", word);
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
