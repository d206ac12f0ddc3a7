//! Compressed cores (systemd-coredump keeps them zstd-, xz- or lz4-compressed): told by their
//! magic, unpacked into an unnamed temporary file (its runs of zeros left as holes, as a core's
//! unused stack is), then read as any core. Bounded: the bytes written must fit the temporary
//! directory's free space, and the whole must stay under a size no real core reaches.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use super::file::CoreError;

/// Largest core unpacked (its holes included).
const MAX_UNPACKED: u64 = 1 << 40;
/// Room left free on the temporary directory's file system.
const FREE_MARGIN: u64 = 512 << 20;
/// Most memory the xz decoder may use.
const XZ_MEMLIMIT: u64 = 256 << 20;
const CHUNK: usize = 64 << 10;

/// How a core file is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Packing {
    Zstd,
    Xz,
    Lz4,
}

impl Packing {
    /// The packing a file's first bytes announce, if any.
    pub(super) fn of(head: &[u8]) -> Option<Packing> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Packing::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Packing::Xz)
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(Packing::Lz4)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Packing::Zstd => "zstd",
            Packing::Xz => "xz",
            Packing::Lz4 => "lz4",
        }
    }
}

/// Unpacks `packed` into a temporary file: the file and its size.
pub(super) fn unpack(packed: File, packing: Packing) -> Result<(File, u64), CoreError> {
    let dir = std::env::temp_dir();
    let out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(&dir)
        .map_err(|e| CoreError::Io(format!("a temporary file in {}: {e}", dir.display())))?;
    let room = free_space(&out).saturating_sub(FREE_MARGIN);
    let failed =
        |e: std::io::Error| CoreError::Malformed(format!("its {} stream: {e}", packing.name()));
    let mut source = BufReader::new(packed);
    let mut sink = Sink {
        out: &out,
        at: 0,
        written: 0,
        room,
    };
    match packing {
        Packing::Zstd => {
            // A stream may hold several frames, one after another.
            while !source.fill_buf().map_err(failed)?.is_empty() {
                let mut frame = ruzstd::decoding::StreamingDecoder::new(&mut source)
                    .map_err(|e| CoreError::Malformed(format!("its zstd stream: {e}")))?;
                sink.take(&mut frame).map_err(failed)?;
            }
        }
        Packing::Xz => {
            let stream =
                xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, xz2::stream::CONCATENATED)
                    .map_err(|e| CoreError::Malformed(format!("its xz stream: {e}")))?;
            sink.take(&mut xz2::read::XzDecoder::new_stream(source, stream))
                .map_err(failed)?;
        }
        Packing::Lz4 => {
            sink.take(&mut lz4_flex::frame::FrameDecoder::new(source))
                .map_err(failed)?;
        }
    }
    let size = sink.at;
    out.set_len(size)
        .map_err(|e| CoreError::Io(e.to_string()))?;
    Ok((out, size))
}

/// Where unpacked bytes go: written where not zero, bounded.
struct Sink<'a> {
    out: &'a File,
    at: u64,
    written: u64,
    room: u64,
}

impl Sink<'_> {
    fn take(&mut self, from: &mut dyn Read) -> std::io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.at + n as u64 > MAX_UNPACKED {
                return Err(std::io::Error::other(format!(
                    "unpacks to more than {} GiB",
                    MAX_UNPACKED >> 30
                )));
            }
            if buf[..n].iter().any(|&b| b != 0) {
                self.written += n as u64;
                if self.written > self.room {
                    return Err(std::io::Error::other(
                        "unpacked, it does not fit in the temporary directory (TMPDIR)",
                    ));
                }
                self.out.write_all_at(&buf[..n], self.at)?;
            }
            self.at += n as u64;
        }
    }
}

/// Bytes free for us on the file system of `file`.
fn free_space(file: &File) -> u64 {
    use std::os::fd::AsRawFd;
    // SAFETY: all zeroes is a valid statvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs writes `st`, which is ours, for an fd we own.
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) } != 0 {
        return 0;
    }
    (st.f_bavail as u64).saturating_mul(st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_told_apart() {
        assert_eq!(
            Packing::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Packing::Zstd)
        );
        assert_eq!(Packing::of(b"\xfd7zXZ\0\0"), Some(Packing::Xz));
        assert_eq!(Packing::of(&[0x04, 0x22, 0x4d, 0x18]), Some(Packing::Lz4));
        assert_eq!(Packing::of(b"\x7fELF"), None);
        assert_eq!(Packing::of(b""), None);
    }

    #[test]
    fn garbage_after_a_magic_is_an_error() {
        for bad in [
            &b"\x28\xb5\x2f\xfdgarbage"[..],
            b"\xfd7zXZ\0garbage",
            b"\x04\x22\x4d\x18garbage",
        ] {
            let path = std::env::temp_dir().join(format!("rstack-packed-{}", std::process::id()));
            std::fs::write(&path, bad).unwrap();
            let file = File::open(&path).unwrap();
            let packing = Packing::of(bad).unwrap();
            assert!(
                matches!(unpack(file, packing), Err(CoreError::Malformed(_))),
                "{bad:?}"
            );
            let _ = std::fs::remove_file(&path);
        }
    }
}
