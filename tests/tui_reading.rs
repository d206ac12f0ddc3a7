//! The inspector as people read it, end to end: the real binary in tmux against a fixture
//! parked under a C++ name wider than any terminal, at 80x24 and 250x50. A cut is marked with
//! an ellipsis and never falls in an id or a `file:line`; Enter on a frame shows it whole, with
//! the source lines around its line; `→` scrolls a long symbol to its tail; Esc goes back one
//! level.

mod common;

use std::sync::Arc;

use common::tmux::{Reaper, Tmux};
use common::{Fixture, long_names_bin, tid_named, trace_with, tracer_pid};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rstack_tui::UnwindMethod;
use rstack_tui::app::{Action, App};
use rstack_tui::tracer::schema::SnapshotDoc;
use rstack_tui::ui::{self, keymap::Command};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");
/// The fixture's source, whose lines the detail view must show.
const SOURCE: &str = include_str!("fixtures/long_names.cpp");

/// The long frame as the tracer sees it: what the screen must show.
struct LongFrame {
    tid: u32,
    /// Its number in the waiter's stack.
    index: usize,
    /// The demangled name, whole.
    name: String,
    /// The frames pane's symbol cell, `name+0xoff`.
    cell: String,
    file: String,
    line: u32,
}

/// Traces the fixture once (before the inspector, which then traces it itself) for the long
/// frame of the thread "long-waiter".
fn long_frame(fx: &Fixture) -> LongFrame {
    let tid = tid_named(fx.pid(), "long-waiter");
    let p = trace_with(fx.pid(), UnwindMethod::Copy, false);
    let t = p.threads().iter().find(|t| t.id() == tid).unwrap();
    let (index, f) = t
        .frames()
        .iter()
        .enumerate()
        .find(|(_, f)| {
            f.symbol()
                .is_some_and(|s| s.name().starts_with("reading::Registry<"))
        })
        .unwrap_or_else(|| panic!("no Registry frame in {:?}", t.frames()));
    let s = f.symbol().unwrap();
    let l = f.location().expect("the fixture is built with -g");
    assert!(s.name().len() > 500, "a name wider than any terminal");
    LongFrame {
        tid,
        index,
        name: s.name().to_string(),
        cell: format!("{}+{:#x}", s.name(), s.offset()),
        file: l.file.clone(),
        line: l.line,
    }
}

/// The row of frame `index` in the frames pane.
fn frame_row(screen: &str, index: usize) -> Option<&str> {
    let mark = format!("#{index} ");
    screen
        .lines()
        .skip_while(|l| !l.contains(" Stack of "))
        .find(|l| l.contains(&mark))
}

/// The symbol cell of a frame row: between `#n` (and the address, when shown) and the
/// `file:line` that follows it.
fn symbol_cell<'a>(row: &'a str, index: usize, place: &str) -> &'a str {
    let mark = format!("#{index} ");
    let start = row.find(&mark).unwrap() + mark.len();
    let end = row
        .find(place)
        .unwrap_or_else(|| panic!("{place} not whole in {row:?}"));
    let cell = row[start..end].trim();
    match cell.split_once(' ') {
        Some((address, rest)) if address.starts_with("0x") => rest.trim_start(),
        _ => cell,
    }
}

/// The lines inside the detail view's border, without it.
fn detail_lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains(" Frame #"))
        .skip(1)
        .take_while(|l| l.starts_with('│'))
        .map(|l| {
            let inner: String = l.chars().skip(1).collect();
            inner.strip_suffix('│').unwrap_or(&inner).to_string()
        })
        .collect()
}

/// The value of field `label` of the detail view: its line and the continuation lines after
/// it (their 10 columns of label blank), joined.
fn field(lines: &[String], label: &str) -> Option<String> {
    let head = format!("{label:<10}");
    let at = lines.iter().position(|l| l.starts_with(&head))?;
    let mut value = lines[at][10..].trim_end().to_string();
    for l in &lines[at + 1..] {
        match l.strip_prefix("          ") {
            Some(rest) if !rest.trim().is_empty() => value.push_str(rest.trim_end()),
            _ => break,
        }
    }
    Some(value)
}

/// `text` in `room` columns as the inspector cuts it (the fixture's source is ASCII).
fn cut(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(room - 1).collect();
        s.push('…');
        s
    }
}

