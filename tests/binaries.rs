//! Binaries without `.eh_frame_hdr`: a static glibc executable (unindexed `.eh_frame`), a
//! static musl one, a PIE linked without the header, C built with
//! `-fno-asynchronous-unwind-tables` (its functions only in `.debug_frame`), and Go. Each thread of tests/fixtures/chains.c parks in a known call chain; both
//! unwinders must give exactly that chain, from the parking call down to the thread's start.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::trace_with;
use common::{Chains, Fixture};
use rstack_tui::{Process, UnwindMethod};

/// Every frame's function name (`??` for none), innermost first, inlined frames left out.
fn names(p: &Process, thread: &str) -> Vec<String> {
    let t = p
        .threads()
        .iter()
        .find(|t| t.name() == Some(thread))
        .unwrap_or_else(|| panic!("no thread {thread}"));
    t.frames()
        .iter()
        .filter(|f| !f.is_inlined())
        .map(|f| f.symbol().map_or("??", |s| s.name()).to_string())
        .collect()
}

/// The chain each thread of `kind` parks in: the fixture's functions between the libc frames
/// on each side, as this machine's glibc 2.36 and musl 1.2 name them.
fn expected(kind: Chains, thread: &str) -> Vec<&'static str> {
    let fixture: &[&str] = match thread {
        "main" => &["park", "main_park", "main"],
        "deep" => &["park", "level_three", "level_two", "level_one", "deep_main"],
        "shallow" => &["park", "level_three", "shallow_main"],
        _ => unreachable!(),
    };
    let (top, main_bottom, thread_bottom): (&[&str], &[&str], &[&str]) = match kind {
        // pause(2)'s glibc frame is there; static glibc names it by its strong symbol.
        Chains::GlibcStatic => (
            &["__libc_pause"],
            &["__libc_start_call_main", "__libc_start_main", "_start"],
            &["start_thread", "__clone3"],
        ),
        Chains::DebugFrameOnly | Chains::EhFramePie => (
            &["pause"],
            &["__libc_start_call_main", "__libc_start_main", "_start"],
            &["start_thread", "clone3"],
        ),
        // musl has no unwind tables of its own (the fixture makes the system call itself):
        // the walk ends at the first musl frame, as gdb's reliable frames do.
        Chains::MuslStatic => (&[], &["libc_start_main_stage2"], &["start"]),
    };
    let bottom = if thread == "main" {
        main_bottom
    } else {
        thread_bottom
    };
    [top, fixture, bottom].concat()
}

/// Each thread's physical frames (ip, sp-independent) per thread id.
fn ips(p: &Process) -> Vec<(u32, Vec<u64>)> {
    let mut all: Vec<(u32, Vec<u64>)> = p
        .threads()
        .iter()
        .map(|t| {
            let ips = t
                .frames()
                .iter()
                .filter(|f| !f.is_inlined())
                .map(|f| f.ip())
                .collect();
            (t.id(), ips)
        })
        .collect();
    all.sort();
    all
}

fn assert_chains(kind: Chains) {
    let fx = Fixture::spawn(kind.bin(), &[]);
    let reference = trace_with(fx.pid(), UnwindMethod::Ptrace, false);
    let main_name = reference.threads()[0].name().unwrap().to_string();
    assert_eq!(reference.threads().len(), 3);
    for t in reference.threads() {
        assert!(!t.is_truncated(), "{kind:?}: {:#?}", t.frames());
    }
    for thread in ["main", "deep", "shallow"] {
        let name = if thread == "main" { &main_name } else { thread };
        assert_eq!(
            names(&reference, name),
            expected(kind, thread),
            "{kind:?}, thread {thread}, ptrace unwinder"
        );
    }
    // The default unwinder, from a capture taken with and without stopping the thread,
    // gives the very same frames.
    for stop_blocked in [false, true] {
        let copy = trace_with(fx.pid(), UnwindMethod::Copy, stop_blocked);
        assert_eq!(
            ips(&copy),
            ips(&reference),
            "{kind:?}: copy unwinder (stop_blocked {stop_blocked}) vs ptrace"
        );
        for thread in ["main", "deep", "shallow"] {
            let name = if thread == "main" { &main_name } else { thread };
            assert_eq!(
                names(&copy, name),
                expected(kind, thread),
                "{kind:?} {thread}"
            );
        }
    }
    fx.assert_running();
}

#[test]
fn static_glibc_unwinds_through_its_eh_frame() {
    assert_chains(Chains::GlibcStatic);
}

#[test]
fn static_musl_unwinds_through_its_eh_frame() {
    assert_chains(Chains::MuslStatic);
}

#[test]
fn pie_without_eh_frame_hdr_unwinds_through_its_eh_frame() {
    assert_chains(Chains::EhFramePie);
}

#[test]
fn debug_frame_only_code_unwinds() {
    assert_chains(Chains::DebugFrameOnly);
}

/// What each fixture has: the premise of the tests above (a toolchain that started writing
/// `.eh_frame_hdr` into static executables would make them test nothing new).
#[test]
fn fixtures_lack_what_they_are_meant_to_lack() {
    use object::{Object, ObjectSection};
    for kind in Chains::ALL {
        let bytes = std::fs::read(kind.bin()).unwrap();
        let file = object::File::parse(bytes.as_slice()).unwrap();
        let has = |name: &str| file.section_by_name(name).is_some_and(|s| s.size() > 0);
        assert!(
            !has(".eh_frame_hdr") || kind == Chains::DebugFrameOnly,
            "{kind:?}"
        );
        match kind {
            Chains::GlibcStatic | Chains::MuslStatic | Chains::EhFramePie => {
                assert!(has(".eh_frame"), "{kind:?}")
            }
            Chains::DebugFrameOnly => {
                assert!(has(".debug_frame"));
                // Only the C runtime's start code is in .eh_frame, not the fixture's functions.
                let eh = file.section_by_name(".eh_frame").unwrap();
                assert!(eh.size() < 0x100, "{:#x}", eh.size());
            }
        }
    }
}

