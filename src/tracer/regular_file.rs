//! Opening a file by a path we are given (a core, a snapshot file, a source file debug info
//! names) for reading, only if it is a regular file: the open never waits (a FIFO with no
//! writer) nor takes a terminal, and the check is made on the open descriptor, so a path
//! swapped after it is not.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why [`open_regular`] gave no file.
#[derive(Debug)]
pub enum OpenRegularError {
    /// The open failed.
    Open(io::Error),
    /// The open file's metadata could not be read.
    Stat(io::Error),
    /// Not a regular file (a directory, when `directory`).
    NotRegular { directory: bool },
}

/// Opens `path` for reading if it is a regular file; the file and its metadata.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), OpenRegularError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(OpenRegularError::Open)?;
    let meta = file.metadata().map_err(OpenRegularError::Stat)?;
    if !meta.is_file() {
        return Err(OpenRegularError::NotRegular {
            directory: meta.is_dir(),
        });
    }
    Ok((file, meta))
}
