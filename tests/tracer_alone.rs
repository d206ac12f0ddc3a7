//! The tracer stands alone: no file under src/tracer/ names anything of the crate outside it
//! (`crate::` paths other than `crate::tracer`, in code or doc links), so the library can be
//! read, changed and reused without the inspector.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::` paths in `line` that leave the tracer: `crate::` not inside a longer name
/// (`mycrate::`, `$crate::`) and not followed by the path segment `tracer`.
fn outside_paths(line: &str) -> Vec<&str> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    line.match_indices("crate::")
        .filter(|&(at, _)| !line[..at].ends_with(ident))
        .map(|(at, _)| &line[at..])
        .filter(|rest| {
            let after = &rest["crate::".len()..];
            after
                .strip_prefix("tracer")
                .is_none_or(|next| next.starts_with(ident))
        })
        .map(|rest| {
            rest.split(|c: char| !(ident(c) || c == ':'))
                .next()
                .unwrap()
        })
        .collect()
}

#[test]
fn the_check_tells_paths_apart() {
    assert_eq!(outside_paths("use crate::text;"), ["crate::text"]);
    assert_eq!(outside_paths("use crate::{text, tracer};"), ["crate::"]);
    assert_eq!(outside_paths("/// [`crate::dump`]"), ["crate::dump"]);
    assert_eq!(outside_paths("crate::trace(pid)"), ["crate::trace"]);
    assert_eq!(outside_paths("crate::tracers::x"), ["crate::tracers::x"]);
    for inside in [
        "use crate::tracer::schema;",
        "crate::tracer::text::inert(s)",
        "\"mycrate::foo\"",
        "$crate::tracer",
        "use super::text;",
    ] {
        assert!(outside_paths(inside).is_empty(), "{inside}");
    }
}

#[test]
fn nothing_under_src_tracer_imports_from_outside_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tracer");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    // The tree is there: mod.rs, the text filter and its table at least.
    for known in ["mod.rs", "text.rs", "text/unsafe_chars.rs"] {
        assert!(files.contains(&root.join(known)), "{known} not found");
    }
    let mut found = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        for (n, line) in source.lines().enumerate() {
            for path in outside_paths(line) {
                found.push(format!("{}:{}: {path}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the tracer imports from the rest of the crate:\n{}",
        found.join("\n")
    );
}