/// The detail view's source rows around the frame's line at `width` columns, marked.
fn expected_source(f: &LongFrame, width: u16) -> Vec<String> {
    let lines: Vec<&str> = SOURCE.lines().collect();
    let first = f.line - 5;
    let digits = (first as usize + 11).to_string().len();
    (first..=f.line + 5)
        .map(|n| {
            let mark = if n == f.line { "▶" } else { " " };
            let head = format!("{mark} {n:>digits$} │ ");
            let room = usize::from(width) - 2 - head.chars().count();
            format!("{head}{}", cut(lines[n as usize - 1], room))
                .trim_end()
                .to_string()
        })
        .collect()
}

/// Presses `key` until `cond` holds for the screen, each press once `seen` (what the key
/// changes) shows its effect; at most `most` presses.
fn press_until(
    tmux: &Tmux,
    key: &str,
    most: usize,
    seen: impl Fn(&str) -> Option<String>,
    cond: impl Fn(&str) -> bool,
) -> String {
    let mut screen = tmux.capture();
    let mut trail = Vec::new();
    for _ in 0..most {
        trail.push(seen(&screen));
        if cond(&screen) {
            return screen;
        }
        let before = seen(&screen);
        tmux.send_keys(&[key]);
        screen = tmux.wait_screen(&format!("{key} to change {before:?}"), |s| {
            seen(s) != before || cond(s)
        });
    }
    panic!("{most} presses of {key} did not do it: {trail:#?}; the screen:\n{screen}");
}

/// The frames pane: the long symbol cut with a mark, its file:line whole; side by side, the
/// stacks get the room.
fn frames_pane_marks_the_cut(tmux: &Tmux, f: &LongFrame, title: &str, width: u16) {
    let place = format!("fixtures/long_names.cpp:{}", f.line);
    // The frames pane: the long symbol cut with a mark, its file:line whole.
    let screen = tmux.wait_screen("the waiter's stack", |s| {
        s.contains(title) && frame_row(s, f.index).is_some_and(|r| r.contains(&place))
    });
    let row = frame_row(&screen, f.index).unwrap();
    let cell = symbol_cell(row, f.index, &place);
    let shown = cell
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("no mark on the cut {row:?}"));
    assert!(
        f.cell.starts_with(shown),
        "{cell:?} is not the head of {:?}",
        f.cell
    );
    // The threads pane's ids are whole.
    let threads_row = screen
        .lines()
        .find(|l| l.starts_with(&format!("{} ", f.tid)))
        .unwrap_or_else(|| panic!("no row for {} in\n{screen}", f.tid));
    assert!(
        threads_row.starts_with(&format!("{:<8}long-waiter S ", f.tid)),
        "{screen}"
    );
    if width >= 160 {
        // Side by side, the stacks get the room: the threads pane keeps 90 columns.
        let title_line = screen.lines().find(|l| l.contains(title)).unwrap();
        let at = title_line
            .chars()
            .collect::<String>()
            .find(" Stack of ")
            .unwrap();
        assert_eq!(title_line[..at].chars().count(), 90, "{screen}");
        assert!(shown.chars().count() >= 90, "{shown:?} at {width} columns");
    }
}

/// `→` scrolls the long symbol in place to its tail, `←` back to its head.
fn arrows_scroll_to_the_tail(tmux: &Tmux, f: &LongFrame) {
    let place = format!("fixtures/long_names.cpp:{}", f.line);
    // → scrolls the long symbol in place, to its tail: "…" and the cell's end, exactly.
    tmux.send_keys(&["Tab"]);
    let cell_of = |s: &str| {
        frame_row(s, f.index)
            .filter(|r| r.contains(&place))
            .map(|r| symbol_cell(r, f.index, &place).to_string())
    };
    let screen = press_until(tmux, "Right", 400, cell_of, |s| {
        cell_of(s).is_some_and(|c| {
            c.strip_prefix('…')
                .is_some_and(|tail| f.cell.ends_with(tail))
        })
    });
    let cell = cell_of(&screen).unwrap();
    let tail = cell.strip_prefix('…').unwrap();
    assert!(f.cell.ends_with(tail) && tail.len() > 10, "{cell:?}");
    // ← back to its head.
    press_until(tmux, "Left", 400, cell_of, |s| {
        cell_of(s).is_some_and(|c| c.starts_with("reading::Registry<") && c.ends_with('…'))
    });
}

