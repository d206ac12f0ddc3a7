//! Finding things in the inspector, end to end: the real binary in tmux, driven by keys and
//! by the mouse escape sequences a terminal sends. Search as you type (no other key fires, the
//! count exact), `n`/`N`, the filter, Esc clearing only the search; `H` from a waiter to the
//! mutex's holder and along the deadlock cycle; a click on a row of a scrolled list selects
//! exactly that row, and a double click opens the process under the pointer.

mod common;

use common::panes::{frames_pane, tid_rows};
use common::tmux::{Reaper, Tmux};
use common::{Fixture, deadlock_bin, threads_bin, tid_named};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// The sizes each test runs at: at 80x24 the inspector stacks its panes, at 200x50 it puts
/// them side by side.
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// Starts the inspector on `fx` in a `w`x`h` pane and waits until it shows a snapshot.
fn inspect(fx: &Fixture, w: u16, h: u16, extra: &[&str]) -> (Tmux, Reaper) {
    let pid = fx.pid().to_string();
    let mut argv = vec![BIN, pid.as_str()];
    argv.extend_from_slice(extra);
    let tmux = Tmux::exec(w, h, &argv);
    let reaper = Reaper(tmux.pane_pid());
    // "taken" is the snapshot's time; at 80 columns the status line leaves out "took" first.
    tmux.wait_screen("the first snapshot", |s| {
        status_line(s).is_some_and(|l| l.contains("taken"))
    });
    (tmux, reaper)
}

/// Quits with `q` and checks that the fixture runs on, untraced.
fn quit(tmux: &Tmux, reaper: &Reaper, fx: &Fixture) {
    tmux.send_keys(&["q"]);
    tmux.wait_exited(reaper.0);
    fx.assert_running();
}

/// The status line of the process view.
fn status_line(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.starts_with(" rolling ·") || l.starts_with(" snapshot ·"))
}

/// The footer (the last line).
fn footer(screen: &str) -> &str {
    screen.lines().last().unwrap_or("")
}

/// The tid in the frames pane's title (" Stack of TID ...").
fn stack_tid(screen: &str) -> Option<u32> {
    let line = screen.lines().find(|l| l.contains(" Stack of "))?;
    let rest = &line[line.find(" Stack of ")? + " Stack of ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Where a screen shows `text` in its line `y`: the column (in characters) of its middle, to
/// click on it wherever the layout put it.
fn column_of(screen: &str, y: usize, text: &str) -> usize {
    let line = screen.lines().nth(y).unwrap_or_default();
    let at = line
        .find(text)
        .unwrap_or_else(|| panic!("no {text:?} on line {y}:\n{screen}"));
    line[..at].chars().count() + text.chars().count() / 2
}

/// Presses and releases the left button at screen line `y`, column `x` (0-based), as a
/// terminal with SGR mouse reporting writes it.
fn click(tmux: &Tmux, x: usize, y: usize) {
    tmux.type_text(&format!("\x1b[<0;{};{}M", x + 1, y + 1));
    tmux.type_text(&format!("\x1b[<0;{};{}m", x + 1, y + 1));
}

/// "N threads, M frames" as the prompt counts the matches of `needle` (no capital, so any
/// case) in a trace of `pid`: threads whose name or wait matches, or a frame's symbol, source
/// file or module; and the matching frames. Counted here from a trace of our own.
fn expected_count(pid: u32, needle: &str) -> (usize, usize) {
    let p = rstack_tui::trace(pid).expect("trace the fixture");
    let has = |s: &str| s.to_lowercase().contains(needle);
    let (mut threads, mut frames) = (0, 0);
    for t in p.threads() {
        let f = t.facts();
        let own = t.name().is_some_and(has)
            || f.wait.as_deref().is_some_and(has)
            || f.wchan.as_deref().is_some_and(has)
            || f.syscall.as_ref().and_then(|s| s.name()).is_some_and(has);
        let n = t
            .frames()
            .iter()
            .filter(|fr| {
                fr.symbol().is_some_and(|s| has(s.name()))
                    || fr.location().is_some_and(|l| has(&l.file))
                    || fr.module().is_some_and(|m| has(&m.path))
            })
            .count();
        threads += usize::from(own || n > 0);
        frames += n;
    }
    (threads, frames)
}

fn count_text((threads, frames): (usize, usize)) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{threads} thread{}, {frames} frame{}",
        s(threads),
        s(frames)
    )
}

#[test]
fn search_counts_as_typed_runs_no_other_key_and_esc_clears_only_it() {
    let fx = Fixture::spawn(threads_bin(), &["park", "6"]);
    // At 80x24 the panes are stacked, at 200x50 side by side.
    for (w, h) in SIZES {
        search_round(&fx, w, h);
    }
}

