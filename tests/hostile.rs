//! A hostile or broken target must not hurt the tracer or fool its output: corrupt and looping
//! stacks, JIT code, malformed ELF/DWARF in a mapped file, escape sequences, invisible and bidi
//! format characters and enormous text in names, symbols, paths and command lines, a 32-bit
//! process; plus a mutation fuzzer over the ELF/DWARF parsers. Every fixture must run on,
//! untraced, after each trace.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{Chains, Fixture, XorShift as Rng, fixtures_dir, gcc, gone, wait_until};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use rstack_tui::{ModuleProblem, Process, Thread, TraceOptions};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tests/fixtures/corruptlib.c as a shared library whose park function is `park_name`.
fn park_lib(file: &str, park_name: &str) -> PathBuf {
    let src = fixtures_dir().join("corruptlib.c");
    let define = format!("-DPARK_NAME={park_name}");
    gcc(
        file,
        &[
            "-O1".as_ref(),
            "-g".as_ref(),
            "-shared".as_ref(),
            "-fPIC".as_ref(),
            define.as_ref(),
            src.as_os_str(),
        ],
    )
}

/// The plain library, `mapped_park` in it.
fn good_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| park_lib("libpark.so", "mapped_park"))
}

/// The file offset of function `name` in the ELF file `data` (where the fixture calls it when
/// it maps the whole file at offset 0).
fn function_offset(data: &[u8], name: &[u8]) -> u64 {
    let file = object::File::parse(data).unwrap();
    let addr = file
        .symbols()
        .find(|s| s.name_bytes().ok() == Some(name))
        .unwrap_or_else(|| panic!("no symbol {:?}", String::from_utf8_lossy(name)))
        .address();
    let seg = file
        .segments()
        .find(|s| (s.address()..s.address() + s.size()).contains(&addr))
        .expect("a segment holds the function");
    addr - seg.address() + seg.file_range().0
}

/// The names of a thread's (physical) frames, `None` where no symbol was found.
fn names(t: &Thread) -> Vec<Option<&str>> {
    t.frames()
        .iter()
        .filter(|f| !f.is_inlined())
        .map(|f| f.symbol().map(|s| s.name()))
        .collect()
}

fn thread<'a>(p: &'a Process, name: &str) -> &'a Thread {
    p.threads()
        .iter()
        .find(|t| t.name() == Some(name))
        .unwrap_or_else(|| panic!("no thread {name:?} in {:?}", thread_names(p)))
}

fn thread_names(p: &Process) -> Vec<Option<&str>> {
    p.threads().iter().map(|t| t.name()).collect()
}

/// The frames of `t` in the fixture binary itself, innermost first.
fn fixture_frames(t: &Thread) -> Vec<&str> {
    t.frames()
        .iter()
        .filter(|f| {
            f.module()
                .is_some_and(|m| m.path.ends_with("/corruptfixture"))
        })
        .filter_map(|f| f.symbol().map(|s| s.name()))
        .collect()
}

/// The threads of corrupt.c that must come out exact, whatever their neighbours do.
fn assert_fine_threads(p: &Process) {
    let main = &p.threads()[0];
    assert_eq!(main.id(), p.id());
    assert_eq!(
        fixture_frames(main),
        ["park_forever", "main_park", "main", "_start"],
        "{:#?}",
        main.frames()
    );
    for name in ["fine-0", "fine-1"] {
        let t = thread(p, name);
        assert_eq!(t.error(), None, "{name}");
        assert_eq!(t.end_note(), None, "{name}");
        assert!(!t.is_truncated(), "{name}");
        assert_eq!(names(t)[0], Some("syscall"), "{name}: {:#?}", t.frames());
        assert_eq!(
            fixture_frames(t),
            ["park_forever", "fine_inner", "fine_outer", "fine_thread"],
            "{name}: {:#?}",
            t.frames()
        );
        // Below the fixture, the unwind reaches libc's thread start.
        assert!(
            names(t).contains(&Some("start_thread")),
            "{name}: {:#?}",
            t.frames()
        );
    }
}

/// A corrupt stack: bounded, and ended by a note (an unwind error) or a cut (loop, limit).
fn assert_ends_badly(t: &Thread, what: &str) {
    assert!(t.frames().len() <= 16, "{what}: {:#?}", t.frames());
    assert!(
        t.end_note().is_some() || t.is_truncated(),
        "{what} ends without a note: {:#?}",
        t.frames()
    );
}

