//! The chain view (`C`) and the words for a wait's peer: each chain's row names its root
//! blocker first, then one row per link (kind, object, holder, notes, a cycle's links marked).
//! The words are `describe`'s (as in `dump`), laid out a link a row.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::fit::{Column, Piece, PieceRow};
use super::list_pane::ListPane;
use super::theme::Theme;
use crate::app::inspector::chains::{self, ChainRow};
use crate::app::{Inspector, Pane};
use crate::describe;
use crate::text::inert;
use crate::tracer::{Party, Thread, WaitChain, WaitLink};

const COLUMNS: [Column; 1] = [Column::new("WAIT CHAINS (root blocker first)", 1, 40).fill(1)];

pub fn render(inspector: &Inspector, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = inspector.chain_rows();
    let pid = inspector.pid();
    let chains = rows
        .iter()
        .filter(|r| matches!(r, ChainRow::Chain(_)))
        .count();
    let body: Vec<PieceRow> = rows
        .iter()
        .map(|r| match *r {
            ChainRow::Chain(c) => (
                vec![Piece::text(chain_line(c, pid))],
                if c.cycle.is_some() {
                    theme.error
                } else {
                    theme.header
                },
            ),
            ChainRow::Link(c, i) => (vec![Piece::text(link_line(c, i, pid))], Style::new()),
        })
        .collect();
    let title = if rows.is_empty() {
        " Wait chains (none: no thread waits on a known holder) ".to_string()
    } else {
        format!(" Wait chains ({chains}, longest first) ")
    };
    ListPane {
        columns: &COLUMNS,
        rows: &body,
        title: &title,
        focused: inspector.focus() == Pane::Threads,
        offset: inspector.list_offset(),
        selected: inspector.chain_selected(),
    }
    .draw(theme, frame, area);
}

/// A party as seen from process `pid`, in `describe`'s words with its state letter:
/// `tid 103 "name" S` for one of its threads, else `pid 812 tid 815 "name" S`.
pub fn party_text(p: &Party, pid: u32) -> String {
    let mut s = describe::party_label(pid, p);
    if let Some(c) = p.state {
        s.push(' ');
        s.push_str(&inert(c.encode_utf8(&mut [0; 4])));
    }
    s
}

/// A chain's row: `describe`'s heading, its root blocker first ("blocked by pid 790
/// \"backup\" (R running): 2 links, from tid 10 \"web-1\""; "deadlock: ..." for a cycle), and
/// the chain's end note.
pub fn chain_line(c: &WaitChain, pid: u32) -> String {
    let mut s = describe::chain_heading(pid, c);
    if let Some(end) = &c.end {
        s.push_str(&format!(" [{}]", inert(end)));
    }
    s
}

/// Link `i`'s row: its object, the holder followed, notes; `⟲` on a cycle's links.
pub fn link_line(c: &WaitChain, i: usize, pid: u32) -> String {
    let Some(l) = c.links.get(i) else {
        return String::new();
    };
    let mark = if c.cycle.is_some_and(|at| i >= at) {
        "⟲"
    } else {
        " "
    };
    let holder = chains::holder(c, i)
        .map(|h| party_text(h, pid))
        .unwrap_or_else(|| "holder unknown".into());
    let more = l.holders.len().saturating_sub(1);
    let mut s = format!(" {mark} {}. {} → {holder}", i + 1, describe::link_object(l));
    if more > 0 {
        s.push_str(&format!(" (+{more} more)"));
    }
    if let Some(note) = &l.note {
        s.push_str(&format!(" [{}]", inert(note)));
    }
    s
}

/// The WAITING ON column's width: a peer's name that does not fit is left to the stack pane's
/// line (a wider cell would widen the column and squeeze NAME).
const PEER_WIDTH: usize = 16;

/// The peer a thread waits for, for the WAITING ON column: `→ pid 812` for a holder in
/// another process, with its name when it fits (`describe`'s short form), `held by 103` for a
/// thread of its own (as for a mutex owner).
pub fn peer(t: &Thread) -> Option<String> {
    let chain = t.facts().chain.as_ref()?;
    let first: &WaitLink = chain.links.first()?;
    let h = chains::holder(chain, 0)?;
    if h.pid == first.waiter.pid {
        return h.tid.map(|tid| format!("held by {tid}"));
    }
    describe::chain_short(first.waiter.pid, chain, PEER_WIDTH)
}

