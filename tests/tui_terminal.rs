//! The inspector on the terminals people have: the real binary in tmux with TERM, COLORTERM,
//! NO_COLOR and the locale set as a remote box would set them, its escape codes read back
//! with `capture-pane -e` (no 256-colour codes where the terminal lacks them, none at all for
//! `dumb`) and its text with `capture-pane -p` (nothing above 0x7F in the C locale); and a
//! process given by name.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::tmux::Tmux;
use common::{Fixture, fixtures_dir, gcc};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// A thread name beyond ASCII: a Latin letter, a wide CJK character, an arrow.
const WIDE_NAME: &str = "caf\u{e9}-\u{4e2d}\u{2192}";

/// tests/fixtures/names.c: a thread named after each argument.
fn names_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("names.c");
        gcc(
            "termnamesfixture",
            &["-O1".as_ref(), "-pthread".as_ref(), src.as_os_str()],
        )
    })
}

/// The inspector on `pid` in a `w`x`h` pane with exactly this environment for terminal and
/// locale (`env -u` clears what the test's own environment would leak in).
fn inspector(w: u16, h: u16, env: &[&str], extra: &[&str], pid: u32) -> Tmux {
    let pid = pid.to_string();
    let mut argv = vec![
        "env",
        "-u",
        "NO_COLOR",
        "-u",
        "COLORTERM",
        "-u",
        "LC_ALL",
        "-u",
        "LC_CTYPE",
        "-u",
        "LANG",
    ];
    argv.extend_from_slice(env);
    argv.push(BIN);
    argv.extend_from_slice(extra);
    argv.push(&pid);
    Tmux::exec(w, h, &argv)
}

/// The screen once the process view shows the fixture's threads (by the plain thread name).
fn process_view(tmux: &Tmux) -> String {
    tmux.wait_screen("the process view with its threads", |s| {
        s.contains("plain-thread") && s.contains(" Threads (3) ")
    })
}

/// The screen with its escape codes (`capture-pane -e`).
fn capture_escapes(tmux: &Tmux) -> String {
    tmux.cmd(&["capture-pane", "-p", "-e"])
}

