//! Separate debuginfo: a stripped fixture (tests/fixtures/debuginfo.c) still shows its
//! `static` functions when its symbols can be found by `.gnu_debuglink`, by build-id (in a
//! directory given with `TraceOptions::debug_dirs`) or in MiniDebugInfo (`.gnu_debugdata`);
//! without any, its frames have no symbol and the trace names it as missing debuginfo.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::Fixture;
use object::Object;
use rstack_tui::{ModuleNote, ModuleProblem, Process, Thread, TraceOptions};

/// The fixture's own functions, innermost first, as each worker thread parks in them.
const CHAIN: [&str; 3] = ["hidden_wait", "hidden_level", "thread_main"];

/// The fixture built once, and its stripped variants.
struct Variants {
    /// Built with -g, with its own .symtab.
    full: PathBuf,
    /// Stripped, with a .gnu_debuglink to `bin.debug` next to it.
    debuglink: PathBuf,
    /// Stripped; its debug file is only at `<buildid_root>/.build-id/xx/rest.debug`.
    buildid: PathBuf,
    buildid_root: PathBuf,
    /// Stripped, with no debuginfo anywhere.
    stripped: PathBuf,
    /// The debuglink binary next to a `bin.debug` of other contents (CRC mismatch).
    bad_crc: PathBuf,
    /// Stripped, with a Fedora-style `.gnu_debugdata` (xz-compressed ELF with a .symtab).
    mini: PathBuf,
}

fn run(program: &str, args: &[&std::ffi::OsStr]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

macro_rules! run {
    ($program:expr, $($arg:expr),+ $(,)?) => {
        run($program, &[$(std::ffi::OsStr::new(&$arg)),+])
    };
}

fn variants() -> &'static Variants {
    static VARIANTS: OnceLock<Variants> = OnceLock::new();
    VARIANTS.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = target.join("debuginfo-fixtures");
        // Built under a temporary name, then renamed into place.
        let tmp = target.join(format!("debuginfo-fixtures.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        for sub in [
            "full",
            "debuglink",
            "badcrc",
            "buildid",
            "root",
            "stripped",
            "mini",
            "work",
        ] {
            std::fs::create_dir_all(tmp.join(sub)).unwrap();
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debuginfo.c");
        let full = tmp.join("full/bin");
        run!(
            "gcc",
            "-O1",
            "-g",
            "-pthread",
            "-Wl,--build-id",
            source,
            "-o",
            full
        );

        // (1) Stripped, with a debuglink to bin.debug next to it.
        let debug = tmp.join("debuglink/bin.debug");
        run!("objcopy", "--only-keep-debug", full, debug);
        // objcopy finds the debug file by the path given: run it in that directory.
        let status = Command::new("objcopy")
            .current_dir(tmp.join("debuglink"))
            .args(["--strip-all", "--add-gnu-debuglink=bin.debug"])
            .arg(&full)
            .arg("bin")
            .status()
            .unwrap();
        assert!(status.success());

        // Same name, other contents: the CRC does not match. Files are written here, before
        // any test spawns a fixture, so no child inherits a file open for writing (ETXTBSY).
        std::fs::copy(tmp.join("debuglink/bin"), tmp.join("badcrc/bin")).unwrap();
        std::fs::copy(&full, tmp.join("badcrc/bin.debug")).unwrap();

        // (2) Stripped; the debug file only under <root>/.build-id/.
        let buildid = tmp.join("buildid/bin");
        run!("objcopy", "--strip-all", full, buildid);
        let id = build_id(&full);
        let by_id = tmp.join("root").join(build_id_path(&id));
        std::fs::create_dir_all(by_id.parent().unwrap()).unwrap();
        std::fs::copy(&debug, &by_id).unwrap();

        // (3) Stripped, nothing else.
        let stripped = tmp.join("stripped/bin");
        run!("objcopy", "--strip-all", full, stripped);

        // (4) MiniDebugInfo, as Fedora makes it: the local function symbols only.
        let keep = tmp.join("work/keep_symbols");
        std::fs::write(&keep, CHAIN.join("\n") + "\n").unwrap();
        let mini_elf = tmp.join("work/mini_debuginfo");
        run!(
            "objcopy",
            "-S",
            "--remove-section",
            ".gdb_index",
            "--remove-section",
            ".comment",
            format!("--keep-symbols={}", keep.display()),
            debug,
            mini_elf
        );
        run!("xz", "-f", "-k", mini_elf);
        let mini = tmp.join("mini/bin");
        run!(
            "objcopy",
            format!(
                "--add-section=.gnu_debugdata={}",
                tmp.join("work/mini_debuginfo.xz").display()
            ),
            stripped,
            mini
        );

        let _ = std::fs::remove_dir_all(&out);
        std::fs::rename(&tmp, &out).unwrap();
        Variants {
            full: out.join("full/bin"),
            debuglink: out.join("debuglink/bin"),
            bad_crc: out.join("badcrc/bin"),
            buildid: out.join("buildid/bin"),
            buildid_root: out.join("root"),
            stripped: out.join("stripped/bin"),
            mini: out.join("mini/bin"),
        }
    })
}