/// Enter on the frame: the detail view, the whole symbol, its file:line, the source lines.
fn detail_view_reads_whole(tmux: &Tmux, f: &LongFrame, width: u16) {
    // Enter on the frame: the detail view, the whole symbol, its file:line, the source.
    tmux.send_keys(&["g"]);
    for _ in 0..f.index {
        tmux.send_keys(&["j"]);
    }
    tmux.send_keys(&["Enter"]);
    let frame_title = format!(" Frame #{} (Esc closes) ", f.index);
    // Drawn to its bottom border (a large screen takes a while to reach the terminal).
    let screen = tmux.wait_screen("the detail view", |s| {
        s.contains(&frame_title) && s.contains('└')
    });
    let lines = detail_lines(&screen);
    let symbol = field(&lines, "symbol").unwrap_or_else(|| panic!("no symbol in\n{screen}"));
    if lines.iter().any(|l| l.starts_with("at ")) {
        assert_eq!(symbol, f.name, "{screen}");
    } else {
        // Taller than the view: what is shown is the head, wrapped, not cut.
        assert!(
            f.name.starts_with(&symbol) && !symbol.is_empty(),
            "{screen}"
        );
    }
    // The end of the view: the place and the source lines, the frame's line marked (waited
    // for whole: the screen reaches the terminal a line at a time).
    tmux.send_keys(&["G"]);
    let expected = expected_source(f, width);
    let source_rows = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .skip_while(|l| !l.contains(" │ "))
            .take(11)
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    let screen = tmux.wait_screen("the source lines", |s| {
        source_rows(&detail_lines(s)) == expected
    });
    let lines = detail_lines(&screen);
    let at = field(&lines, "at").unwrap_or_else(|| panic!("no file:line in\n{screen}"));
    assert!(
        at.starts_with(&format!("{}:{}", f.file, f.line)),
        "{at:?}\n{screen}"
    );
    assert!(
        expected[5].starts_with(&format!("▶ {} │ ", f.line))
            && expected[5].contains("park_forever();  // the long frame's call"),
        "{expected:?}"
    );
    if width < 160 {
        // G stopped at the last line: one k scrolls up exactly one line (no dead presses).
        tmux.send_keys(&["k"]);
        tmux.wait_screen("one line up", |s| {
            let up = detail_lines(s);
            up.len() == lines.len() && up[1..] == lines[..lines.len() - 1]
        });
    }
    if width >= 160 {
        let module = field(&lines, "module").unwrap();
        assert!(module.ends_with("/longnames"), "{module:?}");
        // The build-id, read from the file the process maps, as the ELF note says.
        let data = std::fs::read(long_names_bin()).unwrap();
        let elf = object::File::parse(&*data).unwrap();
        let id: String = object::Object::build_id(&elf)
            .unwrap()
            .expect("g++ links a build-id")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(field(&lines, "build-id"), Some(id), "{screen}");
    }
}

/// The whole session at one size: the frames pane, the arrows, the detail view, Esc, q; the
/// fixture runs on untraced.
fn read_the_long_frame(width: u16, height: u16) {
    let fx = Fixture::spawn(long_names_bin(), &[]);
    let f = long_frame(&fx);
    let tmux = Tmux::exec(width, height, &[BIN, "-p", &f.tid.to_string()]);
    let ui = tmux.pane_pid();
    let _reaper = Reaper(ui);

    let title = format!(" Stack of {} \"long-waiter\" ", f.tid);
    frames_pane_marks_the_cut(&tmux, &f, &title, width);
    arrows_scroll_to_the_tail(&tmux, &f);
    detail_view_reads_whole(&tmux, &f, width);

    // Esc: one level back, to the inspector (not the process list).
    tmux.send_keys(&["Escape"]);
    let screen = tmux.wait_screen("the detail view closed", |s| {
        !s.contains(" Frame #") && s.contains(&title)
    });
    assert!(
        screen.starts_with(&format!(" pid {} ", fx.pid())),
        "{screen}"
    );

    tmux.send_keys(&["q"]);
    tmux.wait_exited(ui);
    fx.assert_running();
    for tid in [fx.pid(), f.tid] {
        assert_eq!(
            tracer_pid(tid),
            0,
            "thread {tid} of the fixture left traced"
        );
    }
}

#[test]
fn a_long_frame_reads_whole_at_80x24() {
    read_the_long_frame(80, 24);
}

#[test]
fn a_long_frame_reads_whole_at_250x50() {
    read_the_long_frame(250, 50);
}

