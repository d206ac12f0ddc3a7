//! One file descriptor of another process as a wait chain sees it: what it points at (a pipe,
//! a socket, a path) from its `/proc/PID/fd` link, and how it was opened from its
//! `/proc/PID/fdinfo` (which end of a pipe, which set of an epoll). Reads are bounded.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;

use crate::tracer::text;

/// Longest fd link target kept (paths longer than this are cut).
pub(super) const MAX_TARGET: usize = 4096;
/// Most bytes of one fdinfo file read (an epoll set lists one line per fd in it).
const MAX_FDINFO: u64 = 64 * 1024;

/// What a file descriptor points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// `pipe:[N]`: an anonymous pipe, by inode.
    Pipe(u64),
    /// `socket:[N]`: a socket, by inode.
    Socket(u64),
    /// An absolute path (a FIFO among them), raw bytes.
    Path(Vec<u8>),
    /// Anything else (`anon_inode:[eventpoll]`, ...).
    Other,
}

impl Target {
    /// Parses a `/proc/PID/fd/N` link's text.
    pub(super) fn parse(link: &[u8]) -> Target {
        if let Some(n) = bracketed(link, b"socket:[") {
            return Target::Socket(n);
        }
        if let Some(n) = bracketed(link, b"pipe:[") {
            return Target::Pipe(n);
        }
        if link.first() == Some(&b'/') {
            return Target::Path(link.to_vec());
        }
        Target::Other
    }

    /// The object in words, inert: "pipe:[81234]", "socket:[5]", "/run/app.fifo".
    pub(super) fn describe(&self) -> String {
        match self {
            Target::Pipe(n) => format!("pipe:[{n}]"),
            Target::Socket(n) => format!("socket:[{n}]"),
            Target::Path(p) => text::inert_bounded(&text::from_bytes(p), 256),
            Target::Other => "?".into(),
        }
    }
}

/// The number in `PREFIX<digits>]`.
fn bracketed(link: &[u8], prefix: &[u8]) -> Option<u64> {
    let rest = link.strip_prefix(prefix)?.strip_suffix(b"]")?;
    if rest.is_empty() || rest.len() > 20 || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// What fd `fd` of `pid` points at; None when it is closed or unreadable.
pub(super) fn target(pid: u32, fd: i32) -> Option<Target> {
    if fd < 0 {
        return None;
    }
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let bytes = link.as_os_str().as_bytes();
    Some(Target::parse(&bytes[..bytes.len().min(MAX_TARGET)]))
}

/// Whether fd `fd` of `pid` is a FIFO (a named pipe): `stat` through the `/proc` link reaches
/// the open file itself, whatever its path now is.
pub(super) fn is_fifo(pid: u32, fd: i32) -> bool {
    nix::sys::stat::stat(format!("/proc/{pid}/fd/{fd}").as_str()).is_ok_and(|st| {
        nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
            == nix::sys::stat::SFlag::S_IFIFO
    })
}

/// How a file was opened (its `O_ACCMODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub(super) fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    pub(super) fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// `/proc/PID/fdinfo/FD`, bounded; None when unreadable.
pub(super) fn fdinfo(pid: u32, fd: i32) -> Option<Vec<u8>> {
    read_bounded(&format!("/proc/{pid}/fdinfo/{fd}"), MAX_FDINFO)
}

/// Reads at most `max` bytes of a file.
pub(super) fn read_bounded(path: &str, max: u64) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(max)
        .read_to_end(&mut buf)
        .ok()?;
    Some(buf)
}

/// The access mode of fd `fd` of `pid`.
pub(super) fn access(pid: u32, fd: i32) -> Option<Access> {
    parse_access(&fdinfo(pid, fd)?)
}

/// The access mode in an fdinfo's `flags:` line (octal open flags).
pub(super) fn parse_access(info: &[u8]) -> Option<Access> {
    let flags = info.split(|&b| b == b'\n').find_map(|line| {
        let v = line.strip_prefix(b"flags:")?;
        let v = std::str::from_utf8(v).ok()?.trim();
        u32::from_str_radix(v, 8).ok()
    })?;
    match flags & libc::O_ACCMODE as u32 {
        0 => Some(Access::Read),
        1 => Some(Access::Write),
        2 => Some(Access::ReadWrite),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(Target::parse(b"pipe:[81234]"), Target::Pipe(81234));
        assert_eq!(Target::parse(b"socket:[5]"), Target::Socket(5));
        assert_eq!(
            Target::parse(b"/run/app.fifo"),
            Target::Path(b"/run/app.fifo".to_vec())
        );
        assert_eq!(Target::parse(b"anon_inode:[eventpoll]"), Target::Other);
        for bad in [
            &b"pipe:[]"[..],
            b"pipe:[12",
            b"pipe:[1x]",
            b"socket:[99999999999999999999999]",
            b"",
            b"\xff\x00",
        ] {
            assert_eq!(Target::parse(bad), Target::Other, "{bad:?}");
        }
        assert_eq!(
            Target::Path(b"/tmp/a\x1b[2Jb".to_vec()).describe(),
            "/tmp/a\\x1b[2Jb"
        );
    }

    #[test]
    fn parses_access_modes() {
        let info = |flags: &str| format!("pos:\t0\nflags:\t{flags}\nmnt_id:\t15\nino:\t1\n");
        assert_eq!(parse_access(info("0100000").as_bytes()), Some(Access::Read));
        assert_eq!(
            parse_access(info("02000001").as_bytes()),
            Some(Access::Write)
        );
        assert_eq!(parse_access(info("02").as_bytes()), Some(Access::ReadWrite));
        assert_eq!(parse_access(info("03").as_bytes()), None);
        assert_eq!(parse_access(info("zz").as_bytes()), None);
        assert_eq!(parse_access(b"garbage\n\xff\xfe"), None);
        assert_eq!(parse_access(b""), None);
    }
}
