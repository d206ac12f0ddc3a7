//! Where CPython 3.7-3.13 keep the runtime, interpreter, thread state, frame and code object
//! fields (x86-64, default builds): fixed tables to 3.12, `_Py_DebugOffsets` from 3.13, and a
//! refusal for any layout we do not know.

/// Which pointer leads to a thread's innermost Python frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameRoot {
    /// `tstate->frame` (3.7-3.10).
    Frame(u64),
    /// `tstate->cframe->current_frame` (3.11, 3.12).
    CFrame { cframe: u64, current: u64 },
    /// `tstate->current_frame` (3.13+).
    Current(u64),
}

/// How a frame's instruction position is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lasti {
    /// `int f_lasti` in bytes (3.7-3.9).
    Bytes,
    /// `int f_lasti` in 2-byte code units (3.10).
    Units,
    /// A pointer into the code object's inline bytecode (3.11+).
    Pointer,
}

/// Where the GIL's holder and its "locked" flag are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gil {
    /// In `_PyRuntime` (3.7-3.11, one GIL per process).
    Runtime { holder: u64, locked: u64 },
    /// Behind the interpreter's `ceval.gil` pointer (3.12+), fields at these offsets in it.
    Interpreter {
        pointer: u64,
        holder: u64,
        locked: u64,
    },
}

/// Every offset the walk uses, for one CPython minor version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    pub minor: u8,
    pub interp_head: u64,
    pub is_next: u64,
    pub is_tstate_head: u64,
    /// `sys.modules` (for `threading` names).
    pub is_modules: u64,
    pub ts_next: u64,
    pub ts_interp: u64,
    pub ts_thread_id: u64,
    pub ts_native_tid: Option<u64>,
    pub root: FrameRoot,
    pub f_back: u64,
    pub f_code: u64,
    pub f_lasti: u64,
    pub f_is_entry: Option<u64>,
    pub f_owner: Option<u64>,
    pub co_firstlineno: u64,
    pub co_filename: u64,
    pub co_name: u64,
    pub co_qualname: Option<u64>,
    pub co_linetable: u64,
    pub co_code_adaptive: u64,
    pub lasti: Lasti,
    /// Start of a compact ASCII string's characters (sizeof `PyASCIIObject`).
    pub ascii_data: u64,
    /// Start of a compact non-ASCII string's characters.
    pub compact_data: u64,
    pub gil: Gil,
}

/// Why no layout could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unsupported {
    Version(u8),
    /// 3.13+: the debug offsets table is not there, or of a version we cannot read.
    DebugOffsets(String),
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsupported::Version(m) => write!(f, "CPython 3.{m} is not supported"),
            Unsupported::DebugOffsets(why) => write!(f, "unsupported CPython layout: {why}"),
        }
    }
}

/// The fixed table of 3.7-3.12 (offsets from the DWARF of the real builds).
pub(super) fn fixed(minor: u8) -> Result<Layout, Unsupported> {
    let idx = match minor {
        7..=12 => usize::from(minor - 7),
        _ => return Err(Unsupported::Version(minor)),
    };
    let pick = |t: [u64; 6]| t[idx];
    let old = minor <= 10;
    Ok(Layout {
        minor,
        interp_head: pick([24, 32, 32, 32, 40, 40]),
        is_next: 0,
        is_tstate_head: pick([8, 8, 8, 8, 16, 72]),
        is_modules: pick([40, 56, 856, 856, 888, 944]),
        ts_next: 8,
        ts_interp: 16,
        ts_thread_id: pick([176, 176, 176, 176, 152, 136]),
        ts_native_tid: match minor {
            11 => Some(160),
            12 => Some(144),
            _ => None,
        },
        root: if old {
            FrameRoot::Frame(24)
        } else {
            FrameRoot::CFrame {
                cframe: 56,
                current: if minor == 11 { 8 } else { 0 },
            }
        },
        f_back: pick([24, 24, 24, 24, 48, 8]),
        f_code: pick([32, 32, 32, 32, 32, 0]),
        f_lasti: pick([104, 104, 104, 96, 56, 56]),
        f_is_entry: (minor == 11).then_some(68),
        f_owner: match minor {
            11 => Some(69),
            12 => Some(70),
            _ => None,
        },
        co_firstlineno: pick([36, 40, 40, 40, 72, 68]),
        co_filename: pick([96, 104, 104, 104, 112, 112]),
        co_name: pick([104, 112, 112, 112, 120, 120]),
        co_qualname: (!old).then_some(128),
        co_linetable: pick([112, 120, 120, 120, 136, 136]),
        co_code_adaptive: pick([0, 0, 0, 0, 184, 192]),
        lasti: match minor {
            7..=9 => Lasti::Bytes,
            10 => Lasti::Units,
            _ => Lasti::Pointer,
        },
        ascii_data: if minor >= 12 { 40 } else { 48 },
        compact_data: if minor >= 12 { 56 } else { 72 },
        gil: if minor == 12 {
            Gil::Interpreter {
                pointer: 384,
                holder: 8,
                locked: 16,
            }
        } else {
            Gil::Runtime {
                holder: pick([1272, 1160, 360, 360, 368, 0]),
                locked: pick([1280, 1168, 368, 368, 376, 0]),
            }
        },
    })
}

