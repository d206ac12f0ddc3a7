//! The line cache's directory, opened so that no one else can redirect it: walked from `/`
//! without following symlinks, each directory checked on its descriptor, and every later file
//! operation made relative to the last descriptor, never by path.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// What temporary files are called: `.tmp-<pid>-<hex>`.
const TEMP_PREFIX: &str = ".tmp-";

/// Why a cache directory was not used (see `CacheDir::open`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRefused {
    /// The directory asked for.
    pub path: PathBuf,
    /// The component of `path` that was refused (`path` itself for a malformed path).
    pub at: PathBuf,
    pub reason: CacheRefusal,
}

/// What was wrong with a component of a cache directory's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheRefusal {
    /// The path does not start at `/`.
    Relative,
    /// The path has a `.` or `..` component.
    DotComponent,
    /// A component is a symbolic link.
    Symlink,
    /// A component is not a directory.
    NotDirectory,
    /// Above the cache's home: owned by someone who is neither root nor us.
    NotRootOrUs { owner: u32 },
    /// The cache's home (the directory it sits in) or the cache directory itself: not ours.
    NotOurs { owner: u32 },
    /// Others (group or anyone) may write to it, and it is not a root-owned sticky directory.
    OthersCanWrite { mode: u32 },
    /// Opening or creating it failed.
    Io(Errno),
}

impl fmt::Display for CacheRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.display();
        match self.reason {
            CacheRefusal::Relative => write!(f, "{at} is not an absolute path"),
            CacheRefusal::DotComponent => write!(f, "{at} has a `.` or `..` component"),
            CacheRefusal::Symlink => write!(f, "{at} is a symbolic link"),
            CacheRefusal::NotDirectory => write!(f, "{at} is not a directory"),
            CacheRefusal::NotRootOrUs { owner } => {
                write!(f, "{at} belongs to uid {owner}, neither root nor us")
            }
            CacheRefusal::NotOurs { owner } => write!(f, "{at} belongs to uid {owner}, not to us"),
            CacheRefusal::OthersCanWrite { mode } => {
                write!(f, "others can write to {at} (mode {:04o})", mode & 0o7777)
            }
            CacheRefusal::Io(e) => write!(f, "{at}: {}", e.desc()),
        }
    }
}

impl std::error::Error for CacheRefused {}

/// An open cache directory: every file operation goes through its descriptor.
#[derive(Debug, Clone)]
pub(crate) struct CacheDir {
    fd: Arc<OwnedFd>,
}

