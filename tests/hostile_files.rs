//! Files a hostile target controls, attacked as the security audit did: a container whose
//! symlinks point at the host's files, debug files that are a FIFO or `/dev/zero`, a root
//! target truncating its debug file while we read it, and compressed-DWARF bombs. Each test
//! asserts the safe outcome: nothing outside the target's root is opened, `dump` ends with a
//! note in bounded memory, and no read of a shrinking file kills us.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Fixture, gcc};
use object::{Object, ObjectSection};
use rstack_tui::{ModuleProblem, Process, TraceOptions, Tracer};

/// The fixture's own functions, innermost first, as each worker thread parks in them.
const CHAIN: [&str; 3] = ["hidden_wait", "hidden_level", "thread_main"];

/// Generous: every run here takes well under a second when nothing hangs.
const WITHIN: Duration = Duration::from_secs(60);

/// Peak memory a `dump` may reach on any of these inputs.
const MAX_RSS_KIB: i64 = 300 << 10;

fn run(program: &str, args: &[&std::ffi::OsStr], dir: Option<&Path>) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

macro_rules! run {
    ($program:expr, $($arg:expr),+ $(,)?) => {
        run($program, &[$(std::ffi::OsStr::new(&$arg)),+], None)
    };
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-files-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tests/fixtures/debuginfo.c with its own symbols and DWARF (and a build-id).
fn full_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = common::fixtures_dir().join("debuginfo.c");
        let args = ["-O1", "-g", "-pthread", "-Wl,--build-id"];
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        args.push(src.as_os_str());
        gcc("hostile-files-full", &args)
    })
}

/// In `dir`: `bin.debug` (the fixture's debug file) and `bin`, stripped, with a
/// `.gnu_debuglink` to it. Returns (bin, bin.debug).
fn stripped_with_debuglink(dir: &Path) -> (PathBuf, PathBuf) {
    let debug = dir.join("bin.debug");
    run!("objcopy", "--only-keep-debug", full_bin(), debug);
    // objcopy finds the debug file by the name given: run it in that directory.
    run(
        "objcopy",
        &[
            "--strip-all".as_ref(),
            "--add-gnu-debuglink=bin.debug".as_ref(),
            full_bin().as_os_str(),
            "bin".as_ref(),
        ],
        Some(dir),
    );
    (dir.join("bin"), debug)
}

fn build_id_path(bin: &Path) -> PathBuf {
    let data = std::fs::read(bin).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let id = file.build_id().unwrap().expect("a build-id");
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    PathBuf::from(format!(".build-id/{}/{}.debug", &hex[..2], &hex[2..]))
}

/// The names of the fixture chain each worker thread's frames hold.
fn chains(p: &Process) -> Vec<Vec<String>> {
    let mut workers: Vec<_> = p
        .threads()
        .iter()
        .filter(|t| t.name().is_some_and(|n| n.starts_with("hidden-")))
        .collect();
    workers.sort_by_key(|t| t.name().map(str::to_owned));
    assert_eq!(workers.len(), 2, "two workers: {:#?}", p.threads());
    workers
        .iter()
        .map(|t| {
            t.frames()
                .iter()
                .filter_map(|f| f.symbol())
                .map(|s| s.name().to_owned())
                .filter(|n| CHAIN.contains(&n.as_str()))
                .collect()
        })
        .collect()
}

fn all_frames(p: &Process) -> String {
    format!("{:#?}", p.threads())
}

