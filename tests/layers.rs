//! The crate's layers run one way: tracer (with the text filter) → describe → profile →
//! dump and app → ui, with the runtime (tui, worker) and the entry above them. This test reads every
//! `crate::` path in src/ and fails on one that points up or sideways.

use std::path::{Path, PathBuf};

/// The top-level module a source file belongs to: `src/ui/frames.rs` → "ui",
/// `src/app.rs` → "app".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every module named right after `crate::` in `line`, in order.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        // `rstack_crate::` or `my_crate::` are not this crate.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// The modules `module` may not name.
fn forbidden(module: &str) -> &'static [&'static str] {
    const ABOVE_TRACER: &[&str] = &[
        "describe", "profile", "dump", "app", "ui", "tui", "worker", "proclist", "demo",
    ];
    match module {
        // The inert-text filter is the tracer's (it moves under src/tracer/).
        "tracer" | "text" => ABOVE_TRACER,
        "describe" => &[
            "profile", "dump", "app", "ui", "tui", "worker", "proclist", "demo",
        ],
        "profile" => &["dump", "app", "ui", "tui", "worker", "proclist", "demo"],
        "dump" => &["app", "ui", "tui", "worker", "demo"],
        "app" => &["ui", "tui", "worker", "demo"],
        "ui" => &["dump", "tui", "worker", "demo"],
        _ => &[],
    }
}

#[test]
fn imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in crate_paths(line) {
                checked += 1;
                if forbidden(&module).contains(&target.as_str()) {
                    wrong.push(format!(
                        "{}:{}: {module} uses crate::{target}",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // The scan saw the crate's paths (a broken scan passes vacuously otherwise).
    assert!(checked > 50, "only {checked} crate:: paths found");
}

#[test]
fn the_scan_finds_paths_and_skips_other_crates() {
    assert_eq!(
        crate_paths("use crate::tracer::{Frame}; let x = crate::app::App::new();"),
        ["tracer", "app"]
    );
    assert_eq!(crate_paths("use my_crate::ui;"), Vec::<String>::new());
    assert_eq!(forbidden("app"), &["ui", "tui", "worker", "demo"]);
    assert!(forbidden("tracer").contains(&"describe"));
    let src = Path::new("/r/src");
    assert_eq!(module_of(src, Path::new("/r/src/ui/frames.rs")), "ui");
    assert_eq!(module_of(src, Path::new("/r/src/app.rs")), "app");
}
