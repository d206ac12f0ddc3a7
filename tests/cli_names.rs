//! The command line around the process argument: clap's suggestion for a mistyped subcommand,
//! a process name where a pid is expected (one match, several, none, with exact messages and
//! exit codes), and the completion scripts and man page generated from the same definitions.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{Fixture, fixtures_dir, gcc, run_cli};

/// tests/fixtures/names.c: a thread named after each argument.
fn names_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("names.c");
        gcc(
            "clinamesfixture",
            &["-O1".as_ref(), "-pthread".as_ref(), src.as_os_str()],
        )
    })
}

/// The names fixture copied to `name` in a directory of this test's own.
fn names_bin_as(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    if !path.exists() {
        std::fs::copy(names_bin(), &path).unwrap();
    }
    path
}

const USAGE: &str = "Usage: rstack-tui [OPTIONS] [PID|NAME]\n       rstack-tui <COMMAND>\n\n\
                     For more information, try '--help'.\n";

#[test]
fn a_mistyped_subcommand_gets_clap_suggestion() {
    let suggestion = format!(
        "error: unrecognized subcommand 'dupm'\n\n  tip: a similar subcommand exists: 'dump'\n\n{USAGE}"
    );
    for args in [&["dupm", "123"][..], &["dupm"]] {
        let (code, out, err) = run_cli(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (2, "", suggestion.as_str()),
            "{args:?}"
        );
    }
    let (code, _, err) = run_cli(&["lod", "a.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("a similar subcommand exists: 'load'"), "{err}");
    // A pid and a word too many: clap's unexpected argument.
    let (code, _, err) = run_cli(&["123", "456"]);
    assert_eq!(
        (code, err),
        (
            2,
            format!("error: unexpected argument '456' found\n\n{USAGE}")
        )
    );
}

#[test]
fn a_process_name_works_where_a_pid_is_expected() {
    // Short enough to be the comm too; the long one matches by its executable only.
    let short = format!("rsnm{}", std::process::id());
    let long = format!("rstack-named-fixture-{}", std::process::id());
    for name in [&short, &long] {
        let fx = Fixture::spawn(&names_bin_as(name), &["by-name-thread"]);
        let (code, out, err) = run_cli(&["dump", name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.starts_with(&format!("Process {} ", fx.pid())), "{out}");
        assert!(out.contains("\"by-name-thread\" (S sleeping"), "{out}");
        fx.assert_running();
    }
}

#[test]
fn several_processes_of_a_name_are_listed_with_exit_code_5() {
    let name = format!("rsdup{}", std::process::id());
    let bin = names_bin_as(&name);
    let a = Fixture::spawn(&bin, &["one"]);
    let b = Fixture::spawn(&bin, &["two"]);
    let (code, out, err) = run_cli(&["dump", &name]);
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name);
    let row =
        |fx: &Fixture, arg: &str| format!("{:>7}  {user:<9} {} {arg}\n", fx.pid(), bin.display());
    assert_eq!((code, out.as_str()), (5, ""), "stderr: {err}");
    assert_eq!(
        err,
        format!(
            "rstack-tui: error: 2 processes are named '{name}'; give one pid:\n    PID  USER      COMMAND\n{}{}",
            row(&a, "one"),
            row(&b, "two")
        )
    );
    a.assert_running();
    b.assert_running();
}

#[test]
fn a_name_no_process_has_is_one_line_and_exit_code_4() {
    let name = format!("rsnone{}", std::process::id());
    let want = format!(
        "rstack-tui: error: no process named '{name}' (give a pid, or a process's comm or executable name)\n"
    );
    for args in [&["dump", &name][..], &[&name]] {
        let (code, out, err) = run_cli(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (4, "", want.as_str()),
            "{args:?}"
        );
    }
}

#[test]
fn completions_and_man_page_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run_cli(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in [
            "dump",
            "demo",
            "load",
            "diff",
            "completions",
            "man",
            "interval",
        ] {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
        assert!(
            !out.contains("__demo-target"),
            "{shell}: the demo process's argument shows"
        );
    }
    let (code, out, err) = run_cli(&["completions", "tcsh"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("error: invalid value 'tcsh' for '<SHELL>'"),
        "{err}"
    );

    let (code, man, err) = run_cli(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(man.contains(".TH rstack-tui 1"), "{man}");
    for sub in ["dump", "demo", "load", "diff", "completions", "man"] {
        assert!(
            man.contains(&format!("rstack\\-tui\\-{sub}(1)")),
            "man lacks {sub}"
        );
    }
    assert!(man.contains("\\-\\-theme"), "{man}");
    let (code, dump, err) = run_cli(&["man", "dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(dump.contains(".TH rstack-tui-dump 1"), "{dump}");
    assert!(dump.contains("\\-\\-json"), "{dump}");
    let (code, out, err) = run_cli(&["man", "dupm"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            2,
            "",
            "rstack-tui: error: no subcommand 'dupm' (see rstack-tui --help)\n"
        )
    );
}