/// What a finished `dump` run gave.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs the binary with `args` and waits for it, at most [`WITHIN`] (then kills it, by pid,
/// and fails), measuring its peak memory.
// The child is reaped by `wait4`, which `Child` does not know of.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rstack-tui"))
        .args(args)
        .arg("--no-line-cache")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rstack-tui");
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: a plain struct filled by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child; WNOHANG, so this only looks.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            return Outcome {
                code: if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    -libc::WTERMSIG(status)
                },
                stdout: out.join().unwrap(),
                stderr: err.join().unwrap(),
                max_rss_kib: usage.ru_maxrss,
            };
        }
        if started.elapsed() > WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rstack-tui {args:?} still running after {WITHIN:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `dump PID` of a fixture that must end promptly, in bounded memory, with `note` among the
/// notes; returns its output.
fn dump_with_note(pid: u32, note: &str) -> String {
    let o = run_measured(&["dump", &pid.to_string()]);
    assert_eq!(o.code, 0, "dump failed: {}", o.stderr);
    assert!(
        o.max_rss_kib < MAX_RSS_KIB,
        "dump peaked at {} MiB",
        o.max_rss_kib >> 10
    );
    assert!(o.stdout.contains(note), "no {note:?} in:\n{}", o.stdout);
    o.stdout
}

// ---------------------------------------------------------------------------------------------
// Containers: paths are resolved inside the target's root.

/// Starts the stripped fixture in a container of its own (a fresh tmpfs as its root, seen
/// by no one else), holding its libc and loader, the binary at /app/bin and `extra` entries
/// (container.c's SRC:DEST, @LINK:DEST and |:DEST forms).
fn in_container(name: &str, bin: &Path, extra: &[String]) -> Fixture {
    let root = scratch(name).join("root");
    let mut entries: Vec<String> = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
    .iter()
    .map(|lib| common::container::copy(Path::new(lib), lib))
    .collect();
    entries.push(common::container::copy(bin, "/app/bin"));
    entries.extend(extra.iter().cloned());
    let fx = common::container::spawn(&root, &entries, &["/app/bin"]);
    // The container's files are its own: the host does not see them.
    assert!(!root.join("app/bin").exists());
    fx
}

#[test]
fn a_container_target_gets_its_symbols_from_inside() {
    let dir = scratch("container-files");
    let (bin, debug) = stripped_with_debuglink(&dir);
    // The debug file inside the container by build-id: found there, though the host has
    // neither it nor the container's libc at those paths.
    let by_id = Path::new("/usr/lib/debug").join(build_id_path(full_bin()));
    let fx = in_container(
        "container-good",
        &bin,
        &[format!("{}:{}", debug.display(), by_id.display())],
    );
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    let want: Vec<Vec<String>> = vec![CHAIN.iter().map(|s| s.to_string()).collect(); 2];
    assert_eq!(chains(&p), want, "{}", all_frames(&p));
    // Its libc lives only inside the container: found through the mapping, with symbols.
    let waits = p
        .threads()
        .iter()
        .filter(|t| {
            t.frames().iter().any(|f| {
                f.module()
                    .is_some_and(|m| m.path == "/lib/x86_64-linux-gnu/libc.so.6")
                    && f.symbol()
                        .is_some_and(|s| s.name().starts_with("pthread_cond_wait"))
            })
        })
        .count();
    assert_eq!(waits, 2, "{}", all_frames(&p));
    // Lines from the debug file found inside.
    let located = p.threads().iter().flat_map(|t| t.frames()).any(|f| {
        f.symbol().is_some_and(|s| s.name() == "hidden_wait")
            && f.location()
                .is_some_and(|l| l.file.ends_with("debuginfo.c"))
    });
    assert!(located, "{}", all_frames(&p));
    fx.assert_running();
}

#[test]
fn container_symlinks_never_reach_host_files() {
    let dir = scratch("container-links");
    let (bin, debug) = stripped_with_debuglink(&dir);
    // The marker: the host's own copy of the right debug file. Found, it would name the
    // fixture's functions; so any name of them means we opened a host file.
    let host_copy = dir.join("host-marker.debug");
    std::fs::copy(&debug, &host_copy).unwrap();
    let climb = format!("{}{}", "../".repeat(12), host_copy.display());
    let by_id = Path::new("/usr/lib/debug").join(build_id_path(full_bin()));
    let fx = in_container(
        "container-hostile",
        &bin,
        &[
            // By build-id: an absolute link to the host's file.
            format!("@{}:{}", host_copy.display(), by_id.display()),
            // By debuglink, next to the binary: `..` far past the root, then the host path.
            format!("@{climb}:/app/bin.debug"),
            // In .debug/: a link through the container's /proc to the host's root.
            format!("@/proc/1/root{}:/app/.debug/bin.debug", host_copy.display()),
        ],
    );
    let p = TraceOptions::new().trace(fx.pid()).expect("trace");
    assert_eq!(
        chains(&p),
        vec![Vec::<String>::new(); 2],
        "{}",
        all_frames(&p)
    );
    let note = p
        .missing_debuginfo()
        .iter()
        .find(|n| n.module == "/app/bin")
        .unwrap_or_else(|| panic!("no note for /app/bin: {:?}", p.missing_debuginfo()));
    assert!(
        matches!(note.problem, ModuleProblem::NoDebuginfo { .. }),
        "{note}"
    );
    fx.assert_running();
}

// ---------------------------------------------------------------------------------------------
// Debug files that are not regular files.

#[test]
fn a_fifo_or_device_as_debug_file_is_refused_at_once() {
    // A FIFO with no writer blocks an ordinary open forever; /dev/zero reads without end.
    for (name, make) in [
        (
            "fifo",
            &(|p: &Path| {
                nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).unwrap();
            }) as &dyn Fn(&Path),
        ),
        ("zero", &|p: &Path| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap();
        }),
        ("tty", &|p: &Path| {
            std::os::unix::fs::symlink("/dev/tty", p).unwrap();
        }),
    ] {
        let dir = scratch(&format!("device-{name}"));
        let (bin, debug) = stripped_with_debuglink(&dir);
        std::fs::remove_file(&debug).unwrap();
        make(&debug);
        // The same in .debug/, the next place looked.
        std::fs::create_dir(dir.join(".debug")).unwrap();
        make(&dir.join(".debug/bin.debug"));
        let fx = Fixture::spawn(&bin, &[]);
        let out = dump_with_note(fx.pid(), &format!("{}: no debuginfo", bin.display()));
        assert!(!out.contains("hidden_wait"), "{out}");
        fx.assert_running();
    }
}