/// The `.debug_frame`-only fixture stripped (no symbols, no `.debug_frame`), with a
/// `.gnu_debuglink` to its debug file next to it; and stripped with nothing else.
fn stripped_debug_frame() -> &'static (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = target.join("debug-frame-stripped");
        let tmp = target.join(format!("debug-frame-stripped.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("alone")).unwrap();
        let objcopy = |dir: &Path, args: &[&std::ffi::OsStr]| {
            let status = Command::new("objcopy")
                .current_dir(dir)
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "objcopy {args:?}");
        };
        let full = Chains::DebugFrameOnly.bin().as_os_str();
        objcopy(
            &tmp,
            &["--only-keep-debug".as_ref(), full, "bin.debug".as_ref()],
        );
        // objcopy finds the debug file by the path given: run it in that directory.
        objcopy(
            &tmp,
            &[
                "--strip-all".as_ref(),
                "--add-gnu-debuglink=bin.debug".as_ref(),
                full,
                "bin".as_ref(),
            ],
        );
        objcopy(&tmp, &["--strip-all".as_ref(), full, "alone/bin".as_ref()]);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::rename(&tmp, &out).unwrap();
        (out.join("bin"), out.join("alone/bin"))
    })
}

/// A stripped module's `.debug_frame` comes from its separate debug file; without that file
/// the walk ends in the first of its functions.
#[test]
fn debug_frame_of_a_separate_debug_file() {
    let (linked, alone) = stripped_debug_frame();
    let has_debug_frame = |p: &Path| {
        use object::Object;
        let bytes = std::fs::read(p).unwrap();
        let file = object::File::parse(bytes.as_slice()).unwrap();
        file.section_by_name(".debug_frame").is_some()
    };
    assert!(!has_debug_frame(linked) && !has_debug_frame(alone));
    assert!(has_debug_frame(&linked.with_file_name("bin.debug")));
    let fx = Fixture::spawn(linked, &[]);
    for method in [UnwindMethod::Ptrace, UnwindMethod::Copy] {
        let p = trace_with(fx.pid(), method, false);
        for thread in ["deep", "shallow"] {
            assert_eq!(
                names(&p, thread),
                expected(Chains::DebugFrameOnly, thread),
                "{method:?} {thread}"
            );
        }
    }
    fx.assert_running();
    drop(fx);
    let fx = Fixture::spawn(alone, &[]);
    let p = trace_with(fx.pid(), UnwindMethod::Ptrace, false);
    // The symbols are gone with the tables: `park` is an address in the binary now.
    let deep = p
        .threads()
        .iter()
        .find(|t| t.name() == Some("deep"))
        .unwrap();
    let physical = deep.frames().iter().filter(|f| !f.is_inlined()).count();
    assert!(physical <= 3, "{:#?}", deep.frames());
    fx.assert_running();
}

/// Function names of every thread, innermost first, with the ELF `.abi0` suffix of Go's
/// assembly functions dropped (how they are named is not what is tested here).
fn go_stacks(p: &Process) -> Vec<Vec<String>> {
    p.threads()
        .iter()
        .map(|t| {
            t.frames()
                .iter()
                .filter(|f| !f.is_inlined())
                .map(|f| {
                    let name = f.symbol().map_or("??", |s| s.name());
                    name.strip_suffix(".abi0").unwrap_or(name).to_string()
                })
                .collect()
        })
        .collect()
}

/// Go code is described only by `.debug_frame`: the callers of the runtime's assembly leaves
/// (`runtime.futex`, `runtime.epollwait`) and the threads' bottom frames (`runtime.clone`
/// under `runtime.mstart`, `runtime.goexit` under a goroutine in a system call) are found,
/// with both unwinders alike.
#[test]
fn go_threads_unwind_through_debug_frame() {
    let fx = Fixture::spawn(common::gounwind_bin(), &[]);
    let reference = trace_with(fx.pid(), UnwindMethod::Ptrace, false);
    for stop_blocked in [false, true] {
        let copy = trace_with(fx.pid(), UnwindMethod::Copy, stop_blocked);
        assert_eq!(ips(&copy), ips(&reference), "stop_blocked {stop_blocked}");
    }
    let stacks = go_stacks(&reference);
    let all = format!("{stacks:#?}");
    let mut futex_waits = 0;
    for s in &stacks {
        match s.first().map(String::as_str) {
            Some("runtime.futex") => {
                futex_waits += 1;
                assert_eq!(s[1], "runtime.futexsleep", "{all}");
                assert!(
                    ["runtime.notesleep", "runtime.notetsleep_internal"].contains(&s[2].as_str()),
                    "{all}"
                );
            }
            Some("runtime.epollwait") => assert_eq!(s[1], "runtime.netpoll", "{all}"),
            _ => {}
        }
    }
    assert!(futex_waits >= 1, "{all}");
    // sysmon's thread, from its clone(2).
    assert!(
        stacks
            .iter()
            .any(|s| s.ends_with(&["runtime.mstart".into(), "runtime.clone".into()])),
        "{all}"
    );
    // The goroutine blocked in read(2) holds its thread; its stack ends where every
    // goroutine's does.
    let reader: [String; 3] = [
        "main.readStdin".into(),
        "main.main.func4".into(),
        "runtime.goexit".into(),
    ];
    assert!(
        stacks
            .iter()
            .any(|s| s.first().is_some_and(|f| f.contains("Syscall")) && s.ends_with(&reader)),
        "{all}"
    );
    fx.assert_running();
}
