//! The header line of the inspector, the status line (snapshot time, cost, mode,
//! auto-refresh, last error) and the footer of keys from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::keymap;
use crate::app::{App, Screen};
use crate::describe;

pub fn render_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = match (app.inspector(), app.screen()) {
        (Some(t), Screen::Inspector) => {
            let threads = t
                .snapshot()
                .map(|s| s.threads().len().to_string())
                .unwrap_or_else(|| "?".into());
            let mut spans = vec![
                Span::styled(format!(" pid {} ", t.pid()), theme.title),
                Span::raw(format!("{} threads  ", threads)),
                Span::raw(t.command_line().to_string()),
            ];
            if t.exited() {
                spans.insert(1, Span::styled(" EXITED ", theme.error));
            }
            if t.degraded() {
                spans.insert(1, Span::styled(" NOT TRACED: /proc only ", theme.error));
            }
            // A deadlock goes right after the pid: it must not be cut off by a long command.
            if let Some(snap) = t.snapshot() {
                for cycle in snap.deadlocks().iter().rev() {
                    let text = format!(" DEADLOCK {} ", describe::cycle_text(snap, cycle));
                    spans.insert(1, Span::styled(text, theme.error));
                }
            }
            // Which snapshot is on screen, when it may not be the live one: first, so that
            // old stacks are never read as current.
            if let Some(which) = viewed_text(t, app.refresh().offline()) {
                spans.insert(1, Span::styled(which, theme.busy));
            }
            Line::from(spans)
        }
        _ => Line::from(vec![
            Span::styled(" rstack-tui ", theme.title),
            Span::raw("pick a process to inspect its threads"),
        ]),
    };
    frame.render_widget(Paragraph::new(line), area);
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
    let mut spans = Vec::new();
    // A save asking where to write: the path being typed, after the directory that failed.
    if let Some(p) = app.save_prompt() {
        spans.push(Span::styled(format!(" ! {} ", p.failed()), theme.error));
        spans.push(Span::raw(format!(" save to: {}█", p.path())));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    // The error first: on a narrow terminal it is what must not be cut off.
    if let Some(e) = app.last_error() {
        spans.push(Span::styled(format!(" ! {e} "), theme.error));
    }
    if let Some(m) = app.status_note() {
        spans.push(Span::styled(format!(" {m} "), theme.busy));
    }
    let refresh = app.refresh();
    if app.screen() == Screen::Inspector {
        let snapshot = app.inspector().and_then(|t| t.snapshot());
        // A warning about the last trace: before the facts, which a narrow terminal cuts.
        if let Some(u) = snapshot.and_then(|s| s.unguarded()) {
            spans.push(Span::styled(
                format!(" ! {} ", describe::unguarded_text(u)),
                theme.error,
            ));
        }
        let mode = if refresh.snapshot_mode() {
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
        spans.push(Span::raw(format!(" {mode} · {when}")));
        if let Some(snap) = snapshot {
            spans.push(Span::raw(format!(
                " · taken {} UTC · took {:.1} ms · stopped {}/{} ≤ {:.2} ms",
                describe::clock(snap.taken_at()),
                snap.elapsed().as_secs_f64() * 1000.0,
                snap.stopped_threads(),
                snap.threads().len(),
                snap.longest_stop().as_secs_f64() * 1000.0
            )));
        }
        if refresh.tracing() {
            spans.push(Span::styled(" · tracing…", theme.busy));
        }
    } else {
        spans.push(Span::raw(process_count(app.process_list())));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// " 412 processes (37 kernel threads hidden; 3 match the filter)": the count of every
/// process, and why the list's title counts fewer.
fn process_count(list: &crate::app::ProcessList) -> String {
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
    format!(" {} processes{why}", all.len())
}

pub fn render_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if app.screen() == Screen::Inspector
        && let Some(i) = app.inspector().filter(|i| i.search().is_shown())
    {
        let line = Line::from(super::search::footer_spans(i, theme));
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    // Compact so that the inspector's keys fit in 80 columns.
    let mut spans = vec![Span::raw(" ")];
    let mut key = |label: &str, what: &str| {
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
        for (label, short) in keymap::footer(app.context()) {
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
