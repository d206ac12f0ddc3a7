//! The one way to open a file that came from the target: a mapped module, a debug file, a
//! build-id or debuglink candidate. Paths are resolved *inside* the target's root (a
//! container's absolute symlinks and `..` stay in it), only regular files are accepted, and the
//! open never blocks (a FIFO) or takes a terminal. Whether the bytes may be memory-mapped is
//! decided here too: a file the target could shrink must be read, never mapped.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::tracer::procfs::status::Status;

/// A file opened for reading, and whether it may be mapped rather than read.
#[derive(Debug)]
pub(crate) struct Opened {
    pub file: File,
    pub meta: fs::Metadata,
    /// Only root can change the file, and the target is not root (nor can it act as root):
    /// a mapping of it can never shrink under us.
    pub may_map: bool,
}

/// The target's view of the file system: its root directory and whether it could change
/// root's files.
#[derive(Debug)]
pub(crate) struct TargetFs {
    pid: i32,
    /// `/proc/PID/root`, opened once (`None` if it could not be: every open then fails).
    root: Option<OwnedFd>,
    /// The target runs as no root of any kind, without capabilities, in our mount namespace:
    /// root-owned files it maps are ours too and it cannot truncate them.
    harmless: bool,
}

/// Flags of every open of a target's file: read only, and nothing that waits (a FIFO with no
/// writer) or makes the file our controlling terminal.
const READ_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;

/// Most symbolic links followed in one path (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

impl TargetFs {
    pub(crate) fn new(pid: i32) -> TargetFs {
        let root = open_raw(
            None,
            format!("/proc/{pid}/root"),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
        .ok();
        TargetFs {
            pid,
            root,
            harmless: harmless(pid),
        }
    }

    /// The view of a process that is a core file mounted as `source` (see `memory::mount`):
    /// its files are opened inside `root` (a sysroot, or `/`), by the paths the core records,
    /// and never mapped (a file on disk can be truncated while we read it).
    pub(crate) fn for_core(source: i32, root: &Path) -> TargetFs {
        let root = open_raw(
            None,
            root.as_os_str(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
        .ok();
        TargetFs {
            pid: source,
            root,
            harmless: false,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The file the target's mapping `start..end` maps (works for deleted or replaced files).
    pub(crate) fn open_mapped(&self, start: u64, end: u64) -> io::Result<Opened> {
        if crate::tracer::memory::is_mounted(self.pid) {
            // A core's process is gone: its files are opened by path.
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let path = format!("/proc/{}/map_files/{start:x}-{end:x}", self.pid);
        let fd = open_raw(None, &path, READ_FLAGS)?;
        checked(fd, self.harmless)
    }

    /// `path`, absolute as the target sees it, opened inside the target's root.
    pub(crate) fn open(&self, path: &Path) -> io::Result<Opened> {
        let root = self
            .root
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        let fd = open_in_root(root, path)?;
        checked(fd, self.harmless)
    }
}

impl TargetFs {
    /// The file `name` (one component, no `/`) in directory `dir`, absolute as the target
    /// sees it: the directory resolved inside the target's root, the file itself never a
    /// symbolic link (a file the target writes where anyone may, as in `/tmp`, must not
    /// point us at another of its files).
    pub(crate) fn open_no_link(&self, dir: &Path, name: &str) -> io::Result<Opened> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let root = self
            .root
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        let dir = open_in_root(root, dir)?;
        let fd = open_raw(Some(&dir), name, READ_FLAGS | libc::O_NOFOLLOW)?;
        checked(fd, self.harmless)
    }
}

/// `path`, absolute as process `pid` sees it, opened inside its root (its symbolic links
/// never reach our files) if it is a regular file: for the UI, which reads a Python frame's
/// source as the target sees it.
pub fn open_in_target(pid: u32, path: &Path) -> io::Result<File> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    TargetFs::new(pid).open(path).map(|o| o.file)
}

/// A file on our own side (a debug directory the user named): its symlinks are the user's,
/// but it must still be a regular file, opened without blocking.
pub(crate) fn open_host(path: &Path) -> io::Result<Opened> {
    let fd = open_raw(None, path.as_os_str(), READ_FLAGS)?;
    checked(fd, true)
}

/// Refuses anything but a regular file, checked on the open descriptor (a name can be
/// swapped between a check and an open; the descriptor cannot).
fn checked(fd: OwnedFd, harmless: bool) -> io::Result<Opened> {
    let file = File::from(fd);
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(Opened {
        file,
        meta,
        may_map: harmless,
    })
}

/// True when the target cannot write a file that root owns: every uid non-zero, no effective
/// capability, and our mount namespace (a container's root-owned files are its root's, who
/// may be a different, compromised process of the same container).
fn harmless(pid: i32) -> bool {
    let Ok(Status {
        uids: Some(uids),
        cap_eff: Some(cap_eff),
        ..
    }) = Status::read(pid)
    else {
        return false;
    };
    let same_ns = |p: String| fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    use std::os::unix::fs::MetadataExt;
    let ours = same_ns("/proc/self/ns/mnt".into());
    let theirs = same_ns(format!("/proc/{pid}/ns/mnt"));
    uids.iter().all(|&u| u != 0) && cap_eff == 0 && ours.is_some() && ours == theirs
}

/// `openat(dir, path, flags)` (`None`: relative to the working directory).
fn open_raw(
    dir: Option<&OwnedFd>,
    path: impl AsRef<OsStr>,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_ref().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    loop {
        // SAFETY: a valid C string and plain flags; the fd returned is ours.
        let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags, 0) };
        if fd >= 0 {
            // SAFETY: just opened, owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Opens `path` below `root` as if `root` were `/`: `openat2` with `RESOLVE_IN_ROOT` (absolute
/// symlinks and `..` stay inside) and `RESOLVE_NO_MAGICLINKS` (no `/proc/*/root` jumps out),
/// or, on kernels without it (before 5.6), the same resolution done component by component.
pub(crate) fn open_in_root(root: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
    let relative = path.strip_prefix("/").unwrap_or(path);
    let c = CString::new(relative.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a plain C struct, for which all zeroes is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = READ_FLAGS as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: a valid C string and a live `open_how` of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: just opened, owned by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // No openat2 (or a filter that hides it), or a retry it asks for: walk instead.
            Some(libc::ENOSYS | libc::EAGAIN) => return walk_in_root(root, path),
            _ => return Err(e),
        }
    }
}

/// What `open_in_root` does, without `openat2`: each component opened with `O_NOFOLLOW`
/// relative to the last, symbolic links read and resolved by us (an absolute one from
/// `root`), `..` never above `root`, magic links never followed (they are read as text).
pub(crate) fn walk_in_root(root: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, path);
    // The directories from the root down to the current one (empty: the root).
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            dirs.pop();
            continue;
        }
        let dir = dirs.last().unwrap_or(root);
        let fd = open_raw(
            Some(dir),
            &name,
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )?;
        let meta = File::from(fd.try_clone()?).metadata()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = nix::fcntl::readlinkat(fd.as_fd(), "").map_err(io::Error::from)?;
            if Path::new(&target).is_absolute() {
                dirs.clear();
            }
            push_components(&mut pending, Path::new(&target));
            continue;
        }
        if pending.is_empty() {
            // The last component, a file: opened for reading. A swap to a symlink since the
            // look above fails (ELOOP) instead of being followed.
            return open_raw(Some(dir), &name, READ_FLAGS | libc::O_NOFOLLOW);
        }
        dirs.push(fd);
    }
    Err(io::Error::from_raw_os_error(libc::EISDIR))
}