#[test]
fn corrupt_stacks_are_bounded_and_fine_threads_exact() {
    let fx = Fixture::spawn(common::corrupt_bin(), &[]);
    for snapshot in [false, true] {
        let started = Instant::now();
        let p = TraceOptions::new()
            .snapshot(snapshot)
            .trace(fx.pid())
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(20), "slow trace");
        assert_eq!(p.threads().len(), 6, "{:?}", thread_names(&p));
        assert_fine_threads(&p);

        // Saved frame pointer and return address overwritten: the frames up to the smashed
        // one are right, then the unwind ends with a note.
        let smash = thread(&p, "smash");
        assert_eq!(
            names(smash)[..2],
            [Some("syscall"), Some("smash_frame")],
            "{:#?}",
            smash.frames()
        );
        assert!(
            smash.frames().iter().any(|f| f.ip() == 0xdeadbeefcafef00d),
            "the garbage return address is shown as is: {:#?}",
            smash.frames()
        );
        assert_ends_badly(smash, "smash");

        // A frame that is its own caller: bounded, ends with a note or a cut.
        let looping = thread(&p, "loop");
        assert_eq!(
            names(looping)[..2],
            [Some("syscall"), Some("loop_frame")],
            "{:#?}",
            looping.frames()
        );
        assert!(
            names(looping).iter().all(|n| *n != Some("loop_thread")),
            "the loop never leads back to its real caller: {:#?}",
            looping.frames()
        );
        assert_ends_badly(looping, "loop");

        // Code in anonymous memory: no module file, no symbol, and the walk stays bounded.
        let jit = thread(&p, "jit");
        let first = &jit.frames()[0];
        assert!(first.symbol().is_none(), "{first:?}");
        assert_eq!(first.module().map(|m| m.path.as_str()), Some(""));
        assert!(jit.frames().len() <= 16, "{:#?}", jit.frames());
        assert_eq!(jit.error(), None);
        fx.assert_running();
    }
}

/// The file range of each named section of `data`.
fn section_range(data: &[u8], name: &str) -> std::ops::Range<usize> {
    let file = object::File::parse(data).unwrap();
    let (off, size) = file
        .section_by_name(name)
        .and_then(|s| s.file_range())
        .unwrap_or_else(|| panic!("no section {name}"));
    off as usize..(off + size) as usize
}

