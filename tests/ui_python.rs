//! The inspector on a CPython process, without a terminal: a snapshot with Python frames
//! spliced into the native stacks (built as the JSON a dump writes), driven with `Action`s and
//! rendered into ratatui's `TestBackend`: the Python name and frame in the threads pane, the
//! brief form (`b`) and its selection, Python frames' style, and their detail with source.

use std::sync::Arc;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use rstack_tui::Process;
use rstack_tui::app::look::{ColorLevel, Look};
use rstack_tui::app::{Action, App, Inspector, Pane, Settings};
use rstack_tui::tracer::schema::SnapshotDoc;
use rstack_tui::ui::{self, keymap::Command};

const PY: &str = "/usr/bin/python3.11";
const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";

/// A native frame of `module`.
fn native(i: u64, symbol: &str, module: &str) -> serde_json::Value {
    serde_json::json!({"ip": 0x5555_0000_1000u64 + i * 0x40, "symbol": symbol,
        "raw_symbol": symbol, "offset": 0x10 + i, "module": module, "module_offset": 0x1000 + i,
        "is_signal": false})
}

/// A Python frame: no address or module, a file and line.
fn python(symbol: &str, file: &str, line: u32) -> serde_json::Value {
    serde_json::json!({"kind": "python", "ip": 0, "symbol": symbol, "file": file, "line": line,
        "is_signal": false})
}

/// Process `pid` (700 but where a file is read), `python3 app.py`: its main thread and "waiter" (OS name `python3`) blocked in
/// `wait_here` called from `run`, with the interpreter's frames between and around them;
/// `source` is the Python file the frames name; `pid` the process's id.
fn snapshot_of(source: &str, pid: u32) -> Arc<Process> {
    let waiter = vec![
        native(0, "__futex_abstimed_wait_common", LIBC),
        native(1, "PyThread_acquire_lock_timed", PY),
        python("wait_here", source, 3),
        native(3, "_PyEval_EvalFrameDefault", PY),
        native(4, "_PyFunction_Vectorcall", PY),
        native(5, "method_vectorcall", PY),
        python("Waiter.run", source, 6),
        native(7, "_PyEval_EvalFrameDefault", PY),
        native(8, "thread_run", PY),
        native(9, "start_thread", LIBC),
    ];
    let main = vec![
        native(0, "__futex_abstimed_wait_common", LIBC),
        python("main", source, 9),
        native(2, "_PyEval_EvalFrameDefault", PY),
        native(3, "Py_RunMain", PY),
        native(4, "__libc_start_main", LIBC),
    ];
    let thread = |tid: u32, py: &str, frames: Vec<serde_json::Value>| {
        serde_json::json!({"tid": tid, "name": "python3", "state": "S", "wchan": "futex_do_wait",
            "syscall": {"number": 202, "name": "futex", "args": [0,0,0,0,0,0]},
            "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40, "truncated": false,
            "error": null, "end_note": null, "frames": frames,
            "python": {"holds_gil": false, "name": py, "note": null}})
    };
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 2, "pid": pid, "command": "python3 app.py", "taken_at": "",
        "taken_at_unix_ms": 1_795_953_600_000u64, "mode": "rolling", "elapsed_us": 900,
        "longest_stop_us": 60,
        "threads": [thread(700, "MainThread", main), thread(701, "waiter", waiter)]
    }))
    .unwrap();
    Arc::new(doc.to_process())
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    terminal.backend().to_string()
}

fn cmd(app: &mut App, c: Command) {
    app.update(Action::Command(c));
}

fn inspector(app: &App) -> &Inspector {
    app.inspector().expect("a process is inspected")
}

/// The inspector of process 700 with colour or not, thread "waiter" selected.
fn inspecting(source: &str, colors: ColorLevel) -> App {
    inspecting_as(source, colors, 700)
}

/// As [`inspecting`], the snapshot process `pid`'s (a Python file is read inside its root).
fn inspecting_as(source: &str, colors: ColorLevel, pid: u32) -> App {
    let mut app = App::new();
    app.update(Action::Start(Settings {
        interval: rstack_tui::app::DEFAULT_INTERVAL,
        snapshot_mode: false,
        mouse: true,
        look: Look {
            colors,
            ..Look::default()
        },
    }));
    app.update(Action::Inspect(pid));
    app.update(Action::Snapshot(snapshot_of(source, pid)));
    cmd(&mut app, Command::Down);
    assert_eq!(inspector(&app).selected_tid(), Some(701));
    app
}