/// Every SGR sequence's parameters on a captured screen, as written (`1;36`, `38;5;246`).
fn sgr_params(screen: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = screen;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('m') {
            out.push(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    out
}

/// The colour parameters among `params` (foreground, background, palette and 24-bit forms).
fn colour_codes(params: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in params {
        let mut it = p.split(';');
        while let Some(code) = it.next() {
            match code.parse::<u32>().unwrap_or(0) {
                38 | 48 => {
                    let rest: Vec<&str> = it.by_ref().take(4).collect();
                    out.push(format!("{code};{}", rest.join(";")));
                }
                c @ (30..=37 | 40..=47 | 90..=97 | 100..=107) => out.push(c.to_string()),
                _ => {}
            }
        }
    }
    out
}

fn spawn_names() -> Fixture {
    Fixture::spawn(names_bin(), &["plain-thread", WIDE_NAME])
}

#[test]
fn xterm_and_vt100_get_16_colours_and_dumb_none() {
    let fx = spawn_names();
    for term in ["TERM=xterm", "TERM=vt100", "TERM=linux"] {
        let tmux = inspector(80, 24, &[term, "LANG=C.UTF-8"], &[], fx.pid());
        process_view(&tmux);
        let codes = colour_codes(&sgr_params(&capture_escapes(&tmux)));
        assert!(
            codes
                .iter()
                .all(|c| !c.starts_with("38;") && !c.starts_with("48;")),
            "{term}: {codes:?}"
        );
        // The selected row: white on blue, in 16-colour codes.
        assert!(codes.contains(&"44".to_string()), "{term}: {codes:?}");
        assert!(codes.contains(&"97".to_string()), "{term}: {codes:?}");
    }
    // dumb, and NO_COLOR on a colour terminal: no colour at all; selection is reverse video.
    for env in [
        &["TERM=dumb", "LANG=C.UTF-8"][..],
        &[
            "TERM=xterm-256color",
            "COLORTERM=truecolor",
            "NO_COLOR=1",
            "LANG=C.UTF-8",
        ],
    ] {
        let tmux = inspector(80, 24, env, &[], fx.pid());
        process_view(&tmux);
        let params = sgr_params(&capture_escapes(&tmux));
        assert_eq!(colour_codes(&params), Vec::<String>::new(), "{env:?}");
        assert!(
            params.iter().any(|p| p.split(';').any(|c| c == "7")),
            "{env:?}: {params:?}"
        );
    }
}

/// `--theme dark` greys come from the 256-colour palette only where the terminal has it, and
/// map to the nearest ANSI colour elsewhere.
#[test]
fn palette_colours_only_where_the_terminal_has_them() {
    let fx = spawn_names();
    let dark = ["--theme", "dark"];
    let tmux = inspector(
        200,
        50,
        &["TERM=xterm-256color", "LANG=C.UTF-8"],
        &dark,
        fx.pid(),
    );
    process_view(&tmux);
    let codes = colour_codes(&sgr_params(&capture_escapes(&tmux)));
    assert!(codes.contains(&"38;5;246".to_string()), "{codes:?}");

    let tmux = inspector(200, 50, &["TERM=xterm", "LANG=C.UTF-8"], &dark, fx.pid());
    process_view(&tmux);
    let codes = colour_codes(&sgr_params(&capture_escapes(&tmux)));
    assert!(codes.iter().all(|c| !c.starts_with("38;")), "{codes:?}");
    // The border's grey, mapped to colour 7 (never 8, the background of Solarized Dark).
    assert!(codes.contains(&"37".to_string()), "{codes:?}");
    assert!(!codes.contains(&"90".to_string()), "{codes:?}");
}

/// The C locale (LC_ALL wins over LANG, as in setlocale) and `--ascii` draw nothing above 0x7F:
/// borders, arrows and marks in ASCII, and a thread name's other characters as `?`, a wide
/// one as `??`, so the columns stay where they were laid out.
#[test]
fn the_c_locale_and_ascii_draw_only_ascii() {
    let fx = spawn_names();
    // The UTF-8 screen has the name and the box lines (the test would pass vacuously without).
    let tmux = inspector(80, 24, &["TERM=xterm", "LANG=C.UTF-8"], &[], fx.pid());
    let screen = process_view(&tmux);
    assert!(screen.contains(WIDE_NAME), "{screen}");
    assert!(screen.contains('\u{2500}'), "{screen}");
    drop(tmux);

    for (size, env, extra) in [
        (
            (80, 24),
            &["TERM=xterm", "LANG=C.UTF-8", "LC_ALL=C"][..],
            &[][..],
        ),
        ((200, 50), &["TERM=xterm", "LC_CTYPE=POSIX"], &[]),
        ((80, 24), &["TERM=xterm", "LANG=C.UTF-8"], &["--ascii"]),
    ] {
        let tmux = inspector(size.0, size.1, env, extra, fx.pid());
        let screen = process_view(&tmux);
        let wide = screen
            .lines()
            .find(|l| l.contains("caf"))
            .unwrap_or_else(|| panic!("{env:?}: no name on\n{screen}"));
        assert!(wide.contains("caf?-??>"), "{env:?}: {wide}");
        let raw = tmux.cmd(&["capture-pane", "-p", "-e"]);
        let high: Vec<char> = raw.chars().filter(|c| !c.is_ascii()).collect();
        assert!(high.is_empty(), "{env:?} {extra:?}: {high:?} on\n{screen}");
        // The pane title's rule is ASCII dashes.
        let title = screen
            .lines()
            .find(|l| l.contains(" Threads (3) "))
            .unwrap();
        assert!(title.contains("----"), "{title}");
        tmux.send_keys(&["?"]);
        // Waits for the help's text, not just its title: a big screen reaches tmux a line at
        // a time.
        let help = tmux.wait_for("k/^");
        assert!(help.contains(" Help "), "{help}");
        assert!(help.is_ascii(), "{help}");
    }
}

/// A unique name for this test process's fixtures (comm keeps 15 bytes).
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id())
}

/// The names fixture copied to `name`, so its comm and executable are that name.
fn names_bin_as(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique("named-"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    if !path.exists() {
        std::fs::copy(names_bin(), &path).unwrap();
    }
    path
}

/// One process of the name: its view. Several: the process list filtered to the name (which
/// also shows commands that contain it, such as this inspector's own).
#[test]
fn a_name_opens_its_process_or_the_list_of_those_named_so() {
    let name = unique("rsterm");
    let bin = names_bin_as(&name);
    let one = Fixture::spawn(&bin, &["plain-thread", "second"]);
    let tmux = Tmux::exec(80, 24, &[BIN, &name]);
    let screen = tmux.wait_screen("the named process's view", |s| {
        s.contains("plain-thread") && s.contains(" Threads (3) ")
    });
    assert!(
        screen.starts_with(&format!(" pid {} ", one.pid())),
        "{screen}"
    );
    drop(tmux);

    let two = Fixture::spawn(&bin, &["plain-thread", "second"]);
    let tmux = Tmux::exec(120, 24, &[BIN, &name]);
    let screen = tmux.wait_screen("the list filtered to the name", |s| {
        s.contains(&format!("filter: {name}")) && s.contains(&two.pid().to_string())
    });
    for fx in [&one, &two] {
        let row = screen
            .lines()
            .find(|l| l.trim_start().starts_with(&fx.pid().to_string()))
            .unwrap_or_else(|| panic!("no row for {}:\n{screen}", fx.pid()));
        assert!(row.contains(&name), "{row}");
    }
}
