//! The one file to copy to a box: `make static`'s binary (scripts/static.sh) is a statically
//! linked executable with no interpreter and no dynamic section, and it runs `dump` of a static
//! fixture inside a root that holds nothing else (no libc, no libunwind, no liblzma): the two
//! files and /proc, mounted in a mount namespace of its own. The stacks must be exact.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Chains, Fixture};

/// Builds (or finds up to date) the static binary with the same script as `make static`.
fn static_binary() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`: the script builds into the same target dir.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("a target dir");
    let out = Command::new("bash")
        .arg(manifest.join("scripts/static.sh"))
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .expect("run scripts/static.sh");
    assert!(
        out.status.success(),
        "scripts/static.sh failed (scripts/deps.sh installs libunwind-dev, liblzma-dev, \
         libc6-dev): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).expect("a path");
    PathBuf::from(path.trim_end())
}

/// The types of an ELF64 file's program headers.
fn program_header_types(elf: &[u8]) -> Vec<u32> {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count)
        .map(|i| {
            let o = phoff + i * size;
            u32::from_le_bytes(elf[o..o + 4].try_into().unwrap())
        })
        .collect()
}

/// Each thread's function names from `dump`'s text, innermost first, inlined frames left out:
/// `(thread name, [names])` in the listing's order.
fn chains(listing: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in listing.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            let name = rest.split('"').nth(1).unwrap_or("").to_string();
            out.push((name, Vec::new()));
        } else if line.starts_with("  #") && !line.contains("  [inlined] ") {
            let symbol = line.split_whitespace().nth(2).unwrap_or("??");
            let name = symbol.split("+0x").next().unwrap_or(symbol).to_string();
            out.last_mut().expect("a thread first").1.push(name);
        }
    }
    out
}

/// `dump` of `pid` by the binary in `root`, chrooted, with /proc mounted in a mount namespace
/// of its own (gone with it) and an empty environment; its stdout.
fn dump_in_root(root: &Path, pid: u32, unwinder: &str) -> String {
    let script = r#"mount -t proc proc "$1/proc" && exec chroot "$1" /rstack-tui dump --no-line-cache --unwinder "$3" "$2""#;
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(root)
        .arg(pid.to_string())
        .arg(unwinder)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("run unshare (util-linux)");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{unwinder}: stderr: {}\nstdout: {listing}",
        String::from_utf8_lossy(&out.stderr)
    );
    listing
}

/// The chains fixture's threads and their exact frames (static glibc names pause(2) by its
/// strong symbol), as tests/binaries.rs has them.
fn expected() -> Vec<(String, Vec<String>)> {
    let thread_bottom: &[&str] = &["start_thread", "__clone3"];
    let main_bottom: &[&str] = &["__libc_start_call_main", "__libc_start_main", "_start"];
    let top: &[&str] = &["__libc_pause", "park"];
    let threads: [(&str, &[&str], &[&str]); 3] = [
        ("chains", &["main_park", "main"], main_bottom),
        (
            "deep",
            &["level_three", "level_two", "level_one", "deep_main"],
            thread_bottom,
        ),
        ("shallow", &["level_three", "shallow_main"], thread_bottom),
    ];
    threads
        .iter()
        .map(|(name, middle, bottom)| {
            let names = [top, middle, bottom].concat();
            (
                name.to_string(),
                names.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_static_binary_dumps_a_fixture_in_an_empty_root() {
    let bin = static_binary();
    let elf = std::fs::read(&bin).expect("read the static binary");
    let types = program_header_types(&elf);
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    assert!(
        !types.contains(&PT_INTERP) && !types.contains(&PT_DYNAMIC),
        "{}: program headers {types:?}",
        bin.display()
    );

    // The root: the binary, the static fixture, an empty /proc to mount on. Nothing else.
    let root =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("static-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::copy(&bin, root.join("rstack-tui")).unwrap();
    std::fs::copy(Chains::GlibcStatic.bin(), root.join("chains")).unwrap();
    let mut entries: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["chains", "proc", "rstack-tui"]);

    // The fixture runs in the root too, so the paths in its maps are the root's.
    let root_arg = root.to_str().expect("a UTF-8 path");
    let fx = Fixture::spawn(Path::new("/usr/sbin/chroot"), &[root_arg, "/chains"]);
    // Both unwinders: `ptrace` is libunwind's ptrace accessors, linked in from libunwind.a.
    for unwinder in ["copy", "ptrace"] {
        let listing = dump_in_root(&root, fx.pid(), unwinder);
        assert!(
            listing.starts_with(&format!("Process {} ", fx.pid())),
            "{unwinder}: {listing}"
        );
        assert_eq!(chains(&listing), expected(), "{unwinder}: {listing}");
    }
    fx.assert_running();
    drop(fx);
    let _ = std::fs::remove_dir_all(&root);
}