/// Two threads of 29086 waiting for each other's mutex, with long names, and a figure-heavy
/// status line: drawn into a test backend (no terminal needed).
fn deadlocked_app() -> App {
    let frame = |i: u64, symbol: &str| {
        serde_json::json!({"ip": 0x5555_0000_1000u64 + i * 0x40, "symbol": symbol,
            "raw_symbol": symbol, "offset": 0x10, "module": "/srv/server",
            "module_offset": 0x1000 + i, "is_signal": false,
            "file": "/build/server/src/pool.rs", "line": 442 + i})
    };
    let thread = |tid: u32, owner: u32| {
        serde_json::json!({"tid": tid, "name": format!("worker-with-a-long-name-{tid}"),
            "state": "S", "wchan": "futex_do_wait",
            "syscall": {"number": 202, "name": "futex", "args": [0, 0, 0, 0, 0, 0]},
            "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40, "truncated": false,
            "error": null, "end_note": null,
            "lock": {"address": 0x5555_1234_0040u64, "owner": owner, "note": null},
            "frames": [frame(0, "pthread_mutex_lock"),
                frame(1, "server::pool::Registry<std::map<std::string, std::vector<int>>>::take_the_lock_for_a_long_time"),
                frame(2, "server::main")]})
    };
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 29086, "command": "/srv/server --port 8080 --workers 4",
        "taken_at": "", "taken_at_unix_ms": 1_795_953_600_000u64, "mode": "rolling",
        "elapsed_us": 12_300, "longest_stop_us": 4_470, "deadlocks": [[29086, 29087]],
        "threads": [thread(29086, 29087), thread(29087, 29086)]
    }))
    .unwrap();
    let mut app = App::new();
    app.update(Action::Inspect(29086));
    app.update(Action::Snapshot(Arc::new(doc.to_process())));
    app
}

fn draw(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buf = terminal.backend().buffer();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

/// Ids, figures and `file:line` are never cut at any width: a column or a figure goes whole,
/// and text that is cut ends in the mark.
#[test]
fn no_id_or_figure_is_cut_at_any_width() {
    let mut app = deadlocked_app();
    app.update(Action::Command(Command::NextPane));
    for width in [40u16, 60, 80, 100, 160, 250] {
        let lines = draw(&app, width, 30);
        let screen = lines.join("\n");
        // No cut falls inside a word with a digit (an id, an address, a line number).
        for l in &lines {
            for (at, _) in l.match_indices('…') {
                let word: String = l[..at]
                    .chars()
                    .rev()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                assert!(
                    !word.chars().any(|c| c.is_ascii_digit()),
                    "a number cut in {l:?} at {width}:\n{screen}"
                );
            }
        }
        // The owner in the threads pane, whole or with its column gone.
        for l in lines.iter().filter(|l| l.contains("held by")) {
            assert!(
                l.contains("held by 29087") || l.contains("held by 29086"),
                "{screen}"
            );
        }
        // The lock's note below the stack spans the pane: its owner whole where it fits.
        let note = "waiting for mutex 0x555512340040 held by 29087";
        if width >= 70 {
            assert!(screen.contains(note), "{width}:\n{screen}");
        }
        // file:line whole wherever it shows.
        for l in lines.iter().filter(|l| l.contains("src/pool.rs")) {
            assert!(l.contains("src/pool.rs:44"), "{screen}");
        }
        // The status line: each figure whole, with its unit, or not there.
        let status = &lines[lines.len() - 2];
        let figures = [
            "rolling · auto 2.0s",
            "taken 12:00:00 UTC",
            "took 12.3 ms",
            "stopped 2/2 ≤ 4.47 ms",
        ];
        for part in status.split(" · ").map(str::trim) {
            assert!(
                figures.iter().any(|f| f.contains(part)) && !part.ends_with('…'),
                "{part:?} in {status:?}"
            );
        }
        // Every cut text ends in the mark: a long name or symbol is never silently clipped.
        let long = "server::pool::Registry<std::map<std::string, std::vector<int>>>::take_the_lock_for_a_long_time+0x10";
        for l in lines
            .iter()
            .filter(|l| l.contains("server::pool::Registry<"))
        {
            let from = l.find("server::pool::Registry<").unwrap();
            let shown: String = l[from..].split("  ").next().unwrap().to_string();
            let shown = shown.split(" src/").next().unwrap().trim_end();
            assert!(
                long.starts_with(shown)
                    || shown.strip_suffix('…').is_some_and(|h| long.starts_with(h)),
                "{shown:?} at {width}:\n{screen}"
            );
        }
    }
    // The footer leaves out a key that does not fit, whole.
    let lines = draw(&app, 40, 30);
    assert_eq!(lines[29], " q quit  ? help  r snap  Space pause");
    // At 80 columns exactly: the header keeps the pid, the deadlock is cut with the mark.
    let lines = draw(&app, 80, 24);
    assert!(
        lines[0].starts_with(" pid 29086  DEADLOCK 29086 "),
        "{lines:?}"
    );
    assert!(lines[0].ends_with('…'), "{lines:?}");
    assert_eq!(
        lines[lines.len() - 2],
        " rolling · auto 2.0s · taken 12:00:00 UTC · took 12.3 ms · stopped 2/2 ≤ 4.47 ms"
    );
}