// ---------------------------------------------------------------------------------------------
// A root target truncating its debug file while we read it.

#[test]
fn a_root_target_truncating_its_debug_file_never_kills_us() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs as root, like the attack"
    );
    let dir = scratch("truncate");
    let src = common::fixtures_dir().join("truncator.c");
    let full = gcc(
        "hostile-files-truncator",
        &[
            "-O1".as_ref(),
            "-g".as_ref(),
            "-pthread".as_ref(),
            src.as_os_str(),
        ],
    );
    let debug = dir.join("bin.debug");
    run!("objcopy", "--only-keep-debug", full, debug);
    run(
        "objcopy",
        &[
            "--strip-all".as_ref(),
            "--add-gnu-debuglink=bin.debug".as_ref(),
            full.as_os_str(),
            "bin".as_ref(),
        ],
        Some(&dir),
    );
    // Root's file, writable by root only: what used to be mapped.
    let mode = std::fs::metadata(&debug).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&mode) & 0o022, 0);
    let mut fx = Fixture::spawn_busy(&dir.join("bin"), &[debug.to_str().unwrap()]);
    let runs = common::env_count("RSTACK_TRUNCATE_RUNS", 400);
    let named = |p: &Process| {
        p.threads().iter().flat_map(|t| t.frames()).any(|f| {
            f.symbol()
                .is_some_and(|s| s.name() == "park_here" || s.name() == "truncate_forever")
        })
    };
    let mut whole = 0;
    for i in 0..runs {
        // A new tracer each time, so the debug file is read again each time; every tenth
        // run with lines too, whose DWARF load reads it once more.
        let mut options = TraceOptions::new();
        options.lines(i.is_multiple_of(10));
        let p = Tracer::new(options).trace(fx.pid()).expect("trace");
        if named(&p) {
            whole += 1;
        } else {
            // A read that met the file cut short says so, never names frames silently wrong.
            assert!(
                p.missing_debuginfo()
                    .iter()
                    .any(|n| n.module.ends_with("truncate/bin")),
                "run {i}: no names and no note: {:?}\n{}",
                p.missing_debuginfo(),
                all_frames(&p)
            );
        }
    }
    // How often a read met the file whole is the scheduler's business; report it, don't bet
    // on it.
    eprintln!("the debug file was read whole in {whole} of {runs} runs");
    fx.assert_running();
    // Once the target stops with the file whole, the next tracer reads it: nothing of the
    // attack lingers, and the names do come from that file.
    fx.send_line("stop");
    assert_eq!(fx.next_line(), "whole");
    let mut options = TraceOptions::new();
    options.lines(true);
    let p = Tracer::new(options).trace(fx.pid()).expect("trace");
    assert!(named(&p), "{}", all_frames(&p));
    fx.assert_running();
}

// ---------------------------------------------------------------------------------------------
// Compressed-DWARF bombs.

/// `SHF_COMPRESSED` and the compression types of an `Elf64_Chdr`.
const SHF_COMPRESSED: u64 = 0x800;
const ELFCOMPRESS_ZLIB: u32 = 1;
const ELFCOMPRESS_ZSTD: u32 = 2;