impl CacheDir {
    /// `path`, with missing directories created (mode 0700), when every directory from `/` to
    /// it is a real directory (no symlink) that only root or we can change: owned by one of
    /// us and writable by no one else, except a root-owned sticky directory such as `/tmp`
    /// above the cache directory (there others cannot rename or remove what is ours). The
    /// cache's home (the directory it sits in: `$XDG_CACHE_HOME`, `~/.cache`) and the cache
    /// directory itself must be ours: a home that is someone else's is theirs to rearrange.
    ///
    /// rstack-tui runs as root, often with a home another user controls (sudo keeps `HOME` or
    /// `XDG_CACHE_HOME`). Were a symlink followed anywhere on the way, that user could have
    /// us write, and prune, in a directory of their choosing (`/var/lib/dpkg/info`).
    pub(crate) fn open(path: &Path) -> Result<CacheDir, CacheRefused> {
        let refused = |at: &Path, reason| CacheRefused {
            path: path.to_path_buf(),
            at: at.to_path_buf(),
            reason,
        };
        let bytes = path.as_os_str().as_bytes();
        if bytes.first() != Some(&b'/') {
            return Err(refused(path, CacheRefusal::Relative));
        }
        let names: Vec<&OsStr> = bytes
            .split(|&b| b == b'/')
            .filter(|n| !n.is_empty())
            .map(OsStr::from_bytes)
            .collect();
        if names.iter().any(|n| *n == "." || *n == "..") {
            return Err(refused(path, CacheRefusal::DotComponent));
        }
        let me = nix::unistd::geteuid().as_raw();
        // Depth of each directory: 0 for `/`, `leaf` for the cache directory.
        let leaf = names.len();
        let home = leaf.saturating_sub(1);
        let check = |stat: &FileStat, depth: usize| {
            let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
            let (owner, mode) = (stat.st_uid, stat.st_mode);
            let sticky_root = owner == 0 && mode & Mode::S_ISVTX.bits() != 0 && depth < leaf;
            if kind != SFlag::S_IFDIR {
                Err(CacheRefusal::NotDirectory)
            } else if depth >= home && owner != me && !(depth == home && sticky_root) {
                Err(CacheRefusal::NotOurs { owner })
            } else if owner != me && owner != 0 {
                Err(CacheRefusal::NotRootOrUs { owner })
            } else if mode & 0o022 != 0 && !sticky_root {
                Err(CacheRefusal::OthersCanWrite { mode })
            } else {
                Ok(())
            }
        };
        let mut at = PathBuf::from("/");
        let root = OsStr::new("/");
        let mut fd =
            open_dir(AT_FDCWD, root).map_err(|e| refused(&at, refusal(e, AT_FDCWD, root)))?;
        fstat(&fd)
            .map_err(CacheRefusal::Io)
            .and_then(|stat| check(&stat, 0))
            .map_err(|r| refused(&at, r))?;
        for (i, name) in names.into_iter().enumerate() {
            at.push(name);
            let next = match open_dir(&fd, name) {
                Err(Errno::ENOENT) => match mkdirat(&fd, name, Mode::S_IRWXU) {
                    // Made by us or, just now, by someone else: checked like any other.
                    Ok(()) | Err(Errno::EEXIST) => open_dir(&fd, name),
                    Err(e) => Err(e),
                },
                opened => opened,
            };
            let next = next.map_err(|e| refused(&at, refusal(e, &fd, name)))?;
            fstat(&next)
                .map_err(CacheRefusal::Io)
                .and_then(|stat| check(&stat, i + 1))
                .map_err(|r| refused(&at, r))?;
            fd = next;
        }
        Ok(CacheDir { fd: Arc::new(fd) })
    }

    /// The default place: `$XDG_CACHE_HOME/rstack-tui`, else `~/.cache/rstack-tui`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                let home = PathBuf::from(std::env::var_os("HOME")?);
                home.is_absolute().then(|| home.join(".cache"))
            })?;
        Some(base.join("rstack-tui"))
    }

    /// The contents of regular file `name`, if it holds at most `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        // O_NONBLOCK: a FIFO does not hold the open up (it is refused by the check below).
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let file = File::from(openat(&*self.fd, name, flags, Mode::empty()).ok()?);
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }

    /// Makes `bytes` the contents of `name`: written to a new file renamed over the old, so
    /// a reader (another `dump`) sees the old file or the new, never half of one. False when
    /// that failed (a full disk, a read-only home), with nothing left behind.
    pub(crate) fn replace(&self, name: &str, bytes: &[u8]) -> bool {
        let temp = format!("{TEMP_PREFIX}{}-{:x}", std::process::id(), random());
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let Ok(fd) = openat(
            &*self.fd,
            temp.as_str(),
            flags,
            Mode::S_IRUSR | Mode::S_IWUSR,
        ) else {
            return false;
        };
        if File::from(fd).write_all(bytes).is_ok()
            && renameat(&*self.fd, temp.as_str(), &*self.fd, name).is_ok()
        {
            return true;
        }
        let _ = unlinkat(&*self.fd, temp.as_str(), UnlinkatFlags::NoRemoveDir);
        false
    }

    /// The regular files in the directory (no symlinks, directories or others), each with
    /// its modification time in seconds. Names that are not UTF-8 are left out: none is ours.
    pub(crate) fn files(&self) -> Vec<(String, i64)> {
        // A descriptor of its own for the listing: a dup would share (and move) the offset.
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let Ok(mut dir) = Dir::openat(&*self.fd, ".", flags, Mode::empty()) else {
            return Vec::new();
        };
        dir.iter()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().to_bytes().to_vec();
                let name = OsString::from_vec(name).into_string().ok()?;
                let stat = fstatat(&*self.fd, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
                let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
                (kind == SFlag::S_IFREG).then_some((name, stat.st_mtime))
            })
            .collect()
    }

    /// Removes file `name` (never a directory).
    pub(crate) fn remove(&self, name: &str) {
        let _ = unlinkat(&*self.fd, name, UnlinkatFlags::NoRemoveDir);
    }

    /// True for the names [`CacheDir::replace`] gives its temporary files.
    pub(crate) fn is_temp(name: &str) -> bool {
        name.strip_prefix(TEMP_PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(pid, hex)| {
                !pid.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && !hex.is_empty()
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            })
    }
}