/// Pushes `path`'s names onto `pending` so that they pop in order (`.` and `/` dropped).
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(names.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root directory with a file, an escaping absolute symlink, an escaping `..` chain, a
    /// relative symlink, a loop and a FIFO; and, outside it, the file the escapes aim at.
    fn tree(name: &str) -> (std::path::PathBuf, OwnedFd) {
        let base = std::env::temp_dir().join(format!("targetfs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        fs::write(base.join("host-secret"), b"host").unwrap();
        fs::write(root.join("host-secret"), b"inside").unwrap();
        fs::write(root.join("usr/lib/real"), b"real").unwrap();
        symlink(base.join("host-secret"), root.join("usr/lib/abs")).unwrap();
        symlink("../../../../host-secret", root.join("usr/lib/dots")).unwrap();
        symlink("real", root.join("usr/lib/rel")).unwrap();
        symlink("loop", root.join("usr/lib/loop")).unwrap();
        nix::unistd::mkfifo(&root.join("usr/lib/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let fd = open_raw(
            None,
            &root,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
        .unwrap();
        (base, fd)
    }

    fn read(fd: io::Result<OwnedFd>) -> io::Result<String> {
        let mut s = String::new();
        io::Read::read_to_string(&mut File::from(fd?), &mut s)?;
        Ok(s)
    }

    #[test]
    fn both_resolvers_stay_inside_the_root() {
        let (base, root) = tree("resolve");
        for open in [open_in_root, walk_in_root] {
            let at = |p: &str| read(open(&root, Path::new(p)));
            assert_eq!(at("/usr/lib/real").unwrap(), "real");
            assert_eq!(at("/usr/lib/rel").unwrap(), "real");
            // The absolute link names the host's file: inside the root it names the root's.
            let abs_target = base.join("host-secret");
            let inside = abs_target.strip_prefix("/").unwrap();
            assert!(
                at("/usr/lib/abs").is_err(),
                "{inside:?} is not inside the root"
            );
            assert_eq!(at("/usr/lib/dots").unwrap(), "inside");
            assert_eq!(at("/../../../host-secret").unwrap(), "inside");
            assert_eq!(
                open(&root, Path::new("/usr/lib/loop"))
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::ELOOP)
            );
        }
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn only_regular_files_and_no_blocking() {
        let (base, root) = tree("fifo");
        for open in [open_in_root, walk_in_root] {
            // Non-blocking: a FIFO without a writer opens at once, and is then refused.
            let fd = open(&root, Path::new("/usr/lib/fifo")).unwrap();
            assert!(checked(fd, true).is_err());
            let dir = open(&root, Path::new("/usr/lib")).unwrap();
            assert!(checked(dir, true).is_err());
        }
        assert!(open_host(Path::new("/dev/zero")).is_err());
        assert!(open_host(Path::new("/dev/null")).is_err());
        let own = open_host(&base.join("host-secret")).unwrap();
        assert!(own.may_map);
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn our_own_process_may_not_map_as_root() {
        let me = TargetFs::new(std::process::id() as i32);
        let libc = me
            .open(Path::new("/lib/x86_64-linux-gnu/libc.so.6"))
            .unwrap();
        // The tests run as root: a root target could truncate root's files.
        assert_eq!(libc.may_map, !nix::unistd::geteuid().is_root());
    }
}
