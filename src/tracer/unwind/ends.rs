//! How a symbolized stack ends: a walk that went wrong after the thread's first frame (its
//! entry, recognized by name) really ended at that frame; and the module of code without
//! unwind info is named.

use crate::tracer::model::{Frame, StackEnd};
use crate::tracer::procfs::maps::MemoryMaps;

/// Functions a thread starts in: nothing real lies beyond them. (glibc and musl, Go; Go's
/// `mcall` switches to the thread's own stack and calls the scheduler there, which never
/// returns: it is the first frame on that stack, as gdb shows.)
const ROOTS: &[&str] = &[
    "_start",
    "start_thread",
    "runtime.goexit",
    "runtime.mstart",
    "runtime.clone",
    "runtime.rt0_go",
    "runtime.mcall",
    // musl's main thread: its start code has no unwind info, and this calls `main`.
    "libc_start_main_stage2",
];

/// musl's thread entries (`pthread_create.c`, `thrd_create`): too common a name to trust
/// anywhere but as the last frame of a walk that found no unwind info past it.
const LAST_ROOTS: &[&str] = &["start", "start_c11"];

/// The system call wrappers that create threads: the new thread starts in them, right after
/// the system call, where they have no unwind info (glibc ends it before the call: the
/// child's would be wrong). Below them in the thread that called them lies its caller.
const CLONES: &[&str] = &["__clone", "clone", "__clone3", "clone3"];

/// Go's assembly functions carry their ABI in the ELF name (`runtime.goexit.abi0`).
fn plain(name: &str) -> &str {
    name.strip_suffix(".abi0").unwrap_or(name)
}

/// Whether frame `i` of `frames` is a thread's first: a root function as a caller, or a
/// clone wrapper as the innermost frame of the new thread (RAX 0: `clone` returned 0).
fn is_root_frame(frames: &[Frame], i: usize, innermost: bool, first_rax: Option<u64>) -> bool {
    let f = &frames[i];
    let Some(name) = f.symbol.as_ref().map(|s| plain(&s.raw_name)) else {
        return false;
    };
    if f.inlined {
        return false;
    }
    ROOTS.contains(&name)
        || (LAST_ROOTS.contains(&name) && i + 1 == frames.len())
        || (CLONES.contains(&name) && (!innermost || first_rax == Some(0)))
}

/// The end of a walk over `frames` (symbolized): a walk that went astray is cut after the
/// last frame in a thread's first function, and then ends at the root; code without unwind
/// info gets its module's name.
/// `first_rax`: RAX of the innermost frame, when known.
pub fn finish(
    frames: &mut Vec<Frame>,
    end: StackEnd,
    first_rax: Option<u64>,
    maps: &MemoryMaps,
) -> StackEnd {
    let astray = matches!(
        end,
        StackEnd::NoUnwindInfo { .. }
            | StackEnd::Repeating { .. }
            | StackEnd::InvalidFrame { .. }
            | StackEnd::ReadFailed { .. }
            | StackEnd::Unwinder { .. }
    );
    // The innermost physical frame, after the functions inlined into it.
    let innermost = frames.iter().position(|f| !f.inlined);
    if astray
        && let Some(last_root) = (0..frames.len())
            .rev()
            .find(|&i| is_root_frame(frames, i, Some(i) == innermost, first_rax))
    {
        frames.truncate(last_root + 1);
        return StackEnd::Root;
    }
    match end {
        StackEnd::NoUnwindInfo {
            module: None,
            address,
        } => StackEnd::NoUnwindInfo {
            module: maps.find(address).map(|m| m.display_path()),
            address,
        },
        end => end,
    }
}

#[cfg(test)]
mod tests {
    use super::finish;
    use crate::tracer::model::{Frame, InvalidFrame, StackEnd, Symbol};
    use crate::tracer::procfs::maps::MemoryMaps;

    fn frame(ip: u64, name: Option<&str>) -> Frame {
        Frame {
            kind: crate::tracer::FrameKind::Native,
            ip,
            is_signal: false,
            symbol: name.map(|n| Symbol {
                name: n.into(),
                raw_name: n.into(),
                offset: 0,
                address: ip,
                size: 1,
            }),
            module: None,
            location: None,
            inlined: false,
            frameless: false,
        }
    }

