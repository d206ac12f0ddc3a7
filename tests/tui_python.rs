//! The inspector on a real CPython, end to end: Debian's python3 runs a script with a thread
//! named by `threading` blocked in a known function at a known line; the real binary in tmux
//! shows that name and `[py] function` as the thread's top frame, `b` leaves the interpreter's
//! frames between Python frames out (a row says how many) and `b` again shows them, and Enter
//! on the Python frame shows its file:line and the source line.

mod common;

use std::path::Path;

use common::tmux::Tmux;
use common::{Fixture, tracer_pid};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");
const PYTHON: &str = "/usr/bin/python3";

/// The script; `blocked_here` blocks at line 9, called from `outer_call` (line 12).
const SCRIPT: &str = "\
import threading, time

lock = threading.Lock()
lock.acquire()
up = threading.Semaphore(0)

def blocked_here():
    up.release()
    lock.acquire()

def outer_call():
    blocked_here()

t = threading.Thread(target=outer_call, name='py-waiter', daemon=True)
t.start()
up.acquire()
print('ready', flush=True)
print(t.native_id, flush=True)
time.sleep(3600)
";
const LINE: u32 = 9;

/// The frames pane's rows (side by side with the threads pane: the right half of each line).
fn stack_rows(screen: &str) -> Vec<String> {
    let Some(title) = screen.lines().find(|l| l.contains(" Stack of ")) else {
        return Vec::new();
    };
    let col = title[..title.find(" Stack of ").unwrap()].chars().count();
    screen
        .lines()
        .skip_while(|l| !l.contains(" Stack of "))
        .skip(1)
        .map(|l| l.chars().skip(col).collect::<String>())
        .filter(|l| l.starts_with('#') || l.starts_with(".."))
        .collect()
}

/// The frames pane shows a stack down to the thread's start (drawn whole, not mid-update).
fn whole_stack(rows: &[String]) -> bool {
    rows.iter().any(|r| r.contains("start_thread"))
}

fn count(rows: &[String], text: &str) -> usize {
    rows.iter().filter(|r| r.contains(text)).count()
}

/// `b`: the interpreter's frames between Python frames go, a row says how many, the evaluator
/// running the outermost Python frame stays, below every Python frame; `b` again: the whole
/// stack (`whole`'s rows) again. Returns that screen.
fn brief_and_back(tmux: &Tmux, whole: &[String]) -> String {
    let evaluators = count(whole, "_PyEval_EvalFrameDefault");
    tmux.send_keys(&["b"]);
    let screen = tmux.wait_screen("the brief form", |s| {
        let rows = stack_rows(s);
        rows.iter().any(|r| r.contains("interpreter frames")) && whole_stack(&rows)
    });
    let brief = stack_rows(&screen);
    assert!(screen.contains("(brief)"), "{screen}");
    assert_eq!(count(&brief, "_PyEval_EvalFrameDefault"), 1, "{brief:#?}");
    let evaluator = brief
        .iter()
        .position(|r| r.contains("_PyEval_EvalFrameDefault"))
        .unwrap();
    let last_python = brief.iter().rposition(|r| r.contains("[py] ")).unwrap();
    assert!(last_python < evaluator, "{brief:#?}");
    let hidden: usize = brief
        .iter()
        .filter_map(|r| r.split_whitespace().nth(1)?.parse::<usize>().ok())
        .sum();
    assert_eq!(
        brief.len() - count(&brief, "interpreter frames") + hidden,
        whole.len()
    );
    assert_eq!(count(&brief, "[py] "), count(whole, "[py] "));

    // `b` again: the whole stack.
    tmux.send_keys(&["b"]);
    let screen = tmux.wait_screen("the whole stack again", |s| {
        let rows = stack_rows(s);
        whole_stack(&rows) && count(&rows, "interpreter frames") == 0
    });
    assert_eq!(
        count(&stack_rows(&screen), "_PyEval_EvalFrameDefault"),
        evaluators
    );
    screen
}

#[test]
fn a_python_thread_reads_by_its_python_frames_in_brief_and_whole() {
    if !Path::new(PYTHON).exists() {
        println!("skipped: no {PYTHON}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rstack-tui-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let fx = Fixture::spawn(Path::new(PYTHON), &[script.to_str().unwrap()]);
    let tid: u32 = fx.next_line().trim().parse().unwrap();

    // Side by side, so the whole mixed stack fits in the frames pane.
    let tmux = Tmux::exec(200, 70, &[BIN, "-p", &tid.to_string()]);
    let ui = tmux.pane_pid();

    // The threads pane: the Python name (the OS name is python3's) and the innermost Python
    // frame as the top frame, not the lock's native frames.
    let screen = tmux.wait_screen("the waiter's row and stack", |s| {
        s.lines().any(|l| l.starts_with(&format!("{tid} ")))
            && stack_rows(s).iter().any(|r| r.contains("[py] outer_call"))
            && whole_stack(&stack_rows(s))
    });
    let row = screen
        .lines()
        .find(|l| l.starts_with(&format!("{tid} ")))
        .unwrap();
    assert!(row.contains("py-waiter"), "{row}");
    let top = row.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(top.contains("[py] blocked_here"), "{screen}");
    assert!(
        screen.contains(&format!(" Stack of {tid} \"py-waiter\"")),
        "{screen}"
    );
    assert!(screen.contains("b brief"), "the footer offers b: {screen}");

    // The whole stack: an evaluator frame for each run of Python frames.
    let whole = stack_rows(&screen);
    let evaluators = count(&whole, "_PyEval_EvalFrameDefault");
    assert!(evaluators >= 2, "{whole:#?}");
    assert_eq!(count(&whole, "interpreter frames"), 0);

    let screen = brief_and_back(&tmux, &whole);

    // Enter on the Python frame: its file:line and the line's source.
    let index = stack_rows(&screen)
        .iter()
        .find(|r| r.contains("[py] blocked_here"))
        .and_then(|r| {
            r.trim_start_matches('#')
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap();
    tmux.send_keys(&["Tab", "g"]);
    for _ in 0..index {
        tmux.send_keys(&["j"]);
    }
    tmux.send_keys(&["Enter"]);
    let screen = tmux.wait_for(&format!(" Frame #{index} "));
    let screen = if screen.contains("lock.acquire()") {
        screen
    } else {
        tmux.wait_for("lock.acquire()")
    };
    assert!(screen.contains("blocked_here"), "{screen}");
    assert!(
        screen.contains(&format!("{}:{LINE}", script.display())),
        "{screen}"
    );
    let marked = screen
        .lines()
        .find(|l| l.contains('▶') && l.contains(&format!(" {LINE} │")))
        .unwrap_or_else(|| panic!("no marked line {LINE}: {screen}"));
    assert!(marked.contains("    lock.acquire()"), "{marked}");

    tmux.send_keys(&["Escape", "q"]);
    tmux.wait_exited(ui);
    fx.assert_running();
    assert_eq!(tracer_pid(tid), 0, "the Python thread left traced");
    drop(fx);
    std::fs::remove_dir_all(&dir).unwrap();
}