/// Bytes of `_Py_DebugOffsets` read (the 3.13 table is 584).
pub(super) const DEBUG_OFFSETS_LEN: usize = 584;

/// The layout `_Py_DebugOffsets` (at `_PyRuntime + 0`) gives: only the 3.13 table layout is
/// known; a later version's table is refused rather than misread.
pub(super) fn from_debug_offsets(table: &[u8]) -> Result<Layout, Unsupported> {
    let word = |at: usize| {
        table
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .unwrap_or(u64::MAX)
    };
    if table.get(..8) != Some(b"xdebugpy".as_slice()) {
        return Err(Unsupported::DebugOffsets("no xdebugpy cookie".into()));
    }
    let version = word(8);
    let (major, minor) = ((version >> 24) & 0xff, (version >> 16) & 0xff);
    if major != 3 || minor != 13 {
        return Err(Unsupported::DebugOffsets(format!(
            "debug offsets of version {major}.{minor}"
        )));
    }
    if word(16) != 0 {
        return Err(Unsupported::DebugOffsets("free-threaded build".into()));
    }
    // Every offset must lie inside its struct's own size, or the table is not what we think.
    let sized = |size_at: usize, offs: &[usize]| -> Result<Vec<u64>, Unsupported> {
        let size = word(size_at);
        offs.iter()
            .map(|&o| {
                let v = word(o);
                (v < size && size < (1 << 24))
                    .then_some(v)
                    .ok_or_else(|| Unsupported::DebugOffsets(format!("offset at {o} out of range")))
            })
            .collect()
    };
    let rt = sized(24, &[40])?;
    let is = sized(48, &[64, 72, 112, 120, 136, 144, 88])?;
    let ts = sized(152, &[168, 176, 184, 192, 200])?;
    let fr = sized(224, &[232, 240, 248, 264])?;
    let co = sized(272, &[280, 288, 296, 304, 312, 344])?;
    let ascii = word(560);
    if ascii > 256 {
        return Err(Unsupported::DebugOffsets("string header too large".into()));
    }
    Ok(Layout {
        minor: 13,
        interp_head: rt[0],
        is_next: is[0],
        is_tstate_head: is[1],
        is_modules: is[6],
        ts_next: ts[0],
        ts_interp: ts[1],
        ts_thread_id: ts[3],
        ts_native_tid: Some(ts[4]),
        root: FrameRoot::Current(ts[2]),
        f_back: fr[0],
        f_code: fr[1],
        f_lasti: fr[2],
        f_is_entry: None,
        f_owner: Some(fr[3]),
        co_firstlineno: co[4],
        co_filename: co[0],
        co_name: co[1],
        co_qualname: Some(co[2]),
        co_linetable: co[3],
        co_code_adaptive: co[5],
        lasti: Lasti::Pointer,
        ascii_data: ascii,
        compact_data: ascii + 16,
        // The holder and locked offsets are given inside the interpreter's own GIL struct;
        // relative to it they hold for the GIL the `ceval.gil` pointer names.
        gil: Gil::Interpreter {
            pointer: is[2],
            holder: is[5].wrapping_sub(is[3]),
            locked: is[4].wrapping_sub(is[3]),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_tables_know_3_7_to_3_12_only() {
        assert_eq!(fixed(6), Err(Unsupported::Version(6)));
        assert_eq!(fixed(13), Err(Unsupported::Version(13)));
        let l = fixed(10).unwrap();
        assert_eq!(
            (l.f_lasti, l.lasti, l.co_linetable),
            (96, Lasti::Units, 120)
        );
        let l = fixed(12).unwrap();
        assert_eq!(
            l.root,
            FrameRoot::CFrame {
                cframe: 56,
                current: 0
            }
        );
    }

    #[test]
    fn debug_offsets_are_checked() {
        assert!(from_debug_offsets(&[0; 16]).is_err());
        let mut t = vec![0u8; DEBUG_OFFSETS_LEN];
        t[..8].copy_from_slice(b"xdebugpy");
        t[8..16].copy_from_slice(&0x030e_00f0u64.to_le_bytes());
        assert!(matches!(
            from_debug_offsets(&t),
            Err(Unsupported::DebugOffsets(_))
        ));
        t[8..16].copy_from_slice(&0x030d_00f0u64.to_le_bytes());
        // Sizes of 0: every offset is out of range.
        assert!(from_debug_offsets(&t).is_err());
    }
}