#[test]
fn the_threads_pane_shows_python_names_and_frames_and_b_shows_the_stack_in_brief() {
    let mut app = inspecting("/srv/app.py", ColorLevel::None);
    let screen = render(&app, 100, 30);
    assert_snapshot!("python_process_100x30", screen);
    // The Python name where the OS name is the generic one, the innermost Python frame as the
    // top frame (not the futex wrapper or the lock function under it); the footer offers `b`.
    let waiter = screen.lines().find(|l| l.starts_with("\"701 ")).unwrap();
    assert!(
        waiter.contains("waiter") && waiter.contains("[py] wait_here"),
        "{waiter}"
    );
    let main = screen.lines().find(|l| l.starts_with("\"700 ")).unwrap();
    assert!(
        main.contains("MainThread") && main.contains("[py] main"),
        "{main}"
    );
    assert!(screen.contains("b brief"), "{screen}");

    // Frame 4 (an interpreter frame between the Python frames) selected, then brief: it is
    // left out, so the nearest frame shown is selected (equally far: the inner one, 2).
    cmd(&mut app, Command::NextPane);
    for _ in 0..4 {
        cmd(&mut app, Command::Down);
    }
    assert_eq!(inspector(&app).selected_frame(), 4);
    cmd(&mut app, Command::BriefFrames);
    let i = inspector(&app);
    assert!(i.brief());
    assert_eq!((i.selected_frame(), i.selected_frame_row()), (2, 2));
    let screen = render(&app, 100, 30);
    assert_snapshot!("python_process_brief_100x30", screen);
    assert!(screen.contains("3 interpreter frames"), "{screen}");
    assert!(screen.contains("(brief)"), "{screen}");
    // The evaluator frame that runs `wait_here` and the calls up to `run` go; the one that
    // runs the outermost Python frame stays, with what is outside it.
    let stack: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("Stack of 701"))
        .collect();
    assert_eq!(
        stack
            .iter()
            .filter(|l| l.contains("_PyEval_EvalFrameDefault"))
            .count(),
        1
    );
    assert!(!screen.contains("method_vectorcall"));
    assert!(screen.contains("thread_run"));

    // Down from `wait_here` skips the marker to `Waiter.run`; Enter opens that frame.
    cmd(&mut app, Command::Down);
    let i = inspector(&app);
    assert_eq!((i.selected_frame(), i.selected_frame_row()), (6, 4));
    cmd(&mut app, Command::Enter);
    let d = inspector(&app).detail().unwrap().clone();
    assert_eq!(
        (d.index, d.symbol.as_deref(), d.python),
        (6, Some("Waiter.run"), true)
    );
    cmd(&mut app, Command::Back);

    // The whole stack again: the selected frame is kept, every frame is shown.
    cmd(&mut app, Command::BriefFrames);
    let i = inspector(&app);
    assert!(!i.brief());
    assert_eq!((i.selected_frame(), i.selected_frame_row()), (6, 6));
    let screen = render(&app, 100, 30);
    assert!(screen.contains("method_vectorcall") && !screen.contains("interpreter frames"));

    // The brief form stays for another thread; its frame 0 is always shown.
    cmd(&mut app, Command::BriefFrames);
    cmd(&mut app, Command::PrevPane);
    cmd(&mut app, Command::Up);
    let i = inspector(&app);
    assert_eq!(
        (i.selected_tid(), i.brief(), i.selected_frame()),
        (Some(700), true, 0)
    );
    assert_eq!(i.focus(), Pane::Threads);
}

#[test]
fn a_search_match_in_a_left_out_frame_shows_the_whole_stack() {
    let mut app = inspecting("/srv/app.py", ColorLevel::None);
    cmd(&mut app, Command::BriefFrames);
    cmd(&mut app, Command::Search);
    for c in "method_vec".chars() {
        app.update(Action::PromptChar(c));
    }
    let i = inspector(&app);
    assert_eq!((i.selected_tid(), i.selected_frame()), (Some(701), 5));
    assert!(!i.brief(), "the match is on screen");
    assert_eq!(i.selected_frame_row(), 5);
}

#[test]
fn python_frames_are_styled_apart_with_and_without_colour() {
    for colors in [ColorLevel::Ansi16, ColorLevel::None] {
        // Magenta in colour; italic without (the `[py]` says it in ASCII too).
        let apart = |s: ratatui::style::Style| match colors {
            ColorLevel::None => s.add_modifier.contains(Modifier::ITALIC),
            _ => s.fg == Some(Color::Magenta),
        };
        let app = inspecting("/srv/app.py", colors);
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|f| ui::render(&app, f)).unwrap();
        let buffer = terminal.backend().buffer();
        let text = terminal.backend().to_string();
        // The cell of a symbol's first character, by its text on screen.
        let style_at = |needle: &str| {
            let (y, line) = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains(needle))
                .last()
                .unwrap();
            let x = line[..line.find(needle).unwrap()].chars().count();
            buffer[(x as u16, y as u16)].style()
        };
        assert!(apart(style_at("[py] wait_here")), "{colors:?}");
        assert!(
            !apart(style_at("PyThread_acquire_lock_timed")),
            "{colors:?}"
        );
    }
}

#[test]
fn a_python_frames_detail_shows_its_file_line_and_source() {
    let dir = std::env::temp_dir().join(format!("rstack-ui-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.py");
    let source = "import threading\n\ndef wait_here(ev):\n    ev.wait()\n\n    pass\n";
    std::fs::write(&path, source).unwrap();
    let path = path.to_str().unwrap().to_string();
    // Live, as this test process: the file is read inside our own root.
    let mut app = inspecting_as(&path, ColorLevel::None, std::process::id());
    cmd(&mut app, Command::NextPane);
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Down);
    cmd(&mut app, Command::Enter);
    let d = inspector(&app).detail().unwrap().clone();
    assert_eq!((d.index, d.python, d.offset), (2, true, None));
    let excerpt = d.source.clone().unwrap().unwrap();
    assert_eq!((excerpt.first, excerpt.marked), (1, 3));
    assert_eq!(excerpt.lines[2], "def wait_here(ev):");
    let screen = render(&app, 100, 30);
    assert!(screen.contains(&format!("{path}:3")), "{screen}");
    assert!(screen.contains("▶ 3 │ def wait_here(ev):"), "{screen}");
    assert!(screen.contains("Python function"), "{screen}");
    // No address, module or build-id of its own.
    assert!(
        !screen.contains("build-id") && !screen.contains("address"),
        "{screen}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
