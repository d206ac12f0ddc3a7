//! Saved snapshot files: round trips, refusing to overwrite, and hostile files (bad JSON,
//! wrong types, newer versions, huge counts, deep nesting, control characters, huge sizes,
//! random mutations) that must give one-line errors and never panic.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::XorShift as Rng;
use rstack_tui::text::{is_unsafe, to_json_inert};
use rstack_tui::tracer::schema::SnapshotDoc;
use rstack_tui::tracer::snapfile::{self, FileError};
use serde_json::{Value, json};

/// A fresh, empty directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("snapfile-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn thread(tid: u32, name: &str, frames: usize) -> Value {
    let frames: Vec<Value> = (0..frames)
        .map(|i| {
            json!({
                "ip": 0x5555_0000_1000u64 + (i as u64) * 0x40, "symbol": format!("f{i}"),
                "raw_symbol": format!("_ZN1f{i}E"), "offset": 0x10 + i as u64,
                "module": "/srv/server", "module_offset": 0x1000 + i as u64, "is_signal": false
            })
        })
        .collect();
    json!({
        "tid": tid, "name": name, "state": "S", "wchan": "futex_do_wait",
        "syscall": {"number": 202, "name": "futex", "args": [1, 2, 3, 4, 5, 6]},
        "user_time_ms": 12, "system_time_ms": 3, "stopped_us": 40, "truncated": false,
        "error": null, "end_note": null, "frames": frames
    })
}

fn doc_value(taken_ms: u64, threads: Vec<Value>) -> Value {
    json!({
        "version": 1, "pid": 4242, "command": "/srv/server --port 8080",
        "taken_at": "2026-11-29T14:00:00.000Z", "taken_at_unix_ms": taken_ms, "mode": "rolling",
        "elapsed_us": 3100, "longest_stop_us": 85, "threads": threads
    })
}

fn doc(taken_ms: u64) -> SnapshotDoc<'static> {
    serde_json::from_value(doc_value(
        taken_ms,
        vec![thread(4242, "main", 3), thread(4243, "worker-1", 2)],
    ))
    .unwrap()
}

/// The error's message must be one line, name the file first, and hold no control character.
fn check_message(err: &FileError, name: &str, what: &str) {
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{name}: ")),
        "does not name {name}: {msg}"
    );
    assert!(msg.contains(what), "expected {what:?} in {msg:?}");
    assert!(!msg.chars().any(is_unsafe), "unsafe character in {msg:?}");
}