fn build_id(path: &Path) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.build_id()
        .unwrap()
        .unwrap_or_else(|| panic!("{} has no build-id", path.display()))
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn build_id_path(id: &[u8]) -> PathBuf {
    let hex = hex(id);
    PathBuf::from(format!(".build-id/{}/{}.debug", &hex[..2], &hex[2..]))
}

fn has_symtab(path: &Path) -> bool {
    let data = std::fs::read(path).unwrap();
    object::File::parse(&*data)
        .unwrap()
        .symbol_table()
        .is_some()
}

/// Traces the fixture `bin` with `dirs` as extra debug directories.
fn trace(bin: &Path, dirs: Vec<PathBuf>) -> (Fixture, Process) {
    let fx = Fixture::spawn(bin, &[]);
    let p = TraceOptions::new()
        .debug_dirs(dirs)
        .trace(fx.pid())
        .expect("trace");
    fx.assert_running();
    (fx, p)
}

fn workers(p: &Process) -> Vec<&Thread> {
    let mut names: Vec<_> = p.threads().iter().filter_map(|t| t.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bin", "hidden-a", "hidden-b"], "thread names");
    p.threads()
        .iter()
        .filter(|t| t.name().is_some_and(|n| n.starts_with("hidden-")))
        .collect()
}

/// Asserts that each worker's frames hold exactly the fixture chain, in order.
fn assert_chain(p: &Process) {
    for t in workers(p) {
        let names: Vec<&str> = t
            .frames()
            .iter()
            .filter_map(|f| f.symbol())
            .map(|s| s.name())
            .filter(|n| CHAIN.contains(n))
            .collect();
        assert_eq!(names, CHAIN, "{:?} frames: {:#?}", t.name(), t.frames());
    }
}

/// The missing-debuginfo notes about `bin`, in words.
fn missing_for(p: &Process, bin: &Path) -> Vec<String> {
    let path = bin.display().to_string();
    p.missing_debuginfo()
        .iter()
        .filter(|n| n.module == path)
        .map(ToString::to_string)
        .collect()
}

#[test]
fn variants_are_stripped() {
    let v = variants();
    assert!(has_symtab(&v.full));
    for bin in [&v.debuglink, &v.buildid, &v.stripped, &v.mini] {
        assert!(!has_symtab(bin), "{} still has .symtab", bin.display());
    }
}

/// Traces `bin` (with extra debug `dirs`): every worker's whole chain resolves, and the binary
/// is not reported as missing debuginfo.
fn resolves_fully(bin: &Path, dirs: Vec<PathBuf>) {
    let (fx, p) = trace(bin, dirs);
    assert_chain(&p);
    assert_eq!(missing_for(&p, bin), Vec::<String>::new());
    fx.assert_running();
}

#[test]
fn own_symtab() {
    let v = variants();
    resolves_fully(&v.full, Vec::new());
}

#[test]
fn debuglink_next_to_binary() {
    let v = variants();
    resolves_fully(&v.debuglink, Vec::new());
}

#[test]
fn debuglink_with_wrong_crc_is_skipped() {
    // Same name, other contents: the CRC does not match, so the file must not be used.
    let v = variants();
    let bin = &v.bad_crc;
    let (fx, p) = trace(bin, Vec::new());
    for t in workers(&p) {
        let named: Vec<&str> = t
            .frames()
            .iter()
            .filter_map(|f| f.symbol())
            .map(|s| s.name())
            .filter(|n| CHAIN.contains(n))
            .collect();
        assert!(
            named.is_empty(),
            "resolved through a bad debuglink: {named:?}"
        );
    }
    assert_eq!(missing_for(&p, bin).len(), 1, "{:?}", p.missing_debuginfo());
    fx.assert_running();
}

#[test]
fn build_id_in_debug_dir() {
    let v = variants();
    resolves_fully(&v.buildid, vec![v.buildid_root.clone()]);
}

#[test]
fn mini_debuginfo() {
    let v = variants();
    resolves_fully(&v.mini, Vec::new());
}

#[test]
fn no_debuginfo_anywhere() {
    let v = variants();
    // The build-id file exists, but only in a directory this trace is not given.
    let (fx, p) = trace(&v.stripped, Vec::new());
    let mut fixture_frames = 0;
    for t in workers(&p) {
        for f in t.frames() {
            if f.module().is_some_and(|m| Path::new(&m.path) == v.stripped) {
                fixture_frames += 1;
                assert!(
                    f.symbol().is_none(),
                    "{:?}: a stripped fixture frame got a symbol: {f:#?}",
                    t.name()
                );
            }
        }
    }
    // hidden_wait, hidden_level and thread_main in each of the two workers.
    assert!(
        fixture_frames >= 6,
        "only {fixture_frames} fixture frames: {p:#?}"
    );
    let lines = missing_for(&p, &v.stripped);
    // As a library user sees it: the module and its build-id, typed.
    let path = v.stripped.display().to_string();
    let notes: Vec<&ModuleNote> = p
        .missing_debuginfo()
        .iter()
        .filter(|n| n.module == path)
        .collect();
    assert!(
        matches!(notes[..], [ModuleNote {
            problem: ModuleProblem::NoDebuginfo { build_id: Some(b) },
            ..
        }] if *b == build_id(&v.stripped)),
        "{notes:?}"
    );
    let id = hex(&build_id(&v.stripped));
    assert_eq!(
        lines,
        [format!(
            "{}: no debuginfo (build-id {id}; a -dbg/-dbgsym package provides /usr/lib/debug/.build-id/{}/{}.debug)",
            v.stripped.display(),
            &id[..2],
            &id[2..]
        )],
        "{:?}",
        p.missing_debuginfo()
    );
    fx.assert_running();
}

#[test]
fn system_libc_debuginfo() {
    let v = variants();
    let (fx, p) = trace(&v.full, Vec::new());
    let libc = workers(&p)
        .iter()
        .flat_map(|t| t.frames())
        .filter_map(|f| f.module())
        .find(|m| {
            Path::new(&m.path)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
        })
        .map(|m| PathBuf::from(&m.path))
        .expect("a libc frame");
    let id = build_id(&libc);
    let debug = Path::new("/usr/lib/debug").join(build_id_path(&id));
    if has_symtab(&libc) {
        eprintln!("skipped: {} has its own .symtab", libc.display());
        return;
    }
    if !debug.exists() {
        eprintln!(
            "skipped: {} not installed (libc6-dbg / glibc-debuginfo)",
            debug.display()
        );
        assert_eq!(
            missing_for(&p, &libc).len(),
            1,
            "{:?}",
            p.missing_debuginfo()
        );
        return;
    }
    for t in workers(&p) {
        assert!(
            t.frames()
                .iter()
                .any(|f| f.symbol().is_some_and(|s| s.name() == "start_thread")),
            "{:?} has no start_thread: {:#?}",
            t.name(),
            t.frames()
        );
    }
    assert_eq!(missing_for(&p, &libc), Vec::<String>::new());
    fx.assert_running();
}

/// Lines come from the separate debug file's DWARF when the binary is stripped.
#[test]
fn debuglink_gives_lines() {
    let v = variants();
    let (_fx, p) = trace(&v.debuglink, Vec::new());
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debuginfo.c"),
    )
    .unwrap();
    let call = source
        .lines()
        .position(|l| l.trim() == "hidden_wait();")
        .expect("the call of hidden_wait") as u32
        + 1;
    for t in workers(&p) {
        let f = t
            .frames()
            .iter()
            .find(|f| f.symbol().is_some_and(|s| s.name() == "hidden_level"))
            .unwrap_or_else(|| panic!("no hidden_level in {:#?}", t.frames()));
        let loc = f.location().expect("a location from bin.debug");
        assert!(loc.file.ends_with("tests/fixtures/debuginfo.c"), "{loc:?}");
        assert_eq!(loc.line, call, "{f:#?}");
    }
}