/// Broken copies of the plain library: (tag, bytes). The park function stays where it was, so
/// the fixture can still run it; everything a loader reads around it is wrong.
fn malformed_variants(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng(0x5eed_0bad_e1f0_0001);
    let mut garble = |names: &[&str]| {
        let mut d = good.to_vec();
        for name in names {
            for b in &mut d[section_range(good, name)] {
                *b = rng.next() as u8;
            }
        }
        d
    };
    let file = object::File::parse(good).unwrap();
    let debug: Vec<&str> = file
        .sections()
        .filter_map(|s| s.name().ok())
        .filter(|n| n.starts_with(".debug_"))
        .collect();
    let mut out = vec![
        ("symtab", garble(&[".symtab", ".strtab"])),
        ("dwarf", garble(&debug)),
        ("ehframe", garble(&[".eh_frame"])),
    ];
    // The search table garbled behind a header libunwind accepts.
    let mut eh = garble(&[".eh_frame_hdr"]);
    let hdr = section_range(good, ".eh_frame_hdr").start;
    eh[hdr..hdr + 4].copy_from_slice(&[1, 0x1b, 0x03, 0x3b]);
    out.push(("ehhdr", eh));
    // A count of FDEs far beyond the table.
    let mut count = good.to_vec();
    count[hdr + 8..hdr + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    out.push(("ehcount", count));
    // Section headers cut off (with the symbols and DWARF), or out of the file.
    let debug_start = section_range(good, ".debug_info").start;
    out.push(("trunc", good[..debug_start].to_vec()));
    let mut shoff = good.to_vec();
    shoff[0x28..0x30].copy_from_slice(&0xffff_ffff_ffff_0000u64.to_le_bytes());
    out.push(("shoff", shoff));
    let mut shnum = good.to_vec();
    shnum[0x3c..0x40].copy_from_slice(&[0xff, 0xff, 0xfe, 0xff]);
    out.push(("shnum", shnum));
    out
}

/// Writes the variants next to the fixture and returns (tag, path).
fn write_variants(variants: &[(&'static str, Vec<u8>)]) -> Vec<(&'static str, PathBuf)> {
    let dir = out_dir().join(format!("malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    variants
        .iter()
        .map(|(tag, bytes)| {
            let path = dir.join(format!("{tag}.so"));
            std::fs::write(&path, bytes).unwrap();
            (*tag, path)
        })
        .collect()
}

/// Fixture arguments mapping each file and parking thread `m-<tag>` in it.
fn mapped_args(files: &[(&str, PathBuf)], offset: u64) -> Vec<String> {
    files
        .iter()
        .flat_map(|(tag, path)| {
            [
                path.to_str().unwrap().to_string(),
                format!("{offset:#x}"),
                format!("m-{tag}"),
            ]
        })
        .collect()
}

#[test]
fn malformed_mapped_elf_is_noted_and_other_stacks_exact() {
    let good = std::fs::read(good_lib()).unwrap();
    let offset = function_offset(&good, b"mapped_park");
    let files = write_variants(&malformed_variants(&good));
    let args = mapped_args(&files, offset);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fx = Fixture::spawn(common::corrupt_bin(), &args);

    let p = TraceOptions::new().trace(fx.pid()).unwrap();
    fx.assert_running();
    assert_eq!(p.threads().len(), 6 + files.len(), "{:?}", thread_names(&p));
    assert_fine_threads(&p);
    for (tag, path) in &files {
        let t = thread(&p, &format!("m-{tag}"));
        let path = path.to_str().unwrap();
        let first = &t.frames()[0];
        assert_eq!(
            first.module().map(|m| m.path.as_str()),
            Some(path),
            "{tag}: {:#?}",
            t.frames()
        );
        assert!(t.frames().len() <= 16, "{tag}: {:#?}", t.frames());
        assert_eq!(t.error(), None, "{tag}");
        match *tag {
            // Section headers unusable: no symbols, and a note says why.
            "trunc" | "shoff" | "shnum" => {
                assert!(first.symbol().is_none(), "{tag}: {first:?}");
                assert!(
                    p.missing_debuginfo().iter().any(|m| m.module == path
                        && matches!(&m.problem, ModuleProblem::UnreadableElf { cause }
                            if !cause.is_empty())),
                    "{tag}: no note in {:?}",
                    p.missing_debuginfo()
                );
            }
            // Unwind info garbage: the function is still named, the walk ends with a note.
            "ehframe" | "ehhdr" | "ehcount" => {
                assert_eq!(names(t)[0], Some("mapped_park"), "{tag}");
                assert!(t.end_note().is_some(), "{tag}: {:#?}", t.frames());
            }
            // Symbols or DWARF garbage: the unwind tables are intact, so the stack is whole.
            "symtab" | "dwarf" => {
                assert_eq!(
                    fixture_frames(t),
                    ["mapped_call", "mapped_thread"],
                    "{tag}: {:#?}",
                    t.frames()
                );
                if *tag == "dwarf" {
                    assert_eq!(names(t)[0], Some("mapped_park"));
                }
            }
            other => unreachable!("{other}"),
        }
    }

    // The same through the binary: success, the notes printed, the fixture untouched.
    let (code, out, err) = common::run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("debuginfo missing: ") && out.contains(": unreadable ELF file ("),
        "{out}"
    );
    fx.assert_running();
}

/// A mapped file whose program headers lie outside the file. libunwind's own ELF reader trusts
/// e_phoff and crashed the tracer with SIGSEGV when we let it look up code our tables do not
/// cover; now we never do.
#[test]
fn program_headers_out_of_the_file_do_not_crash_the_tracer() {
    let mut bad = std::fs::read(good_lib()).unwrap();
    let offset = function_offset(&bad, b"mapped_park");
    bad[0x20..0x28].copy_from_slice(&0x7fff_ffff_fff0u64.to_le_bytes());
    let files = write_variants(&[("phoff", bad)]);
    let args = mapped_args(&files, offset);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fx = Fixture::spawn(common::corrupt_bin(), &args);
    let (code, out, err) = common::run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"m-phoff\""), "{out}");
    fx.assert_running();
}

/// The bytes that replace the park function's name in the hostile library: OSC (set title),
/// CSI (clear screen), a C1 CSI, DEL and invalid UTF-8, as long as the marker they replace.
const MARKER: &[u8] = b"hostile_marker_symbol_XY";
const HOSTILE_SYMBOL: &[u8] = b"\x1b]0;pwn\x07\x1b[2J\xc2\x9b\x7f\xff\xfeevil!!!";
/// The name of the thread parked in the hostile library (15 bytes, the most comm holds).
const HOSTILE_THREAD: &[u8] = b"\x1b[5mevil\xc2\x9b\x7f!!";
/// How the hostile symbol reads once made inert.
const INERT_SYMBOL: &str = r"\x1b]0;pwn\x07\x1b[2J\u{9b}\x7f\xff\xfeevil!!!";
/// Length of the function name in the long-name library.
const LONG_NAME: usize = 20_000;

/// The hostile library, copied to a path with ESC, BEL, a newline and C1 in it, about 3800
/// bytes long (PATH_MAX is 4096); and the library whose function has a 20,000-byte name.
fn hostile_files() -> &'static HostileFiles {
    static FILES: OnceLock<HostileFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        assert_eq!(MARKER.len(), HOSTILE_SYMBOL.len());
        let lib = park_lib("libmarker.so", std::str::from_utf8(MARKER).unwrap());
        let mut data = std::fs::read(lib).unwrap();
        let offset = function_offset(&data, MARKER);
        // Every copy of the name: .strtab, .dynstr and DWARF's .debug_str.
        let mut patched = 0;
        for i in 0..data.len() - MARKER.len() {
            if &data[i..i + MARKER.len()] == MARKER {
                data[i..i + MARKER.len()].copy_from_slice(HOSTILE_SYMBOL);
                patched += 1;
            }
        }
        assert!(patched >= 2, "marker found {patched} times");
        let mut dir = out_dir()
            .join(format!("path-{}", std::process::id()))
            .into_os_string();
        dir.push("/");
        dir.push(OsStr::from_bytes(b"esc\x1b]0;pwn\x07\x1b[2J\nnl\xc2\x9bc1"));
        while dir.len() + 251 + 32 < 4000 {
            dir.push("/");
            dir.push("p".repeat(250));
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut path = dir;
        path.push(OsStr::from_bytes(b"/lib\x1b[31m.so"));
        let path = PathBuf::from(path);
        std::fs::write(&path, &data).unwrap();

        let long_name = format!("long_{}", "n".repeat(LONG_NAME - 5));
        let long = park_lib("liblong.so", &long_name);
        let long_offset = function_offset(&std::fs::read(&long).unwrap(), long_name.as_bytes());
        // The thread name argument doubles as an enormous command line (100 kB of CSI).
        let huge_arg = b"\x1b[2J".repeat(25_000);
        let args = vec![
            long.as_os_str().as_bytes().to_vec(),
            format!("{long_offset:#x}").into_bytes(),
            huge_arg,
            path.as_os_str().as_bytes().to_vec(),
            format!("{offset:#x}").into_bytes(),
            HOSTILE_THREAD.to_vec(),
        ];
        HostileFiles { path, args }
    })
}