/// Opens directory `name` of `dir` without following a symlink (`O_PATH`: no read permission
/// needed to walk through, as with a 0711 home).
fn open_dir(dir: impl std::os::fd::AsFd, name: &OsStr) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty())
}

/// Why `name` of `dir` could not be opened as a directory: `O_NOFOLLOW` with `O_DIRECTORY`
/// fails with ELOOP or ENOTDIR on a symlink, ENOTDIR on anything else that is no directory.
fn refusal(e: Errno, dir: impl std::os::fd::AsFd, name: &OsStr) -> CacheRefusal {
    match e {
        Errno::ELOOP => CacheRefusal::Symlink,
        Errno::ENOTDIR => match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat)
                if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK =>
            {
                CacheRefusal::Symlink
            }
            _ => CacheRefusal::NotDirectory,
        },
        e => CacheRefusal::Io(e),
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, chown, symlink};
    use std::path::{Path, PathBuf};

    use super::{CacheDir, CacheRefusal, CacheRefused};

    /// A scratch directory under /tmp (root-owned, sticky), removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path = std::env::temp_dir().join(format!("cachedir-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            Scratch(path)
        }

        fn dir(&self, name: &str, mode: u32) -> PathBuf {
            let path = self.0.join(name);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                std::fs::remove_dir_all(&self.0).unwrap();
            }
        }
    }

    fn refusal(path: &Path) -> (PathBuf, CacheRefusal) {
        let CacheRefused { at, reason, .. } = CacheDir::open(path).expect_err("refused");
        (at, reason)
    }

    #[test]
    fn missing_directories_are_made_private_and_files_go_through_the_descriptor() {
        let s = Scratch::new("make");
        let path = s.0.join("home/.cache/rstack-tui");
        let dir = CacheDir::open(&path).unwrap();
        for p in [s.0.join("home"), s.0.join("home/.cache"), path.clone()] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{p:?}");
        }
        assert!(dir.replace("a", b"one"));
        assert_eq!(dir.read("a", 3).as_deref(), Some(&b"one"[..]));
        assert_eq!(dir.read("a", 2), None, "over the bound");
        // Moved away after the open: the descriptor still names the directory it checked.
        std::fs::rename(&path, s.0.join("moved")).unwrap();
        assert!(dir.replace("b", b"two"));
        assert_eq!(std::fs::read(s.0.join("moved/b")).unwrap(), b"two");
        assert!(!path.exists());
        let mut names = dir.files().into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        names.sort();
        assert_eq!(names, ["a", "b"], "a temporary file was left behind");
        dir.remove("a");
        assert_eq!(dir.read("a", 10), None);
    }

    #[test]
    fn a_symlink_anywhere_on_the_path_is_refused() {
        let s = Scratch::new("symlink");
        let target = s.dir("target", 0o700);
        let home = s.dir("home", 0o755);
        symlink(&target, home.join("leaf")).unwrap();
        symlink(&s.0, s.0.join("up")).unwrap();
        assert_eq!(
            refusal(&home.join("leaf")),
            (home.join("leaf"), CacheRefusal::Symlink)
        );
        let through = s.0.join("up/home/cache");
        assert_eq!(refusal(&through), (s.0.join("up"), CacheRefusal::Symlink));
        assert!(!home.join("cache").exists());
        // A dangling symlink is not created through either.
        symlink(s.0.join("nowhere"), home.join("dangling")).unwrap();
        assert_eq!(refusal(&home.join("dangling")).1, CacheRefusal::Symlink);
        assert!(!s.0.join("nowhere").exists());
        std::fs::write(home.join("file"), "").unwrap();
        assert_eq!(
            refusal(&home.join("file/x")),
            (home.join("file"), CacheRefusal::NotDirectory)
        );
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    }

    #[test]
    fn malformed_paths_are_refused() {
        let s = Scratch::new("malformed");
        for bad in ["relative/rstack-tui", "./rstack-tui", ""] {
            assert_eq!(refusal(Path::new(bad)).1, CacheRefusal::Relative, "{bad:?}");
        }
        for bad in ["/./x", "/x/../y", "/x/."] {
            let bad = format!("{}{bad}", s.0.display());
            assert_eq!(
                refusal(Path::new(&bad)).1,
                CacheRefusal::DotComponent,
                "{bad}"
            );
        }
    }

    #[test]
    fn owners_and_modes_are_checked_on_the_way_down() {
        let s = Scratch::new("owners");
        // Another user's cache home, or their cache directory in ours: not ours.
        let theirs = s.dir("theirs/.cache", 0o755);
        chown(&theirs, Some(65534), Some(65534)).unwrap();
        assert_eq!(
            refusal(&theirs.join("rstack-tui")),
            (theirs.clone(), CacheRefusal::NotOurs { owner: 65534 })
        );
        assert!(!theirs.join("rstack-tui").exists());
        let leaf = s.dir("ours/rstack-tui", 0o700);
        chown(&leaf, Some(65534), None).unwrap();
        assert_eq!(refusal(&leaf).1, CacheRefusal::NotOurs { owner: 65534 });
        // Above the home: another user's directory is refused too.
        chown(s.0.join("theirs"), Some(65534), Some(65534)).unwrap();
        assert_eq!(
            refusal(&theirs.join("rstack-tui")),
            (
                s.0.join("theirs"),
                CacheRefusal::NotRootOrUs { owner: 65534 }
            )
        );
        // Writable by others: refused, sticky or not, unless root-owned, sticky and above the
        // cache directory (a shared /tmp as the home).
        let open = s.dir("open", 0o777);
        assert_eq!(
            refusal(&open.join("rstack-tui")),
            (open.clone(), CacheRefusal::OthersCanWrite { mode: 0o40777 })
        );
        let group = s.dir("group", 0o770);
        assert_eq!(
            refusal(&group).1,
            CacheRefusal::OthersCanWrite { mode: 0o40770 }
        );
        let sticky = s.dir("sticky", 0o1777);
        assert_eq!(
            refusal(&sticky).1,
            CacheRefusal::OthersCanWrite { mode: 0o41777 }
        );
        let dir = CacheDir::open(&sticky.join("rstack-tui")).unwrap();
        assert!(dir.replace("x", b""));
    }

    #[test]
    fn only_regular_files_are_read_or_listed() {
        let s = Scratch::new("files");
        let path = s.dir("cache", 0o700);
        let dir = CacheDir::open(&path).unwrap();
        std::fs::write(s.0.join("outside"), "secret").unwrap();
        symlink(s.0.join("outside"), path.join("link")).unwrap();
        nix::unistd::mkfifo(&path.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        std::fs::create_dir(path.join("sub")).unwrap();
        std::fs::write(path.join("plain"), "x").unwrap();
        assert_eq!(dir.read("link", 100), None);
        assert_eq!(dir.read("fifo", 100), None);
        assert_eq!(dir.read("sub", 100), None);
        let names: Vec<String> = dir.files().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["plain"]);
        dir.remove("sub");
        assert!(path.join("sub").is_dir());
    }

    #[test]
    fn temporary_names() {
        assert!(CacheDir::is_temp(".tmp-123-abc0"));
        for not in [
            ".tmp-",
            ".tmp-12",
            ".tmp-12-",
            ".tmp-x-1",
            ".tmp-1-xyz",
            "tmp-1-a",
            ".tmp-1-a/b",
        ] {
            assert!(!CacheDir::is_temp(not), "{not}");
        }
    }
}
