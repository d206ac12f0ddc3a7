//! The docs kept in step with the tree: `docs/modules.md` names every `.rs` file under `src/`
//! and nothing else, and every relative link in `README.md` and `docs/*.md` leads to a file
//! that exists (and, with `#anchor`, to a heading in it).

use std::collections::{BTreeMap, BTreeSet};
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

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown file outside fenced code blocks.
fn prose(md: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    md.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The anchors of a Markdown file's headings, with GitHub's `-1`, `-2` for repeats.
fn anchors(md: &str) -> BTreeSet<String> {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in prose(md) {
        let Some(text) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(text.trim_start_matches('#'));
        let n = count.entry(base.clone()).or_default();
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of the inline links `[text](target)` of a Markdown file, outside code.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(md) {
        // Code spans are dropped first: `a](b)` inside one is not a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[test]
fn link_and_anchor_parsing() {
    let md = "# The `dump` command\n## Why a thread waits\n## Why a thread waits\n\
              ```\n# not a heading [x](nowhere.md)\n```\n\
              See [a](docs/a.md#x-y), [`b`](#why-a-thread-waits) and `[c](code.md)`.\n";
    assert_eq!(links(md), ["docs/a.md#x-y", "#why-a-thread-waits"]);
    let expected: BTreeSet<String> = [
        "the-dump-command",
        "why-a-thread-waits",
        "why-a-thread-waits-1",
    ]
    .map(String::from)
    .into();
    assert_eq!(anchors(md), expected);
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut docs = vec![root().join("README.md")];
    for entry in fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|x| x == "md") {
            docs.push(path);
        }
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let md = fs::read_to_string(doc).expect("a readable doc");
        for target in links(&md) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a doc's directory").join(file)
            };
            let name = doc
                .strip_prefix(root())
                .unwrap_or(doc)
                .display()
                .to_string();
            if !path.exists() {
                broken.push(format!("{name}: ({target}): no such file"));
            } else if !anchor.is_empty() {
                let text = fs::read_to_string(&path).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{name}: ({target}): no such heading"));
                }
            }
        }
    }
    assert!(
        checked > 10,
        "found only {checked} relative links in {docs:?}"
    );
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}