struct HostileFiles {
    /// The hostile library's long, escape-laden path.
    path: PathBuf,
    /// The corrupt fixture's arguments that map both libraries.
    args: Vec<Vec<u8>>,
}

/// The corrupt fixture with the hostile and the long-name library mapped; the hostile thread
/// is the last one created.
fn spawn_hostile() -> Fixture {
    let args = &hostile_files().args;
    // Every hostile byte in them is valid UTF-8 (C1 as U+0080..U+009F), as Fixture takes &str.
    let args: Vec<&str> = args
        .iter()
        .map(|a| std::str::from_utf8(a).expect("fixture arguments are UTF-8"))
        .collect();
    Fixture::spawn(common::corrupt_bin(), &args)
}

/// True for what must never reach a terminal raw: ESC, BEL, DEL and the C1 controls.
fn is_raw_control(c: char) -> bool {
    matches!(c, '\u{1b}' | '\u{7}' | '\u{7f}' | '\u{80}'..='\u{9f}')
}

/// Runs the binary; returns (exit code, stdout as UTF-8 (must be), stderr).
fn run_raw(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).expect("output is valid UTF-8");
    (
        out.status.code().unwrap_or(-1),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hostile_symbol_path_names_and_command_line_come_out_inert_and_bounded() {
    let fx = spawn_hostile();
    let pid = fx.pid().to_string();
    let (code, text, err) = run_raw(&["dump", &pid]);
    assert_eq!(code, 0, "{err}");
    let (code, json, err) = run_raw(&["dump", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    fx.assert_running();
    for (what, out) in [("text", &text), ("json", &json)] {
        let bad: Vec<char> = out.chars().filter(|c| is_raw_control(*c)).collect();
        assert!(bad.is_empty(), "{what}: raw controls {bad:?}");
        // 8 threads; the 100 kB command line and the 20,000-byte name are cut, the 3.8 kB
        // path is shown whole in one frame.
        assert!(out.len() < 96 * 1024, "{what}: {} bytes", out.len());
    }
    assert!(text.contains(INERT_SYMBOL), "{text}");
    assert!(text.contains(r#""\\x1b[5mevil\\u{9b}\\x7f!!""#), "{text}");

    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let command = doc["command"].as_str().unwrap();
    assert!(command.chars().count() <= 4096, "{}", command.len());
    assert!(command.ends_with('…'));
    let threads = doc["threads"].as_array().unwrap();
    let by_name = |name: &str| {
        threads
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no thread {name:?}"))
    };
    // The hostile library's frame: its symbol and path read back as visible escapes.
    let evil = by_name(r"\x1b[5mevil\u{9b}\x7f!!");
    let frame = &evil["frames"][0];
    assert_eq!(frame["symbol"], INERT_SYMBOL, "{frame}");
    let module = frame["module"].as_str().unwrap();
    let path = &hostile_files().path;
    assert!(
        module.contains(r"/esc\x1b]0;pwn\x07\x1b[2J") && module.ends_with(r"/lib\x1b[31m.so"),
        "{module}"
    );
    assert!(module.len() >= path.as_os_str().len(), "{}", module.len());
    assert_eq!(evil["frames"][1]["symbol"], "mapped_call", "{evil}");
    // The 20,000-byte name is cut to the limit, visibly.
    let long = by_name(r"\x1b[2J\x1b[2J\x1b[2J\x1b[2");
    let name = long["frames"][0]["symbol"].as_str().unwrap();
    assert_eq!(name.chars().count(), 8192, "{}", name.len());
    assert!(name.starts_with("long_nnnn") && name.ends_with('…'));
    assert_eq!(long["frames"][1]["symbol"], "mapped_call");
}

#[test]
fn a_32_bit_process_is_refused_with_its_own_exit_code() {
    static BIN32: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN32.get_or_init(|| {
        let src = fixtures_dir().join("park32.c");
        gcc(
            "park32",
            &["-m32".as_ref(), "-O1".as_ref(), src.as_os_str()],
        )
    });
    let class = std::fs::read(bin).unwrap()[4];
    assert_eq!(class, 1, "gcc -m32 built an ELFCLASS32 file");
    let fx = Fixture::spawn(bin, &[]);
    let pid = fx.pid().to_string();
    let expected = format!(
        "rstack-tui: error: process {pid} is a 32-bit process; only x86_64 processes can be traced\n"
    );
    for args in [vec!["dump", &pid], vec!["dump", &pid, "--json"]] {
        let (code, out, err) = run_raw(&args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (3, "", expected.as_str())
        );
        fx.assert_running();
    }
    match TraceOptions::new().trace(fx.pid()) {
        Err(rstack_tui::Error::UnsupportedArchitecture { pid, arch }) => {
            assert_eq!((pid as u32, arch.as_str()), (fx.pid(), "32-bit"));
        }
        other => panic!("expected UnsupportedArchitecture, got {other:?}"),
    }
    // Refused before any attach: nothing was ever stopped.
    fx.assert_running();
    assert!(fx.thread_states().iter().all(|(_, s)| *s == 'S'));
}

#[test]
fn hostile_text_is_inert_on_the_tui_screen_and_in_its_output_bytes() {
    let fx = spawn_hostile();
    let raw = out_dir().join(format!("tui-raw-{}.bin", std::process::id()));
    let _ = std::fs::remove_file(&raw);
    // The shell waits for a line, so the pipe catching every byte the inspector writes is in
    // place before it starts.
    let script = format!("read go; exec '{BIN}' {}", fx.pid());
    let tmux = Tmux::exec(200, 50, &["sh", "-c", &script]);
    let title = tmux.format("#{pane_title}");
    tmux.cmd(&["pipe-pane", "-O", &format!("cat > '{}'", raw.display())]);
    tmux.cmd(&["send-keys", "Enter"]);
    let inspector: u32 = tmux.format("#{pane_pid}").parse().unwrap();

    // The name column shows the head of the escaped name, its cut marked (before the
    // escape's digits, which a cut never splits).
    tmux.wait_screen("the hostile thread listed", |s| {
        s.contains(" Threads (") && s.contains(r"\x1b[5mevil\u{…")
    });
    // The hostile thread was created last: select it and show its stack.
    tmux.cmd(&["send-keys", "G"]);
    let screen = tmux.wait_screen("the hostile symbol in the stack", |s| {
        s.contains(r"\x1b]0;pwn\x07\x1b[2J\u{9b}\x7f\xff\xfeevil!!!") && s.contains("mapped_call")
    });
    let bad: Vec<char> = screen.chars().filter(|c| is_raw_control(*c)).collect();
    assert!(bad.is_empty(), "raw controls {bad:?} on:\n{screen}");
    assert!(
        screen.contains("fixtures/corruptlib.c:9"),
        "the hostile frame's line:\n{screen}"
    );
    // Had an OSC gone out raw, tmux would have taken "pwn" as the pane's title.
    assert_eq!(tmux.format("#{pane_title}"), title);

    tmux.cmd(&["send-keys", "q"]);
    wait_until_gone(inspector);
    fx.assert_running();

    // Every byte the inspector wrote, up to leaving the alternate screen as it exits: its own
    // CSI sequences, but no OSC, BEL, DEL or C1.
    let mut bytes = Vec::new();
    wait_until("the inspector's last bytes through the pipe", || {
        bytes = std::fs::read(&raw).unwrap_or_default();
        bytes.windows(8).any(|w| w == b"\x1b[?1049l")
    });
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Threads ("), "{} bytes captured", bytes.len());
    assert!(!text.contains("\x1b]"), "an OSC sequence went out");
    let bad: Vec<char> = text
        .chars()
        .filter(|c| matches!(c, '\u{7}' | '\u{7f}' | '\u{80}'..='\u{9f}'))
        .collect();
    assert!(bad.is_empty(), "raw controls {bad:?} went out");
    assert!(bytes.len() < 4 << 20, "{} bytes", bytes.len());
}

/// Thread names (and the arguments they are set from) hiding or reordering text with format
/// characters and a line separator, each within comm's 15 bytes: (as set, as shown).
const FORMAT_NAMES: [(&str, &str); 5] = [
    ("ma\u{200b}in", r"ma\u{200b}in"),
    ("a\u{202e}niam", r"a\u{202e}niam"),
    ("\u{feff}bom", r"\u{feff}bom"),
    ("line\u{2028}sep", r"line\u{2028}sep"),
    ("tag\u{e0001}x", r"tag\u{e0001}x"),
];
/// The characters FORMAT_NAMES hide in the names.
const FORMAT_CHARS: [char; 5] = ['\u{200b}', '\u{202e}', '\u{feff}', '\u{2028}', '\u{e0001}'];

/// tests/fixtures/names.c: a thread named after each argument.
fn names_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = fixtures_dir().join("names.c");
        gcc(
            "namesfixture",
            &["-O1".as_ref(), "-pthread".as_ref(), src.as_os_str()],
        )
    })
}

/// The names fixture with a thread (and an argument) for each of FORMAT_NAMES, then `extra`.
fn spawn_format_names(extra: &[&str]) -> Fixture {
    let args: Vec<&str> = FORMAT_NAMES
        .iter()
        .map(|(set, _)| *set)
        .chain(extra.iter().copied())
        .collect();
    Fixture::spawn(names_bin(), &args)
}

/// The command line as shown: the fixture's path and FORMAT_NAMES escaped, then `extra`.
fn shown_format_command(extra: &[&str]) -> String {
    let mut words = vec![names_bin().to_str().unwrap()];
    words.extend(FORMAT_NAMES.iter().map(|(_, shown)| *shown));
    words.extend(extra);
    words.join(" ")
}

/// Characters in `out` that must not be there raw: FORMAT_CHARS, and anything unsafe but a
/// newline.
fn raw_unsafe(out: &str) -> Vec<char> {
    out.chars()
        .filter(|&c| FORMAT_CHARS.contains(&c) || (rstack_tui::text::is_unsafe(c) && c != '\n'))
        .collect()
}

#[test]
fn format_characters_in_thread_names_and_the_command_line_come_out_escaped() {
    let fx = spawn_format_names(&[]);
    let pid = fx.pid().to_string();
    let (code, text, err) = run_raw(&["dump", &pid]);
    assert_eq!(code, 0, "{err}");
    let (code, json, err) = run_raw(&["dump", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    fx.assert_running();
    for (what, out) in [("text", &text), ("json", &json)] {
        let bad = raw_unsafe(out);
        assert!(bad.is_empty(), "{what}: raw {bad:x?} in:\n{out}");
    }

    // Quoted text doubles its backslashes, so an escape stands apart from a backslash.
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', r"\\"));
    let head = format!(
        "Process {pid} {}: 6 threads, ",
        quoted(&shown_format_command(&[]))
    );
    assert!(text.starts_with(&head), "expected {head}in:\n{text}");
    let thread_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Thread ")).collect();
    assert_eq!(thread_lines.len(), 6, "{text}");
    // The main thread first, then the named ones in the order they were created.
    assert!(thread_lines[0].starts_with(&format!("Thread {pid} \"namesfixture\" (")));
    for (line, (_, shown)) in thread_lines[1..].iter().zip(FORMAT_NAMES) {
        let (_, rest) = line.split_once(' ').unwrap();
        let (tid, rest) = rest.split_once(' ').unwrap();
        assert!(tid.parse::<u32>().is_ok(), "{line}");
        assert!(
            rest.starts_with(&format!("{} (S sleeping", quoted(shown))),
            "{line}"
        );
    }

    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["command"], shown_format_command(&[]));
    let names: Vec<&str> = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut expected = vec!["namesfixture"];
    expected.extend(FORMAT_NAMES.iter().map(|(_, shown)| *shown));
    assert_eq!(names, expected);
}

#[test]
fn format_characters_in_names_are_escaped_on_the_tui_screen_and_in_its_output_bytes() {
    // An argument (and thread) of this test's own, to find the fixture in the process list.
    let token = format!("fmt-{}", std::process::id());
    let fx = spawn_format_names(&[&token]);
    let pid = fx.pid().to_string();
    let command = shown_format_command(&[&token]);
    let raw = out_dir().join(format!("tui-format-{}.bin", std::process::id()));
    let _ = std::fs::remove_file(&raw);
    let script = format!("read go; exec '{BIN}'");
    let tmux = Tmux::exec(200, 50, &["sh", "-c", &script]);
    tmux.cmd(&["pipe-pane", "-O", &format!("cat > '{}'", raw.display())]);
    tmux.cmd(&["send-keys", "Enter"]);
    let inspector: u32 = tmux.format("#{pane_pid}").parse().unwrap();

    // The process list: the fixture's row shows its command line escaped.
    tmux.wait_for("Processes (");
    tmux.type_text(&format!("/{token}"));
    let screen = tmux.wait_screen("the fixture alone in the filtered list", |s| {
        s.contains(&format!("filter: {token}"))
            && s.lines().any(|l| l.split_whitespace().next() == Some(&pid))
    });
    let row = screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&pid))
        .unwrap();
    assert!(row.trim_end().ends_with(&command), "{row}\n{screen}");
    let bad = raw_unsafe(&screen);
    assert!(bad.is_empty(), "raw {bad:x?} on:\n{screen}");

    // Inspect it: the header shows the command line, the threads pane every name, escaped.
    tmux.send_keys(&["Enter"]);
    tmux.wait_for("Enter inspect");
    tmux.send_keys(&["Enter"]);
    let screen = tmux.wait_screen("every escaped name in the threads pane", |s| {
        s.contains(" Threads (7) ")
            && FORMAT_NAMES
                .iter()
                .all(|(_, shown)| s.contains(&format!(" {shown} ")))
    });
    let header = screen.lines().next().unwrap();
    assert!(header.starts_with(&format!(" pid {pid} ")), "{screen}");
    assert!(header.trim_end().ends_with(&command), "{screen}");
    let bad = raw_unsafe(&screen);
    assert!(bad.is_empty(), "raw {bad:x?} on:\n{screen}");

    tmux.cmd(&["send-keys", "q"]);
    wait_until_gone(inspector);
    fx.assert_running();

    // Every byte the inspector wrote: its own controls, but none of the format characters.
    let mut bytes = Vec::new();
    wait_until("the inspector's last bytes through the pipe", || {
        bytes = std::fs::read(&raw).unwrap_or_default();
        bytes.windows(8).any(|w| w == b"\x1b[?1049l")
    });
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(r"ma\u{200b}in"),
        "{} bytes captured",
        bytes.len()
    );
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| FORMAT_CHARS.contains(&c) || (rstack_tui::text::is_unsafe(c) && c > '\u{9f}'))
        .collect();
    assert!(bad.is_empty(), "raw {bad:x?} went out");
}