/// The stack pane's row under a thread whose wait leads to another process: what it waits on
/// and who holds it there.
pub fn peer_detail(t: &Thread) -> Option<String> {
    let chain = t.facts().chain.as_ref()?;
    let first = chain.links.first()?;
    let h = chains::holder(chain, 0)?;
    (h.pid != first.waiter.pid).then(|| {
        let mut s = format!(
            "waiting on {} held by {}",
            describe::link_object(first),
            party_text(h, first.waiter.pid)
        );
        if let Some(w) = &h.wait {
            s.push_str(&format!(" in {}", inert(w)));
        }
        s.push_str(" (H follows)");
        s
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::app::keymap::Command;
    use crate::app::{Action, App, Effect, View, Viewport};
    use crate::tracer::diff::fixture::snapshot;
    use crate::tracer::{LinkKind, Party, Process, WaitChain, WaitLink};

    const T0: u64 = 1_795_953_600_000;
    const STACK: &[&str] = &["futex_wait", "worker_loop", "main"];

    fn party(pid: u32, tid: u32, name: &str, state: char) -> Party {
        Party {
            pid,
            tid: Some(tid),
            name: name.into(),
            state: Some(state),
            wait: None,
        }
    }

    fn link(waiter: Party, kind: LinkKind, object: &str, holder: Party) -> WaitLink {
        WaitLink {
            waiter,
            kind,
            object: object.into(),
            holders: vec![holder],
            note: None,
        }
    }

    /// Process 4242: web-1 (10) waits on a pipe whose writer, pid 812 db-writer (815), waits
    /// for a file lock held by pid 790 backup (running); worker-1 (11) for a mutex held by
    /// worker-2 (12); lock-a (13) and lock-b (14) for each other. Taken `at` ms after T0.
    fn process(pid: u32, at: u64) -> Process {
        let mut p = snapshot(
            T0 + at,
            &[
                (10, "web-1", 0, STACK),
                (11, "worker-1", 0, STACK),
                (12, "worker-2", 0, STACK),
                (13, "lock-a", 0, STACK),
                (14, "lock-b", 0, STACK),
            ],
        );
        p.id = pid;
        if pid != 4242 {
            return p;
        }
        let t = |tid: u32, name: &str| party(4242, tid, name, 'S');
        let mut db = party(812, 815, "db-writer", 'S');
        db.wait = Some("flock(fd 3 → /var/lib/app/lock)".into());
        let chains = [
            WaitChain {
                links: vec![
                    link(t(10, "web-1"), LinkKind::Pipe, "pipe:[81234]", db.clone()),
                    link(
                        db,
                        LinkKind::FileLock,
                        "/var/lib/app/lock (flock)",
                        party(790, 790, "backup", 'R'),
                    ),
                ],
                cycle: None,
                end: None,
            },
            WaitChain {
                links: vec![link(
                    t(11, "worker-1"),
                    LinkKind::Mutex,
                    "mutex 0x7f00",
                    t(12, "worker-2"),
                )],
                cycle: None,
                end: None,
            },
            WaitChain::default(),
            WaitChain {
                links: vec![
                    link(
                        t(13, "lock-a"),
                        LinkKind::Mutex,
                        "mutex 0xb0",
                        t(14, "lock-b"),
                    ),
                    link(
                        t(14, "lock-b"),
                        LinkKind::Mutex,
                        "mutex 0xa0",
                        t(13, "lock-a"),
                    ),
                ],
                cycle: Some(0),
                end: None,
            },
            WaitChain {
                links: vec![
                    link(
                        t(14, "lock-b"),
                        LinkKind::Mutex,
                        "mutex 0xa0",
                        t(13, "lock-a"),
                    ),
                    link(
                        t(13, "lock-a"),
                        LinkKind::Mutex,
                        "mutex 0xb0",
                        t(14, "lock-b"),
                    ),
                ],
                cycle: Some(0),
                end: None,
            },
        ];
        for (th, c) in p.threads.iter_mut().zip(chains) {
            th.facts.chain = (!c.links.is_empty()).then_some(c);
        }
        p
    }

    /// An app inspecting 4242 (started at 7), 7 rows per list.
    fn app() -> App {
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Identified {
            pid: 4242,
            start: 7,
        });
        app.update(Action::Snapshot(Arc::new(process(4242, 0))));
        app.update(Action::Viewport(Viewport { list: 7, frames: 9 }));
        app
    }

    fn screen(app: &App) -> Vec<String> {
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| super::super::render(app, f)).unwrap();
        let buf = term.backend().buffer().clone();
        (0..24)
            .map(|y| {
                (0..80)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    fn tid(app: &App) -> Option<u32> {
        app.inspector().and_then(|i| i.selected_tid())
    }

    fn cmd(app: &mut App, c: Command) -> Vec<Effect> {
        app.update(Action::Command(c))
    }

    #[test]
    fn the_wait_column_and_the_stack_pane_name_the_peer() {
        let app = app();
        let s = screen(&app);
        assert_eq!(
            s[2..8],
            [
                "TID     NAME     S CPU% WAITING ON       SAME      TOP FRAME",
                "10      web-1    S      → pid 812                  worker_loop",
                "11      worker-1 S      held by 12                 worker_loop",
                "12      worker-2 S                                 worker_loop",
                "13      lock-a   S      held by 14                 worker_loop",
                "14      lock-b   S      held by 13                 worker_loop",
            ]
        );
        assert_eq!(
            s[14],
            "--                  waiting on pipe:[81234] held by pid 812 tid 815 \"db-writer\"…"
        );
    }

    #[test]
    fn the_chain_view_lists_the_longest_chains_root_first() {
        let mut app = app();
        cmd(&mut app, Command::ChainView);
        let s = screen(&app);
        assert_eq!(
            s[1..11],
            [
                " Wait chains (3, longest first) ────────────────────────────────────────────────",
                "WAIT CHAINS (root blocker first)",
                "blocked by pid 790 tid 790 \"backup\" (R running): 2 links, from tid 10 \"web-1\"",
                "   1. pipe:[81234] → pid 812 tid 815 \"db-writer\" S",
                "   2. file lock /var/lib/app/lock (flock) → pid 790 tid 790 \"backup\" R",
                "deadlock: 2 links, from tid 13 \"lock-a\"",
                " ⟲ 1. mutex 0xb0 → tid 14 \"lock-b\" S",
                " ⟲ 2. mutex 0xa0 → tid 13 \"lock-a\" S",
                "blocked by tid 12 \"worker-2\" (S sleeping): 1 link, from tid 11 \"worker-1\"",
                " Stack of 10 \"web-1\" ───────────────────────────────────────────────────────────",
            ]
        );
        // The stack pane shows the selected link's waiter.
        for _ in 0..4 {
            cmd(&mut app, Command::Down);
        }
        assert!(screen(&app)[10].starts_with(" Stack of 13 \"lock-a\" "));
        // A refresh where web-1's chain is gone: the same link stays selected, two rows up.
        let mut next = process(4242, 1000);
        next.threads[0].facts.chain = None;
        app.update(Action::Snapshot(Arc::new(next)));
        let i = app.inspector().unwrap();
        assert_eq!(i.chain_selected(), Some(1));
        assert_eq!(
            i.selected_tid(),
            Some(10),
            "the threads view's selection is its own"
        );
        assert!(screen(&app)[10].starts_with(" Stack of 13 \"lock-a\" "));
        // Without Unicode, the cycle's mark is ASCII too.
        assert_eq!(crate::ui::theme::ascii_cell("⟲", 1), "@");
        // Esc closes the view.
        cmd(&mut app, Command::Back);
        assert_eq!(app.inspector().map(|i| i.view()), Some(View::Threads));
    }

    #[test]
    fn a_wait_cycle_across_processes_is_a_deadlock_in_the_header() {
        let mut p = process(4242, 0);
        let web = party(4242, 10, "web-1", 'S');
        let db = party(812, 815, "db-writer", 'S');
        p.wait_cycles = vec![crate::tracer::WaitCycle {
            links: vec![
                link(web.clone(), LinkKind::Pipe, "pipe:[81234]", db.clone()),
                link(db, LinkKind::FileLock, "/var/lib/app/lock (flock)", web),
            ],
        }];
        let mut app = app();
        app.update(Action::Snapshot(Arc::new(p)));
        let s = screen(&app);
        assert!(
            s[0].starts_with(
                " pid 4242  DEADLOCK tid 10 \"web-1\" → pid 812 tid 815 \"db-writer\" → tid 10"
            ),
            "{:?}",
            s[0]
        );
    }

    #[test]
    fn h_follows_a_holder_here_and_backspace_returns() {
        let mut app = app();
        cmd(&mut app, Command::Down);
        assert_eq!(tid(&app), Some(11));
        assert!(cmd(&mut app, Command::FollowWait).is_empty());
        assert_eq!((tid(&app), app.places().len()), (Some(12), 1));
        cmd(&mut app, Command::Return);
        assert_eq!((tid(&app), app.places().len()), (Some(11), 0));
        cmd(&mut app, Command::Return);
        assert_eq!(
            app.status_note(),
            Some("nowhere to return to: H follows a wait first")
        );
    }

    #[test]
    fn h_opens_a_holder_in_another_process_and_backspace_comes_back() {
        let mut app = app();
        assert_eq!(cmd(&mut app, Command::FollowWait), [Effect::Inspect(812)]);
        let i = app.inspector().unwrap();
        assert_eq!((i.pid(), i.selected_tid()), (812, Some(815)));
        assert_eq!(
            app.status_note(),
            Some("followed to pid 812 db-writer (Backspace returns)")
        );
        assert_eq!(app.kept().len(), 1, "4242's view is kept");
        app.update(Action::Identified { pid: 812, start: 3 });
        app.update(Action::Snapshot(Arc::new(process(812, 500))));
        assert_eq!(tid(&app), Some(815), "the holder stays selected");
        // Back: 4242's view as it was left (its history, its selection).
        assert_eq!(cmd(&mut app, Command::Return), [Effect::Inspect(4242)]);
        app.update(Action::Identified {
            pid: 4242,
            start: 7,
        });
        let i = app.inspector().unwrap();
        assert_eq!(
            (i.pid(), i.selected_tid(), i.history().len()),
            (4242, Some(10), 1)
        );
    }

    #[test]
    fn enter_in_the_chain_view_follows_the_link_and_backspace_reopens_the_view() {
        let mut app = app();
        cmd(&mut app, Command::ChainView);
        // Row 4: lock-a's link, held by lock-b.
        for _ in 0..4 {
            cmd(&mut app, Command::Down);
        }
        assert!(cmd(&mut app, Command::Enter).is_empty());
        let i = app.inspector().unwrap();
        assert_eq!((i.view(), i.selected_tid()), (View::Threads, Some(14)));
        cmd(&mut app, Command::Return);
        let i = app.inspector().unwrap();
        assert_eq!((i.view(), i.chain_selected()), (View::Chains, Some(4)));
        // Row 2: the file lock, held by pid 790 (another process).
        cmd(&mut app, Command::Up);
        cmd(&mut app, Command::Up);
        assert_eq!(cmd(&mut app, Command::Enter), [Effect::Inspect(790)]);
        let i = app.inspector().unwrap();
        assert_eq!((i.pid(), i.selected_tid()), (790, Some(790)));
    }

    #[test]
    fn loaded_snapshots_do_not_open_another_process() {
        let mut app = App::new();
        app.update(Action::OpenOffline(vec![Arc::new(process(4242, 0))]));
        assert!(cmd(&mut app, Command::FollowWait).is_empty());
        assert_eq!(
            app.status_note(),
            Some("the holder is pid 812 db-writer: another process, not in the loaded snapshots")
        );
        assert_eq!(
            (app.inspector().map(|i| i.pid()), app.places().len()),
            (Some(4242), 0)
        );
    }
}