#[test]
fn round_trip_single_and_history() {
    let dir = temp_dir("round-trip");
    let one = doc(1_795_960_800_123);
    let path = dir.join(snapfile::default_file_name(&one));
    assert_eq!(
        path.file_name().unwrap(),
        "rstack-4242-server-20261129T140000Z.json"
    );
    snapfile::save(&path, std::slice::from_ref(&one)).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    // The single-object form is exactly what `dump --json --pretty` prints.
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text, to_json_inert(&one, true).unwrap() + "\n");
    assert_eq!(snapfile::load(&path).unwrap(), vec![one.clone()]);

    let docs = vec![doc(3000), doc(1000), doc(2000)];
    let path = dir.join("history.json");
    snapfile::save(&path, &docs).unwrap();
    let saved: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["snapshots"].as_array().unwrap().len(), 3);
    let loaded = snapfile::load(&path).unwrap();
    assert_eq!(
        loaded,
        vec![docs[1].clone(), docs[2].clone(), docs[0].clone()]
    );

    let err = snapfile::save(&dir.join("none.json"), &[]).unwrap_err();
    check_message(
        &err,
        &dir.join("none.json").display().to_string(),
        "no snapshot",
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn never_overwrites_or_follows_symlinks() {
    let dir = temp_dir("no-overwrite");
    let path = dir.join("snap.json");
    fs::write(&path, "precious").unwrap();
    let err = snapfile::save(&path, &[doc(1)]).unwrap_err();
    assert!(matches!(err, FileError::Exists { .. }), "{err:?}");
    check_message(
        &err,
        &path.display().to_string(),
        "already exists; not overwritten",
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "precious");

    // A symlink planted at the path, pointing to another file: that file stays untouched.
    let target = dir.join("target");
    fs::write(&target, "victim").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.join("link.json");
    symlink(&target, &link).unwrap();
    let err = snapfile::save(&link, &[doc(1)]).unwrap_err();
    check_message(&err, &link.display().to_string(), "already exists");
    assert_eq!(fs::read_to_string(&target).unwrap(), "victim");
    let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A dangling symlink: its target is not created.
    let absent = dir.join("absent");
    let dangling = dir.join("dangling.json");
    symlink(&absent, &dangling).unwrap();
    assert!(snapfile::save(&dangling, &[doc(1)]).is_err());
    assert!(!absent.exists());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn history_is_sorted_oldest_first_and_stable() {
    let dir = temp_dir("sorted");
    let mut a = doc_value(3000, vec![thread(1, "a", 1)]);
    let mut b = doc_value(1000, vec![thread(2, "b", 1)]);
    let mut c = doc_value(2000, vec![thread(3, "c", 1)]);
    let mut d = doc_value(1000, vec![thread(4, "d", 1)]);
    for (v, pid) in [(&mut a, 1), (&mut b, 2), (&mut c, 3), (&mut d, 4)] {
        v["pid"] = json!(pid);
    }
    let history = json!({"version": 1, "snapshots": [a, b, c, d]});
    let path = dir.join("history.json");
    fs::write(&path, serde_json::to_vec_pretty(&history).unwrap()).unwrap();
    let loaded = snapfile::load(&path).unwrap();
    let order: Vec<(u64, u32)> = loaded.iter().map(|d| (d.taken_at_unix_ms, d.pid)).collect();
    assert_eq!(order, vec![(1000, 2), (1000, 4), (2000, 3), (3000, 1)]);
    let _ = fs::remove_dir_all(&dir);
}

/// Writes `bytes` as `file` in `dir`, loads it, and returns the error.
fn load_err(dir: &Path, file: &str, bytes: &[u8]) -> (FileError, String) {
    let path = dir.join(file);
    fs::write(&path, bytes).unwrap();
    let err = snapfile::load(&path).expect_err(file);
    (err, path.display().to_string())
}

/// Documents that are JSON but not a snapshot file this version reads, each with what
/// loading it must say.
fn invalid_documents() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut wrong_type = doc_value(5, vec![thread(1, "main", 1), thread(2, "w", 3)]);
    wrong_type["threads"][1]["frames"][2]["ip"] = json!("0x10");
    let mut hostile_value = doc_value(5, vec![thread(1, "main", 1)]);
    hostile_value["threads"][0]["frames"][0]["ip"] = json!("\u{1b}[2J\u{1b}]0;pwned\u{7}\n");
    let mut no_tid = doc_value(5, vec![thread(1, "main", 1)]);
    no_tid["threads"][0].as_object_mut().unwrap().remove("tid");
    let mut newer = doc_value(5, vec![]);
    newer["version"] = json!(3);
    let mut no_version = doc_value(5, vec![]);
    no_version.as_object_mut().unwrap().remove("version");
    let mut zero_version = doc_value(5, vec![]);
    zero_version["version"] = json!(0);
    let mut inner_newer = doc_value(5, vec![]);
    inner_newer["version"] = json!(3);
    let history_newer = json!({"version": 1, "snapshots": [doc_value(1, vec![]), inner_newer]});
    let mut long_name = doc_value(5, vec![thread(1, "main", 1)]);
    long_name["threads"][0]["name"] = json!("x".repeat(70_000));
    let many_frames = doc_value(5, vec![thread(1, "main", 10_001)]);
    let many_snapshots = json!({"version": 1, "snapshots": vec![json!({"version": 1}); 1025]});

    vec![
        (
            "wrong-type.json",
            serde_json::to_vec_pretty(&wrong_type).unwrap(),
            "threads[1].frames[2].ip: expected a number, found string \"0x10\"",
        ),
        (
            "hostile-value.json",
            serde_json::to_vec(&hostile_value).unwrap(),
            "threads[0].frames[0].ip: expected a number",
        ),
        (
            "no-tid.json",
            serde_json::to_vec(&no_tid).unwrap(),
            "threads[0]: missing field `tid`",
        ),
        (
            "newer.json",
            serde_json::to_vec(&newer).unwrap(),
            "schema version 3 is newer than this rstack-tui understands (2)",
        ),
        (
            "no-version.json",
            serde_json::to_vec(&no_version).unwrap(),
            "missing or invalid schema version",
        ),
        (
            "zero-version.json",
            serde_json::to_vec(&zero_version).unwrap(),
            "missing or invalid schema version",
        ),
        (
            "history-newer.json",
            serde_json::to_vec(&history_newer).unwrap(),
            "snapshots[1]: schema version 3 is newer",
        ),
        (
            "long-string.json",
            serde_json::to_vec(&long_name).unwrap(),
            "threads[0].name: string longer than 64 KiB (70000 bytes)",
        ),
        (
            "many-frames.json",
            serde_json::to_vec(&many_frames).unwrap(),
            "threads[0]: too many frames (10001 > 10000)",
        ),
        (
            "many-snapshots.json",
            serde_json::to_vec(&many_snapshots).unwrap(),
            "too many snapshots (1025 > 1024)",
        ),
    ]
}

#[test]
fn bad_files_give_one_line_errors() {
    let dir = temp_dir("bad");
    let good =
        serde_json::to_string_pretty(&doc_value(5, vec![thread(1, "main", 2), thread(2, "w", 3)]))
            .unwrap();

    let missing = dir.join("missing.json");
    let err = snapfile::load(&missing).unwrap_err();
    assert!(matches!(err, FileError::NotFound { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{}: not found", missing.display()));

    let err = snapfile::load(&dir).unwrap_err();
    check_message(&err, &dir.display().to_string(), "is a directory");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", vec![], "empty file"),
        ("blank.json", b" \n\t\n".to_vec(), "empty file"),
        (
            "truncated.json",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "truncated JSON at line",
        ),
        (
            "malformed.json",
            b"{\"version\": 1,, }".to_vec(),
            "malformed JSON at line 1 column 15",
        ),
        (
            "trailing.json",
            format!("{good} x").into_bytes(),
            "malformed JSON",
        ),
        ("array.json", b"[1, 2]".to_vec(), "expected a JSON object"),
        (
            "deep.json",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            "nested too deeply",
        ),
        (
            "bad\u{1b}[31mname\u{202e}.json",
            b"{".to_vec(),
            "truncated JSON",
        ),
    ];
    for (file, bytes, what) in cases.into_iter().chain(invalid_documents()) {
        let (err, shown) = load_err(&dir, file, &bytes);
        let shown = rstack_tui::text::inert(&shown).into_owned();
        check_message(&err, &shown, what);
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn too_many_threads() {
    let started = Instant::now();
    // Compact threads, generated as text: 100_001 of them is about 10 MB.
    let mut text = String::from(
        r#"{"version":1,"pid":1,"command":"x","taken_at":"","taken_at_unix_ms":0,"mode":"rolling","elapsed_us":0,"longest_stop_us":0,"threads":["#,
    );
    for tid in 0..100_001 {
        if tid > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"tid":{tid},"user_time_ms":0,"system_time_ms":0,"stopped_us":0,"truncated":false,"frames":[]}}"#
        ));
    }
    text.push_str("]}");
    let err = snapfile::parse("snap.json", text.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "snap.json: too many threads (100001 > 100000)"
    );
    // One fewer is fine.
    let cut = text.rfind(",{").unwrap();
    let ok = format!("{}]}}", &text[..cut]);
    let docs = snapfile::parse("snap.json", ok.as_bytes()).unwrap();
    assert_eq!(docs[0].threads.len(), 100_000);
    eprintln!("too_many_threads took {:?}", started.elapsed());
}

#[test]
fn control_characters_in_names_load_but_stay_inert() {
    let dir = temp_dir("control");
    let mut value = doc_value(5, vec![thread(1, "evil\u{1b}]0;title\u{7}\u{1b}[2J", 1)]);
    value["command"] = json!("/bin/x\u{1b}[31m\u{9b}\u{202e}");
    value["threads"][0]["frames"][0]["symbol"] = json!("sym\u{1b}[1m");
    let path = dir.join("control.json");
    fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let docs = snapfile::load(&path).unwrap();
    assert_eq!(
        docs[0].threads[0].name.as_deref(),
        Some("evil\u{1b}]0;title\u{7}\u{1b}[2J")
    );
    let process = docs[0].to_process();
    let name = process.threads()[0].name().unwrap();
    assert!(!name.contains('\u{1b}'), "{name:?}");
    assert!(!process.command().chars().any(is_unsafe));
    let sym = process.threads()[0].frames()[0].symbol().unwrap().name();
    assert!(!sym.contains('\u{1b}'), "{sym:?}");

    // Saved again, the file holds no raw control character, and loads back the same.
    let again = dir.join("again.json");
    snapfile::save(&again, &docs).unwrap();
    let text = fs::read_to_string(&again).unwrap();
    assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'));
    assert_eq!(snapfile::load(&again).unwrap(), docs);
    let _ = fs::remove_dir_all(&dir);
}

/// Invisible and bidi format characters in every text field of a loaded file: none reaches
/// the text or JSON output raw; each reads as its escape.
#[test]
fn format_characters_in_every_field_of_a_loaded_file_come_out_escaped() {
    let dir = temp_dir("format");
    let mut value = doc_value(5, vec![thread(1, "ma\u{200b}in", 1)]);
    value["command"] = json!("/bin/x\u{2066}y\u{2069}");
    value["missing_debuginfo"] = json!(["/lib/\u{feff}.so"]);
    let t = &mut value["threads"][0];
    // A state is one letter: anything else is shown as unknown.
    t["state"] = json!("\u{202e}");
    t["wchan"] = json!("w\u{2028}");
    t["wait"] = json!("futex\u{2029}");
    t["error"] = json!("e\u{61c}");
    t["end_note"] = json!("n\u{2060}");
    t["kernel_stack"] = json!(["k\u{200d}"]);
    t["lock"] = json!({"address": 16, "owner": null, "note": "l\u{ad}"});
    let f = &mut t["frames"][0];
    f["symbol"] = json!("sym\u{e0001}");
    f["raw_symbol"] = json!("raw\u{200c}");
    f["module"] = json!("/lib/m\u{202d}.so");
    f["file"] = json!("src\u{200e}.c");
    f["line"] = json!(7);
    let path = dir.join("format.json");
    fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let process = snapfile::load(&path).unwrap()[0].to_process();

    let text = rstack_tui::dump::to_text(&process);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| is_unsafe(c) && c != '\n')
        .collect();
    assert!(bad.is_empty(), "raw {bad:x?} in:\n{text}");
    // Quoted text (names, the command) doubles its backslashes, so an escape stands apart
    // from a backslash in the name.
    for escaped in [
        r#"Thread 1 "ma\\u{200b}in" (state unknown, wchan w\u{2028}, in futex\u{2029})"#,
        r#""/bin/x\\u{2066}y\\u{2069}""#,
        r"/lib/\u{feff}.so",
        r"e\u{61c}",
        r"n\u{2060}",
        r"k\u{200d}",
        r"l\u{ad}",
        r"sym\u{e0001}",
        r"/lib/m\u{202d}.so",
        r"src\u{200e}.c:7",
    ] {
        assert!(text.contains(escaped), "no {escaped} in:\n{text}");
    }

    let json = rstack_tui::dump::to_json(&process, true);
    let bad: Vec<char> = json
        .chars()
        .filter(|&c| is_unsafe(c) && c != '\n')
        .collect();
    assert!(bad.is_empty(), "raw {bad:x?} in:\n{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let t = &doc["threads"][0];
    assert_eq!(t["name"], r"ma\u{200b}in");
    assert_eq!(t["state"], Value::Null);
    assert_eq!(t["frames"][0]["symbol"], r"sym\u{e0001}");
    assert_eq!(t["frames"][0]["raw_symbol"], r"raw\u{200c}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn huge_sparse_file_is_rejected_by_size() {
    let dir = temp_dir("huge");
    let path = dir.join("huge.json");
    let file = fs::File::create(&path).unwrap();
    file.set_len(300 << 20).unwrap();
    drop(file);
    let err = snapfile::load(&path).unwrap_err();
    // The size comes from the metadata (the capped read would have stopped at 256 MiB + 1).
    assert!(
        matches!(err, FileError::TooLarge { size, .. } if size == 300 << 20),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: file is larger than 256 MiB", path.display())
    );
    let _ = fs::remove_dir_all(&dir);
}

const INTERESTING: &[u8] =
    b"{}[]\":,\\-+.0123456789eEtrufalsn \n\x00\x1b\x7f\xc2\x9b\xe2\x80\xae\xff";

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                bytes[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                bytes.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                bytes.remove(i);
            }
            4 => bytes.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                // Duplicate a slice (repeats brackets, keys, whole threads).
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let piece = bytes[a..b].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, piece);
            }
            _ => {
                let i = rng.below(len + 1);
                bytes.insert(i, rng.next() as u8);
            }
        }
    }
}