fn wait_until_gone(pid: u32) {
    wait_until("the inspector to exit", || gone(pid));
}

/// Values that break length and offset fields.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
    u64::MAX - 7,
];

/// A place to damage: the ELF header, the end of the file (where the section headers are),
/// or anywhere.
fn pick_offset(rng: &mut Rng, len: usize) -> usize {
    match rng.below(6) {
        0 => rng.below(len.min(64)),
        1 => len - 1 - rng.below(len.min(4096)),
        _ => rng.below(len),
    }
}

/// One to four random edits of `data`: bit flips, interesting bytes and 2/4/8-byte values,
/// truncation, copies within the file, and splices with another seed.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        if len == 0 {
            data.extend_from_slice(&other[..other.len().min(4096)]);
            continue;
        }
        let at = pick_offset(rng, len);
        match rng.below(8) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => data[at] = INTERESTING[rng.below(INTERESTING.len())] as u8,
            2 | 3 => {
                let width = [2, 4, 8][rng.below(3)];
                let value =
                    INTERESTING[rng.below(INTERESTING.len())].wrapping_add(rng.below(3) as u64);
                let bytes = value.to_le_bytes();
                let end = (at + width).min(len);
                data[at..end].copy_from_slice(&bytes[..end - at]);
            }
            4 => data.truncate(rng.below(len + 1)),
            5 => {
                // Copy a piece of the file over another place (tables, headers, strings).
                let from = rng.below(len);
                let n = rng.below(256).min(len - from).min(len - at);
                data.copy_within(from..from + n, at);
            }
            6 => {
                // Splice: our head, another file's tail.
                let cut = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            _ => {
                for b in &mut data[at..(at + 1 + rng.below(32)).min(len)] {
                    *b = rng.next() as u8;
                }
            }
        }
    }
}

