//! The profile view without a terminal: an app fed samples as the worker would send them,
//! driven by keys, rendered into ratatui's `TestBackend` at 80x24 and compared with `insta`
//! snapshots: the table and its sort, the flame graph, a zoom and back, the search's marks
//! and share, one thread's profile, and the view without colour or in ASCII.

use std::sync::Arc;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use rstack_tui::Process;
use rstack_tui::app::look::{ColorLevel, Look};
use rstack_tui::app::{Action, App, Effect, Settings};
use rstack_tui::tracer::schema::SnapshotDoc;
use rstack_tui::ui;

/// Process 4242 at `taken_ms`: main waits in a futex, worker-1 hashes on a CPU (in sha_block
/// or, every third sample, in digest itself), worker-2 reads a socket.
fn sample(taken_ms: u64, n: u64) -> Arc<Process> {
    let busy: &[&str] = if n % 3 == 2 {
        &["server::hash::digest", "server::handler::serve", "__clone3"]
    } else {
        &[
            "server::hash::sha_block",
            "server::hash::digest",
            "server::handler::serve",
            "__clone3",
        ]
    };
    let threads: [(u32, &str, char, &[&str]); 3] = [
        (
            4242,
            "server",
            'S',
            &[
                "syscall",
                "server::main_loop",
                "server::main",
                "__libc_start_main",
            ],
        ),
        (4244, "worker-1", 'R', busy),
        (
            4245,
            "worker-2",
            'S',
            &[
                "recv",
                "server::net::read_request",
                "server::handler::serve",
                "__clone3",
            ],
        ),
    ];
    let threads: Vec<serde_json::Value> = threads
        .iter()
        .map(|(tid, name, state, frames)| {
            let frames: Vec<serde_json::Value> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    serde_json::json!({
                        "ip": 0x5555_0000_1000u64 + (i as u64) * 0x40, "symbol": f,
                        "raw_symbol": f, "offset": 0x10, "module": "/srv/server",
                        "module_offset": 0x1000 + i as u64, "is_signal": false
                    })
                })
                .collect();
            serde_json::json!({
                "tid": tid, "name": name, "state": state.to_string(), "wchan": null,
                "syscall": null, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40,
                "truncated": false, "error": null, "end_note": null, "frames": frames
            })
        })
        .collect();
    let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 4242, "command": "/srv/server --port 8080",
        "taken_at": "", "taken_at_unix_ms": taken_ms, "mode": "rolling",
        "elapsed_us": 900, "longest_stop_us": 120, "threads": threads
    }))
    .unwrap();
    Arc::new(doc.to_process())
}

const T0: u64 = 1_795_953_600_000;

fn render(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    match app.key_action(KeyEvent::from(code)) {
        Some(a) => app.update(a),
        None => Vec::new(),
    }
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// An app inspecting 4242 with worker-1 selected, its profile view open with 30 samples
/// (2 s apart from the first snapshot, 50 ms apart from each other).
fn profiling(look: Look) -> App {
    let mut app = App::new();
    app.update(Action::Start(Settings {
        interval: rstack_tui::app::DEFAULT_INTERVAL,
        snapshot_mode: false,
        mouse: true,
        look,
    }));
    app.update(Action::Inspect(4242));
    app.update(Action::Snapshot(sample(T0, 0)));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('p'));
    for n in 1..=30 {
        app.update(Action::Sample(sample(T0 + n * 50, n)));
    }
    app
}

fn mono() -> Look {
    Look {
        colors: ColorLevel::None,
        ..Look::default()
    }
}

#[test]
fn the_table_lists_the_busiest_function_first_and_sorts() {
    let mut app = profiling(mono());
    assert_snapshot!("profile_table_80x24", render(&app));
    keys(&mut app, "s");
    assert_snapshot!("profile_table_total_80x24", render(&app));
}

#[test]
fn the_flame_graph_zooms_and_comes_back() {
    let mut app = profiling(mono());
    press(&mut app, KeyCode::Tab);
    assert_snapshot!("profile_flame_80x24", render(&app));
    // Down to worker-1's serve, then right to... digest is its largest child.
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    assert_snapshot!("profile_flame_zoomed_80x24", render(&app));
    press(&mut app, KeyCode::Esc);
    assert_eq!(render(&app), {
        let mut again = profiling(mono());
        press(&mut again, KeyCode::Tab);
        for _ in 0..3 {
            press(&mut again, KeyCode::Down);
        }
        render(&again)
    });
    // Esc at no zoom closes the view; sampling stops.
    assert!(app.profiling());
    assert_eq!(press(&mut app, KeyCode::Esc), [Effect::SetProfiling(None)]);
    assert!(!app.profiling());
}

#[test]
fn search_marks_frames_and_says_their_share() {
    let mut app = profiling(mono());
    press(&mut app, KeyCode::Tab);
    keys(&mut app, "/read_req");
    press(&mut app, KeyCode::Enter);
    let screen = render(&app);
    assert!(
        screen.contains(" /read_req  1 frame, 33.3% of samples "),
        "{screen}"
    );
    assert_snapshot!("profile_flame_search_80x24", screen);
}

#[test]
fn the_panes_search_stays_with_the_panes() {
    let mut app = profiling(mono());
    press(&mut app, KeyCode::Char('p'));
    keys(&mut app, "/main");
    press(&mut app, KeyCode::Enter);
    assert!(render(&app).contains(" /main  "));
    press(&mut app, KeyCode::Char('p'));
    let screen = render(&app);
    let footer = screen.lines().last().unwrap_or_default();
    assert!(
        footer.contains("Tab view") && !footer.contains("/main"),
        "{screen}"
    );
    // Closed again, the panes' search is as it was.
    press(&mut app, KeyCode::Char('p'));
    assert!(render(&app).contains(" /main  "));
}

#[test]
fn one_thread_and_ascii() {
    let mut app = profiling(Look {
        ascii: true,
        ..mono()
    });
    keys(&mut app, "t");
    press(&mut app, KeyCode::Tab);
    assert_snapshot!("profile_flame_thread_ascii_80x24", render(&app));
}

/// The background of the first cell of `text` where the screen first shows it.
fn background_of(app: &App, text: &str) -> Option<ratatui::style::Color> {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    for y in 0..24u16 {
        let line: String = (0..80u16)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(at) = line.find(text) {
            let x = line[..at].chars().count() as u16;
            return buffer[(x, y)].bg.into();
        }
    }
    None
}

#[test]
fn frames_on_a_cpu_are_warm_and_waiting_ones_cool_in_16_colours() {
    use ratatui::style::Color;
    let mut app = profiling(Look {
        colors: ColorLevel::Ansi16,
        ..Look::default()
    });
    press(&mut app, KeyCode::Tab);
    let warm = [
        Color::Red,
        Color::Yellow,
        Color::LightRed,
        Color::LightYellow,
    ];
    let cool = [Color::Blue, Color::Cyan, Color::LightBlue, Color::LightCyan];
    let bg = |app: &App, text| background_of(app, text).unwrap_or_else(|| panic!("no {text}"));
    assert!(
        warm.contains(&bg(&app, "server::hash::s")),
        "sha_block runs"
    );
    assert!(cool.contains(&bg(&app, "recv")), "recv waits");
    // The same name, the same colour, wherever it is drawn.
    let digest = bg(&app, "server::hash::digest");
    press(&mut app, KeyCode::Char('t'));
    assert_eq!(bg(&app, "server::hash::digest"), digest);
}