fn search_round(fx: &Fixture, w: u16, h: u16) {
    let pid = fx.pid();
    let worker = |i: usize| tid_named(pid, &format!("worker-{i}"));
    let (tmux, reaper) = inspect(fx, w, h, &["--interval", "0.5"]);
    tmux.wait_for(" Threads (7) ");

    // "call_main" holds both m (the mode switch) and c (the group view); the main thread
    // starts in glibc's __libc_start_call_main.
    let needle = "call_main";
    let expected = expected_count(pid, needle);
    assert!(expected.0 >= 1, "the needle matches nothing: {expected:?}");
    tmux.type_text(&format!("/{needle}"));
    let prompt = format!(" /{needle}█  {} ", count_text(expected));
    let screen = tmux.wait_screen("the prompt with its count", |s| {
        footer(s).starts_with(&prompt)
    });
    assert!(
        status_line(&screen).is_some_and(|l| l.starts_with(" rolling ·")),
        "m switched the mode:\n{screen}"
    );
    assert!(
        screen.contains(" Threads (7) ") && !screen.contains(" Groups ("),
        "c changed the view:\n{screen}"
    );
    // Refreshes go on while the prompt is open, and recount the same.
    let before = status_line(&screen).map(str::to_string);
    let screen = tmux.wait_screen("a refresh with the prompt open", |s| {
        status_line(s).map(str::to_string) != before && !s.contains("tracing…")
    });
    assert!(footer(&screen).starts_with(&prompt), "{screen}");
    assert!(status_line(&screen).is_some_and(|l| l.starts_with(" rolling ·")));

    // Enter keeps it: the count stays, n/N/f are offered.
    tmux.send_keys(&["Enter"]);
    let kept = format!(" /{needle}  {} ", count_text(expected));
    tmux.wait_screen("the kept search", |s| {
        footer(s).starts_with(&kept) && footer(s).contains("n next")
    });

    // A new search: workers 1, 2, 4 and 5 park through level_two (one frame each); the
    // selection goes to the first match as it is typed.
    tmux.type_text("/level_two");
    tmux.wait_screen("level_two counted and the first match selected", |s| {
        footer(s).starts_with(" /level_two█  4 threads, 4 frames ")
            && stack_tid(s) == Some(worker(1))
    });
    tmux.send_keys(&["Enter"]);
    for (key, want) in [("n", 2), ("n", 4), ("n", 5), ("n", 1), ("N", 5), ("N", 4)] {
        tmux.send_keys(&[key]);
        tmux.wait_screen(&format!("{key} selecting worker-{want}"), |s| {
            stack_tid(s) == Some(worker(want))
        });
    }

    // f: only the matches, and the title says so; \ shows all again.
    tmux.send_keys(&["f"]);
    // (A large screen reaches tmux a line at a time: wait for the rows, not just the title.)
    let matches = [worker(1), worker(2), worker(4), worker(5)];
    tmux.wait_screen("the four matches, filtered", |s| {
        s.contains(" Threads (4 of 7, filtered: /level_two) ")
            && tid_rows(s).into_iter().map(|(_, t)| t).eq(matches)
    });
    tmux.send_keys(&["\\"]);
    tmux.wait_for(" Threads (7) ");
    tmux.send_keys(&["f"]);
    tmux.wait_for(" Threads (4 of 7, filtered: /level_two) ");

    // Esc clears the search and the filter, and stays in the process, selection kept.
    tmux.send_keys(&["Escape"]);
    let screen = tmux.wait_screen("the search cleared", |s| {
        footer(s).starts_with(" q quit") && s.contains(" Threads (7) ")
    });
    assert!(
        screen.starts_with(&format!(" pid {pid} ")) && !screen.contains("Processes ("),
        "Esc left the process:\n{screen}"
    );
    assert_eq!(stack_tid(&screen), Some(worker(4)), "{screen}");
    quit(&tmux, &reaper, fx);
}

#[test]
fn h_goes_from_a_waiter_to_the_holder_and_along_the_deadlock() {
    let fx = Fixture::spawn(deadlock_bin(), &[]);
    for (w, h) in SIZES {
        holder_round(&fx, w, h);
    }
}