/// What a fuzz run did.
#[derive(Debug, Default)]
struct FuzzStats {
    executions: u64,
    /// Inputs that still parsed as ELF, and lookups that found something.
    parsed: u64,
    found: u64,
    findings: Vec<String>,
    slowest: Duration,
}

/// Runs `executions` mutated inputs through the symbol, debuginfo and line parsers, each in
/// catch_unwind, on a worker thread watched for hangs: an input that takes longer than
/// `hang` fails the run (and is saved) even if it never returns.
fn fuzz_parsers(seeds: Vec<Vec<u8>>, executions: u64, seed: u64, hang: Duration) -> FuzzStats {
    use std::sync::{Arc, Mutex, mpsc};
    let findings_dir = out_dir().join("fuzz-findings");
    std::fs::create_dir_all(&findings_dir).unwrap();
    let current = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<Option<FuzzStats>>();
    let worker_current = current.clone();
    let worker_dir = findings_dir.clone();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut stats = FuzzStats::default();
        let quiet = std::panic::take_hook();
        // Quiet, but remember where each panic happened.
        static WHERE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
        std::panic::set_hook(Box::new(|info| {
            *WHERE.lock().unwrap() = info.location().map(|l| l.to_string()).unwrap_or_default();
        }));
        for n in 0..executions {
            let i = rng.below(seeds.len());
            // Large seeds are slow to copy and parse: take them one time in 64.
            let i = if seeds[i].len() > 1 << 20 && rng.below(64) != 0 {
                0
            } else {
                i
            };
            let mut data = seeds[i].clone();
            let other = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, &mut data, other);
            worker_current.lock().unwrap().clone_from(&data);
            let started = Instant::now();
            let result = std::panic::catch_unwind(|| {
                use rstack_tui::tracer::fuzz;
                let parsed = object::File::parse(data.as_slice()).is_ok();
                (
                    parsed,
                    fuzz::symbols(&data) + fuzz::debuginfo(&data) + fuzz::lines(&data),
                )
            });
            stats.slowest = stats.slowest.max(started.elapsed());
            stats.executions += 1;
            match result {
                Ok((parsed, found)) => {
                    stats.parsed += u64::from(parsed);
                    stats.found += found as u64;
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let file = worker_dir.join(format!("panic-{seed:x}-{n}.bin"));
                    std::fs::write(&file, &data).unwrap();
                    stats.findings.push(format!(
                        "panic {msg:?} at {}, input saved as {}",
                        WHERE.lock().unwrap(),
                        file.display()
                    ));
                }
            }
            if tx.send(None).is_err() {
                return;
            }
        }
        std::panic::set_hook(quiet);
        let _ = tx.send(Some(stats));
    });
    loop {
        match rx.recv_timeout(hang) {
            Ok(None) => {}
            Ok(Some(stats)) => return stats,
            Err(_) => {
                let file = findings_dir.join(format!("hang-{seed:x}.bin"));
                std::fs::write(&file, &*current.lock().unwrap()).unwrap();
                panic!(
                    "an input ran longer than {hang:?} (or the worker died); saved as {}",
                    file.display()
                );
            }
        }
    }
}