#[test]
fn mutated_documents_never_panic() {
    let started = Instant::now();
    let single = serde_json::to_vec(&doc_value(
        7,
        vec![thread(1, "main", 3), thread(2, "w\u{1b}", 2)],
    ))
    .unwrap();
    let history = serde_json::to_vec_pretty(&json!({
        "version": 1,
        "snapshots": [doc_value(9, vec![thread(1, "a", 2)]), doc_value(8, vec![thread(2, "b", 1)])]
    }))
    .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut executions, mut loaded, mut failed) = (0u32, 0u32, 0u32);
    for i in 0..20_000 {
        let mut bytes = if i % 2 == 0 {
            single.clone()
        } else {
            history.clone()
        };
        mutate(&mut rng, &mut bytes);
        executions += 1;
        match snapfile::parse("fuzz.json", &bytes) {
            Ok(docs) => {
                loaded += 1;
                assert!(!docs.is_empty());
                for d in &docs {
                    let p = d.to_process();
                    assert!(
                        p.threads()
                            .iter()
                            .all(|t| { t.name().is_none_or(|n| !n.chars().any(is_unsafe)) })
                    );
                }
            }
            Err(err) => {
                failed += 1;
                let msg = err.to_string();
                assert!(msg.starts_with("fuzz.json: "), "{msg:?}");
                assert!(!msg.chars().any(is_unsafe), "{msg:?} from {bytes:?}");
            }
        }
    }
    assert_eq!(executions, 20_000);
    eprintln!(
        "fuzz: {executions} executions ({loaded} loaded, {failed} rejected) in {:?}",
        started.elapsed()
    );
}