fn holder_round(fx: &Fixture, w: u16, h: u16) {
    let pid = fx.pid();
    let tid = |name: &str| tid_named(pid, name);
    let (a, b, holder, waiter) = (tid("lock-a"), tid("lock-b"), tid("holder"), tid("waiter"));
    let (tmux, reaper) = inspect(fx, w, h, &[]);
    tmux.wait_for("DEADLOCK");

    // Select the waiter (by a search), then clear the search.
    tmux.type_text("/waiter");
    tmux.wait_screen("the waiter selected", |s| stack_tid(s) == Some(waiter));
    tmux.send_keys(&["Escape"]);
    // Its frames pane says what the holder does.
    let screen = tmux.wait_screen("the owner line", |s| {
        let owner = format!("owner {holder} \"holder\": S");
        footer(s).starts_with(" q quit")
            && frames_pane(s).iter().any(|(_, _, l)| l.contains(&owner))
    });
    assert_eq!(stack_tid(&screen), Some(waiter));

    tmux.send_keys(&["H"]);
    tmux.wait_screen("the holder selected", |s| stack_tid(s) == Some(holder));

    // The holder waits for no mutex: H goes into the deadlock, then along it (each thread of
    // the cycle waits for the other).
    tmux.send_keys(&["H"]);
    let screen = tmux.wait_screen(
        "a thread of the cycle selected",
        |s| matches!(stack_tid(s), Some(t) if t == a || t == b),
    );
    let first = stack_tid(&screen).unwrap();
    let other = if first == a { b } else { a };
    tmux.send_keys(&["H"]);
    tmux.wait_screen("the other thread of the cycle", |s| {
        stack_tid(s) == Some(other)
    });
    tmux.send_keys(&["H"]);
    tmux.wait_screen("back to the first", |s| stack_tid(s) == Some(first));
    quit(&tmux, &reaper, fx);
}

#[test]
fn a_click_selects_the_row_under_the_pointer_in_a_scrolled_list() {
    // More threads than the threads pane shows at 200x50 (44 rows).
    let fx = Fixture::spawn(threads_bin(), &["park", "60"]);
    for (w, h) in SIZES {
        click_thread_round(&fx, w, h);
    }
    // The process list, filtered to fixtures of this test only (their command line says
    // "navclick"; nothing else is opened): more of them than the list shows at 200x50.
    let many: Vec<Fixture> = (0..50)
        .map(|_| Fixture::spawn(threads_bin(), &["park", "1", "navclick"]))
        .collect();
    for (w, h) in SIZES {
        click_process_round(&many, w, h);
    }
    for f in &many {
        f.assert_running();
    }
}

fn click_thread_round(fx: &Fixture, w: u16, h: u16) {
    let (tmux, reaper) = inspect(fx, w, h, &[]);
    tmux.wait_for(" Threads (61) ");

    // To the last thread: the list scrolls.
    tmux.send_keys(&["G"]);
    let screen = tmux.wait_screen("the list scrolled to the last thread", |s| {
        let rows = tid_rows(s);
        rows.len() > 3 && stack_tid(s) == rows.last().map(|r| r.1)
    });
    let rows = tid_rows(&screen);
    assert_ne!(rows[0].1, fx.pid(), "the list did not scroll:\n{screen}");
    let (y, tid) = rows[2];
    click(&tmux, column_of(&screen, y, &tid.to_string()), y);
    let after = tmux.wait_screen("the clicked thread selected", |s| stack_tid(s) == Some(tid));
    assert_eq!(tid_rows(&after), rows, "the view moved:\n{after}");
    quit(&tmux, &reaper, fx);
}

/// Sorted by pid and scrolled to its end, a double click on a row of the process list opens
/// that process.
fn click_process_round(many: &[Fixture], w: u16, h: u16) {
    let mut pids: Vec<u32> = many.iter().map(Fixture::pid).collect();
    pids.sort();
    let n = pids.len();
    let tmux = Tmux::exec(w, h, &[BIN]);
    let reaper = Reaper(tmux.pane_pid());
    tmux.wait_for("Processes (");
    tmux.type_text("/navclick");
    tmux.send_keys(&["Enter"]);
    tmux.send_keys(&["s", "s", "s"]);
    tmux.wait_screen(&format!("our {n} fixtures by pid"), |s| {
        s.contains(&format!("Processes ({n})")) && s.contains("PID▲")
    });
    tmux.send_keys(&["G"]);
    let screen = tmux.wait_screen("the list scrolled to its end", |s| {
        s.lines()
            .any(|l| l.split_whitespace().next() == Some(&pids[n - 1].to_string()))
            && !s
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&pids[0].to_string()))
    });
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("PID")).unwrap();
    let rows: Vec<(usize, u32)> = lines
        .iter()
        .enumerate()
        .skip(header + 1)
        // Data rows start at column 0; the status line and footer below with a space.
        .filter(|(_, l)| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|(i, l)| Some((i, l.split_whitespace().next()?.parse().ok()?)))
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        pids[n - rows.len()..],
        "{screen}"
    );
    let (y, pid) = rows[1];
    let x = column_of(&screen, y, &pid.to_string());
    click(&tmux, x, y);
    click(&tmux, x, y);
    let screen = tmux.wait_for(" Threads (");
    assert!(
        screen.starts_with(&format!(" pid {pid} ")),
        "a double click on {pid} opened another process:\n{screen}"
    );
    let opened = many.iter().find(|f| f.pid() == pid).unwrap();
    quit(&tmux, &reaper, opened);
}
