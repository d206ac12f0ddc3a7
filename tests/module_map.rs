//! The docs kept in step with the tree: `docs/modules.md` names every `.rs` file under `src/`
//! and nothing else.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as a `/`-separated path relative to the crate root.
fn rust_files(dir: &Path, out: &mut BTreeSet<String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let rel = path.strip_prefix(root()).expect("under the crate root");
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            out.insert(parts.join("/"));
        }
    }
}

/// The source files a module map names: the first code span of each list item, when it is a
/// path under `src/` (the map's other items describe directories outside `src/`).
fn mapped_files(map: &str) -> Vec<String> {
    map.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split_once('`').map(|(path, _)| path))
        .filter(|path| path.starts_with("src/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn module_map_names_every_source_file_and_only_those() {
    let map = fs::read_to_string(root().join("docs/modules.md")).expect("docs/modules.md");
    let listed = mapped_files(&map);
    let mut tree = BTreeSet::new();
    rust_files(&root().join("src"), &mut tree);
    assert!(
        tree.contains("src/main.rs"),
        "walked the wrong tree: {tree:?}"
    );

    let mut seen = BTreeSet::new();
    let twice: Vec<&String> = listed.iter().filter(|p| !seen.insert(*p)).collect();
    let missing: Vec<&String> = tree.iter().filter(|p| !seen.contains(p)).collect();
    let extra: Vec<&String> = listed.iter().filter(|p| !tree.contains(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && twice.is_empty(),
        "docs/modules.md is out of step with src/:\n  \
         missing from the map (add a line \"- `PATH`: purpose.\"): {missing:?}\n  \
         in the map but not in src/ (remove or rename): {extra:?}\n  \
         listed twice: {twice:?}"
    );
}