    fn names(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| f.symbol.as_ref().map_or("??", |s| s.name.as_str()))
            .collect()
    }

    const ASTRAY: StackEnd = StackEnd::InvalidFrame {
        address: 0x7f00_0000_0b80,
        why: InvalidFrame::NotCode,
    };

    #[test]
    fn a_walk_astray_beyond_a_thread_root_ends_at_the_root() {
        let maps = MemoryMaps::default();
        let mut frames = vec![
            frame(1, Some("storm_work")),
            frame(2, Some("start_thread")),
            frame(3, Some("__clone3")),
            frame(0x7f00_0000_0b80, None),
        ];
        assert_eq!(finish(&mut frames, ASTRAY, None, &maps), StackEnd::Root);
        assert_eq!(names(&frames), ["storm_work", "start_thread", "__clone3"]);
        // Go's ELF names; the scheduler's frames on a thread's own stack.
        let mut frames = vec![frame(1, Some("runtime.goexit.abi0")), frame(2, None)];
        assert_eq!(finish(&mut frames, ASTRAY, None, &maps), StackEnd::Root);
        assert_eq!(frames.len(), 1);
        let mut frames = vec![
            frame(1, Some("runtime.park_m")),
            frame(2, Some("runtime.mcall")),
            frame(3, Some("runtime.gcBgMarkWorker")),
        ];
        let no_info = StackEnd::NoUnwindInfo {
            module: None,
            address: 2,
        };
        assert_eq!(finish(&mut frames, no_info, None, &maps), StackEnd::Root);
        assert_eq!(names(&frames), ["runtime.park_m", "runtime.mcall"]);
        // A walk that ended well, or at the frame limit, is left as it is.
        let mut frames = vec![frame(1, Some("_start")), frame(2, None)];
        let limit = StackEnd::FrameLimit { limit: 2 };
        assert_eq!(finish(&mut frames, limit.clone(), None, &maps), limit);
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn clone_is_the_root_of_the_new_thread_only() {
        let maps = MemoryMaps::default();
        let stack = || vec![frame(1, Some("clone3")), frame(0x7f00_0000_0b80, None)];
        // RAX 0 after the system call: the new thread, which has no caller.
        let mut frames = stack();
        assert_eq!(finish(&mut frames, ASTRAY, Some(0), &maps), StackEnd::Root);
        assert_eq!(names(&frames), ["clone3"]);
        // The thread that called clone3 (RAX the new thread's id): its callers are lost.
        for rax in [Some(4242), None] {
            let mut frames = stack();
            assert_eq!(finish(&mut frames, ASTRAY, rax, &maps), ASTRAY);
            assert_eq!(frames.len(), 2);
        }
        let mut frames = vec![frame(1, Some("clone3"))];
        let end = StackEnd::NoUnwindInfo {
            module: None,
            address: 1,
        };
        assert_eq!(finish(&mut frames, end.clone(), Some(7), &maps), end);
    }

    #[test]
    fn musl_thread_entries_are_roots_only_as_the_last_frame() {
        let maps = MemoryMaps::default();
        let no_info = StackEnd::NoUnwindInfo {
            module: None,
            address: 3,
        };
        // musl's start code has no unwind info: the walk stops in its first function.
        for root in ["start", "start_c11", "libc_start_main_stage2"] {
            let mut frames = vec![frame(1, Some("park")), frame(2, Some(root))];
            assert_eq!(
                finish(&mut frames, no_info.clone(), None, &maps),
                StackEnd::Root
            );
        }
        // A function of the program called `start`, with more frames after it, is not.
        let mut frames = vec![
            frame(1, Some("start")),
            frame(2, Some("caller")),
            frame(3, None),
        ];
        assert!(matches!(
            finish(&mut frames, no_info, None, &maps),
            StackEnd::NoUnwindInfo { .. }
        ));
        assert_eq!(frames.len(), 3);
    }
}
