//! History, diff and grouping on real processes: two snapshots of a fixture whose one thread
//! moves while the others stay parked, compared by the library, by `dump --json` files with
//! `rstack-tui diff`, and grouped by `dump --group`; `load`/`diff` with bad files.

mod common;

use common::{Fixture, run_cli, threads_bin};
use rstack_tui::tracer::diff::{Change, diff, unchanged_run};
use rstack_tui::tracer::group::group;

#[test]
fn diff_marks_exactly_the_thread_that_moved() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let first = rstack_tui::trace(fx.pid()).unwrap();
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    let second = rstack_tui::trace(fx.pid()).unwrap();
    let d = diff(&first, &second);
    assert_eq!(d.threads.len(), 5);
    for t in &d.threads {
        let name = t.name.as_deref().unwrap();
        if name == "mover" {
            // stage_one -> stage_two: the inner frames changed, the outer ones (mover_main and
            // the thread entry below it) are common.
            let Change::Changed { common_outer } = t.change else {
                panic!("mover: {:?}", t.change)
            };
            let new = second.threads().iter().find(|x| x.id() == t.tid).unwrap();
            let changed: Vec<&str> = new.frames()[..new.frames().len() - common_outer]
                .iter()
                .filter_map(|f| f.symbol().map(|s| s.name()))
                .filter(|n| n.starts_with("threads_fixture::"))
                .collect();
            assert_eq!(
                changed,
                ["threads_fixture::wait_stage", "threads_fixture::stage_two"]
            );
            let common: Vec<&str> = new.frames()[new.frames().len() - common_outer..]
                .iter()
                .filter_map(|f| f.symbol().map(|s| s.name()))
                .filter(|n| n.starts_with("threads_fixture::"))
                .collect();
            assert_eq!(common, ["threads_fixture::mover_main"]);
        } else {
            assert_eq!(t.change, Change::Unchanged, "{name}");
            assert!(!t.busy, "{name} is parked");
        }
    }
    // The parked workers have the same stack in both: two snapshots' run.
    let worker = second
        .threads()
        .iter()
        .find(|t| t.name() == Some("worker-0"))
        .unwrap();
    assert_eq!(unchanged_run(&[&first, &second], worker.id()).unwrap().0, 2);
    let mover = second
        .threads()
        .iter()
        .find(|t| t.name() == Some("mover"))
        .unwrap();
    assert_eq!(unchanged_run(&[&first, &second], mover.id()).unwrap().0, 1);
    fx.assert_running();
}

#[test]
fn diff_and_load_from_saved_files() {
    let mut fx = Fixture::spawn(threads_bin(), &["mover"]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let pid = fx.pid().to_string();
    let (code, json, err) = run_cli(&["dump", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&a, json).unwrap();
    fx.send_line("move");
    assert_eq!(fx.next_line(), "moved");
    let (code, json, err) = run_cli(&["dump", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&b, json).unwrap();

    let (code, out, err) = run_cli(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("[changed]"))
        .collect();
    assert_eq!(changed.len(), 1, "{out}");
    assert!(changed[0].contains("\"mover\""), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with("[same]"))
            .count(),
        4,
        "{out}"
    );
    assert!(
        out.contains("! #") && out.contains("threads_fixture::stage_two"),
        "{out}"
    );

    let (code, out, err) = run_cli(&["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["change"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "changed").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "unchanged").count(), 4);

    // Bad files: one line naming the file, exit code 2.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"version\": 1, \"pid\": ").unwrap();
    for args in [
        vec!["diff", a.to_str().unwrap(), bad.to_str().unwrap()],
        vec!["diff", a.to_str().unwrap(), "/nonexistent/x.json"],
        vec!["load", bad.to_str().unwrap()],
    ] {
        let (code, out, err) = run_cli(&args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(".json"), "{err}");
    }
    let newer = dir.join("newer.json");
    std::fs::write(&newer, {
        // Whatever version this build writes, the file claims a later one.
        let text = std::fs::read_to_string(&a).unwrap();
        let at = text.find("\"version\":").unwrap() + "\"version\":".len();
        let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
        format!("{}999{}", &text[..at], &text[at + digits..])
    })
    .unwrap();
    let (code, _, err) = run_cli(&["diff", a.to_str().unwrap(), newer.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("newer"), "{err}");
    fx.assert_running();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dump_group_collapses_identical_stacks() {
    let fx = Fixture::spawn(threads_bin(), &["park", "9"]);
    let p = rstack_tui::trace(fx.pid()).unwrap();
    let groups = group(&p);
    // Workers park at depth 1, 2 or 3 (i % 3): three groups of three, plus the main thread.
    let sizes: Vec<usize> = groups.iter().map(|g| g.threads.len()).collect();
    assert_eq!(sizes, [3, 3, 3, 1]);
    let (code, out, err) = run_cli(&["dump", &fx.pid().to_string(), "--group"]);
    assert_eq!(code, 0, "{err}");
    let headers: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" thread") && l.contains(':') && !l.starts_with(' '))
        .collect();
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("3 threads: \"worker-0\"")
                && h.contains("\"worker-3\"")
                && h.contains("\"worker-6\"")),
        "{out}"
    );
    assert!(out.contains("1 thread: \"rsfixture\""), "{out}");
    fx.assert_running();
}