/// Small real ELF files: the fixtures (64-bit with DWARF, a stripped "Go" one, 32-bit, a 20 kB
/// symbol name, and the static and `.debug_frame`-only ones, whose unwind tables we index
/// ourselves).
fn small_seeds() -> Vec<Vec<u8>> {
    static BIN32: OnceLock<PathBuf> = OnceLock::new();
    let bin32 = BIN32.get_or_init(|| {
        let src = fixtures_dir().join("park32.c");
        gcc(
            "park32-fuzz",
            &["-m32".as_ref(), "-g".as_ref(), src.as_os_str()],
        )
    });
    let long = park_lib("liblong-fuzz.so", &format!("long_{}", "n".repeat(2000)));
    // A stripped "Go" binary: .gopclntab and .go.buildinfo without .symtab.
    let go = common::fake_go_stripped("fakegostripped-fuzz", None);
    [
        good_lib(),
        go.as_path(),
        common::corrupt_bin(),
        bin32.as_path(),
        long.as_path(),
        Chains::GlibcStatic.bin(),
        Chains::MuslStatic.bin(),
        Chains::DebugFrameOnly.bin(),
    ]
    .iter()
    .map(|p| std::fs::read(p).unwrap())
    .collect()
}

/// Run by `scripts/fuzz.sh` with RSTACK_FUZZ_EXECS (default here: a few seconds' worth) and
/// RSTACK_FUZZ_BIG=1 to add libc, its separate debuginfo and rstack-tui itself as seeds.
#[test]
fn fuzz_elf_and_dwarf_parsers() {
    let executions = std::env::var("RSTACK_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let seed = std::env::var("RSTACK_FUZZ_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x0e1f_f022_d3ad_b33f);
    let mut seeds = small_seeds();
    if std::env::var_os("RSTACK_FUZZ_BIG").is_some() {
        let libc = Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6");
        let debug = std::fs::read_dir("/usr/lib/debug/.build-id")
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.extension() == Some(OsStr::new("debug")))
            .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        for p in [Some(libc.to_path_buf()), debug, Some(PathBuf::from(BIN))]
            .into_iter()
            .flatten()
        {
            eprintln!("fuzz: big seed {}", p.display());
            seeds.push(std::fs::read(p).unwrap());
        }
    }
    let started = Instant::now();
    let stats = fuzz_parsers(seeds, executions, seed, Duration::from_secs(20));
    eprintln!(
        "fuzz: {} executions in {:?} (seed {seed:#x}): {} still ELF, {} facts found, slowest input {:?}, {} findings",
        stats.executions,
        started.elapsed(),
        stats.parsed,
        stats.found,
        stats.slowest,
        stats.findings.len()
    );
    assert_eq!(stats.executions, executions);
    assert!(
        stats.parsed > executions / 10,
        "the mutations destroy too much: {stats:?}"
    );
    assert!(stats.findings.is_empty(), "{:#?}", stats.findings);
}