/// Replaces section `name` of the ELF file `elf` with a compressed section of `kind` that
/// claims to inflate to `claimed` bytes: its data (`Elf64_Chdr` + `stream`) appended to the
/// file, the section header pointed at it.
fn replace_section(elf: &mut Vec<u8>, name: &str, kind: u32, claimed: u64, stream: &[u8]) {
    let file = object::File::parse(&elf[..]).unwrap();
    let index = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .index()
        .0;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let shoff = u64_at(elf, 0x28) as usize;
    let shentsize = u16_at(elf, 0x3a) as usize;
    let header = shoff + index * shentsize;
    while !elf.len().is_multiple_of(8) {
        elf.push(0);
    }
    let offset = elf.len() as u64;
    elf.extend_from_slice(&kind.to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes());
    elf.extend_from_slice(&claimed.to_le_bytes());
    elf.extend_from_slice(&1u64.to_le_bytes());
    elf.extend_from_slice(stream);
    let size = elf.len() as u64 - offset;
    let flags = u64_at(elf, header + 8) | SHF_COMPRESSED;
    elf[header + 8..header + 16].copy_from_slice(&flags.to_le_bytes());
    elf[header + 24..header + 32].copy_from_slice(&offset.to_le_bytes());
    elf[header + 32..header + 40].copy_from_slice(&size.to_le_bytes());
}

/// A zstd frame that really inflates to `size` zero bytes: RLE blocks of 128 KiB, 4 bytes
/// each (4 GiB from 128 KiB, as the audit's bomb).
fn zstd_zeros(size: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    let mut out = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame header: an 8-byte content size, single segment (no window descriptor).
    out.push(0b1110_0000);
    out.extend_from_slice(&size.to_le_bytes());
    let mut left = size;
    while left > 0 {
        let n = left.min(BLOCK);
        left -= n;
        let last = u32::from(left == 0);
        let header = last | (1 << 1) | ((n as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

/// A zlib stream of `size` zero bytes.
fn zlib_zeros(size: u64) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        z.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    z.finish().unwrap()
}

/// The fixture with its `.debug_str` replaced by a bomb, in a directory of its own.
fn bombed(name: &str, kind: u32, claimed: u64, stream: &[u8]) -> PathBuf {
    let dir = scratch(name);
    let mut elf = std::fs::read(full_bin()).unwrap();
    replace_section(&mut elf, ".debug_str", kind, claimed, stream);
    let bin = dir.join("bin");
    std::fs::write(&bin, &elf).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

/// `dump` of a bombed fixture: ends promptly in bounded memory, says why the binary has no
/// lines, and still names its functions.
fn survives_bomb(bin: &Path, claimed_mib: u64) {
    let fx = Fixture::spawn(bin, &[]);
    let note = format!(
        "{}: debug info too large: {claimed_mib} MiB claimed uncompressed",
        bin.display()
    );
    let out = dump_with_note(fx.pid(), &note);
    for f in CHAIN {
        assert!(out.contains(f), "{f} missing:\n{out}");
    }
    assert!(!out.contains("debuginfo.c:"), "lines from a bomb:\n{out}");
    fx.assert_running();
}

#[test]
fn a_zstd_bomb_is_not_inflated() {
    let bin = bombed("bomb-zstd", ELFCOMPRESS_ZSTD, 4 << 30, &zstd_zeros(4 << 30));
    survives_bomb(&bin, 4096);
}

#[test]
fn a_zlib_bomb_is_not_inflated() {
    let size = 512 << 20;
    let bin = bombed("bomb-zlib", ELFCOMPRESS_ZLIB, size, &zlib_zeros(size));
    survives_bomb(&bin, 512);
}

#[test]
fn an_xz_minidebuginfo_bomb_is_cut_short() {
    let dir = scratch("bomb-xz");
    let zeros = dir.join("zeros");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    run!("xz", "-0", "-k", "-T1", zeros);
    let bin = dir.join("bin");
    run!(
        "objcopy",
        "--strip-all",
        format!("--add-section=.gnu_debugdata={}.xz", zeros.display()),
        full_bin(),
        bin
    );
    let fx = Fixture::spawn(&bin, &[]);
    let out = dump_with_note(fx.pid(), &format!("{}: no debuginfo", bin.display()));
    assert!(!out.contains("hidden_wait"), "{out}");
    fx.assert_running();
}
