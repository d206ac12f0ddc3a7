//! Walking a stopped thread's stack with libunwind's ptrace accessors, bounded: a frame limit
//! and a stop when a frame repeats, so a corrupt or looping stack cannot hang or flood us.
//!
//! libunwind 1.6's own `find_proc_info` looks for `.eh_frame_hdr` only inside the executable
//! mapping, so it finds no unwind info in binaries linked by lld (every recent Rust binary),
//! where that header sits in the read-only segment before the code, and it re-reads
//! `/proc/PID/maps` and the ELF file on every miss. We hand it the tables ourselves (found by
//! our symbol loader) and fall back to its own lookup for code we do not know.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;
use unwind::{Accessors, AddressSpace, Byteorder, Cursor, PTraceState, PTraceStateRef, RegNum};
use unwind_sys::{unw_accessors_t, unw_addr_space_t, unw_proc_info_t, unw_word_t};

use super::symbols::UnwindTable;

/// `unw_dyn_info_t` of libunwind 1.6+ (libunwind-dynamic.h), REMOTE_TABLE variant of the union.
#[repr(C)]
struct DynInfo {
    next: *mut DynInfo,
    prev: *mut DynInfo,
    start_ip: unw_word_t,
    end_ip: unw_word_t,
    gp: unw_word_t,
    format: i32,
    pad: i32,
    load_offset: unw_word_t,
    name_ptr: unw_word_t,
    segbase: unw_word_t,
    table_len: unw_word_t,
    table_data: unw_word_t,
}

const UNW_INFO_FORMAT_REMOTE_TABLE: i32 = 2;
const UNW_ENOINFO: c_int = 10;

unsafe extern "C" {
    static _UPT_accessors: unw_accessors_t;
    fn _UPT_access_mem(
        asp: unw_addr_space_t,
        addr: unw_word_t,
        valp: *mut unw_word_t,
        write: c_int,
        arg: *mut c_void,
    ) -> c_int;
    fn _UPT_find_proc_info(
        asp: unw_addr_space_t,
        ip: unw_word_t,
        pip: *mut unw_proc_info_t,
        need_unwind_info: c_int,
        arg: *mut c_void,
    ) -> c_int;
    fn _Ux86_64_dwarf_search_unwind_table(
        asp: unw_addr_space_t,
        ip: unw_word_t,
        di: *mut DynInfo,
        pip: *mut unw_proc_info_t,
        need_unwind_info: c_int,
        arg: *mut c_void,
    ) -> c_int;
}

const PAGE: u64 = 4096;

/// Copies of the target's memory, a page at a time: one `process_vm_readv` replaces the
/// hundreds of one-word PTRACE_PEEKDATA calls libunwind makes per thread. Pages of read-only
/// files (code, unwind tables) are kept for the whole trace; other pages (the stack) only while
/// one thread is stopped.
#[derive(Default)]
struct MemoryCache {
    tid: i32,
    read_only: Vec<(u64, u64)>,
    stable: HashMap<u64, Option<Box<[u8]>>>,
    volatile: HashMap<u64, Option<Box<[u8]>>>,
}

impl MemoryCache {
    fn page(&mut self, page: u64) -> Option<&[u8]> {
        let i = self.read_only.partition_point(|r| r.0 <= page);
        let stable = i > 0 && page < self.read_only[i - 1].1;
        let tid = self.tid;
        let map = if stable {
            &mut self.stable
        } else {
            &mut self.volatile
        };
        map.entry(page)
            .or_insert_with(|| {
                let mut buf = vec![0u8; PAGE as usize].into_boxed_slice();
                let remote = [RemoteIoVec {
                    base: page as usize,
                    len: PAGE as usize,
                }];
                let local = &mut [std::io::IoSliceMut::new(&mut buf)];
                match process_vm_readv(Pid::from_raw(tid), local, &remote) {
                    Ok(n) if n == PAGE as usize => Some(buf),
                    _ => None,
                }
            })
            .as_deref()
    }

    fn read_word(&mut self, addr: u64) -> Option<u64> {
        let mut bytes = [0u8; 8];
        let first = addr & !(PAGE - 1);
        let split = ((first + PAGE - addr) as usize).min(8);
        let off = (addr - first) as usize;
        bytes[..split].copy_from_slice(&self.page(first)?[off..off + split]);
        if split < 8 {
            bytes[split..].copy_from_slice(&self.page(first + PAGE)?[..8 - split]);
        }
        Some(u64::from_le_bytes(bytes))
    }
}

/// What the accessors need while unwinding on this thread.
#[derive(Default)]
struct UnwindState {
    /// Unwind tables of the process's modules, sorted by start.
    tables: Vec<UnwindTable>,
    memory: MemoryCache,
}

thread_local! {
    static STATE: RefCell<UnwindState> = RefCell::new(UnwindState::default());
}

unsafe extern "C" fn access_mem(
    asp: unw_addr_space_t,
    addr: unw_word_t,
    valp: *mut unw_word_t,
    write: c_int,
    arg: *mut c_void,
) -> c_int {
    if write == 0
        && let Some(v) = STATE.with(|s| s.borrow_mut().memory.read_word(addr))
    {
        // SAFETY: libunwind passes a valid pointer for the value.
        unsafe { *valp = v };
        return 0;
    }
    // SAFETY: the accessor we wrap, with the arguments libunwind gave us.
    unsafe { _UPT_access_mem(asp, addr, valp, write, arg) }
}

unsafe extern "C" fn find_proc_info(
    asp: unw_addr_space_t,
    ip: unw_word_t,
    pip: *mut unw_proc_info_t,
    need_unwind_info: c_int,
    arg: *mut c_void,
) -> c_int {
    let table = STATE.with(|s| {
        let t = &s.borrow().tables;
        let i = t.partition_point(|e| e.start <= ip).checked_sub(1)?;
        t.get(i).filter(|e| ip < e.end).copied()
    });
    if let Some(t) = table {
        let mut di = DynInfo {
            next: std::ptr::null_mut(),
            prev: std::ptr::null_mut(),
            start_ip: t.start,
            end_ip: t.end,
            gp: 0,
            format: UNW_INFO_FORMAT_REMOTE_TABLE,
            pad: 0,
            load_offset: 0,
            name_ptr: 0,
            segbase: t.segbase,
            table_len: t.fde_count * 8 / std::mem::size_of::<unw_word_t>() as u64,
            table_data: t.table_data,
        };
        // SAFETY: libunwind calls us with valid pointers, which we pass on unchanged; `di`
        // lives across the call.
        let ret = unsafe {
            _Ux86_64_dwarf_search_unwind_table(asp, ip, &mut di, pip, need_unwind_info, arg)
        };
        if ret != -UNW_ENOINFO {
            return ret;
        }
    }
    // SAFETY: as above; this is the accessor we replace.
    unsafe { _UPT_find_proc_info(asp, ip, pip, need_unwind_info, arg) }
}

/// libunwind's ptrace accessors with our `find_proc_info`.
fn accessors() -> &'static Accessors<PTraceStateRef> {
    static ACCESSORS: OnceLock<unw_accessors_t> = OnceLock::new();
    let acc = ACCESSORS.get_or_init(|| {
        // SAFETY: _UPT_accessors is an initialized static of libunwind-ptrace.
        let mut acc = unsafe { std::ptr::read(&raw const _UPT_accessors) };
        acc.find_proc_info = Some(find_proc_info);
        acc.access_mem = Some(access_mem);
        acc
    });
    // SAFETY: `Accessors` wraps exactly an `unw_accessors_t` (the unwind crate's own
    // `Accessors::ptrace()` makes the same cast).
    unsafe { &*(acc as *const unw_accessors_t as *const Accessors<PTraceStateRef>) }
}

/// A frame before symbolization: what must be read while the thread is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    pub ip: u64,
    pub sp: u64,
    pub is_signal: bool,
}

/// The outcome of one unwind: the frames found, whether the walk was cut short on purpose
/// (limit or loop), and the error that ended it early, if any.
#[derive(Debug, Default)]
pub struct Walk {
    pub frames: Vec<RawFrame>,
    pub truncated: bool,
    pub error: Option<String>,
}

/// What to do with the next frame of a walk.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    Take,
    /// Take it, and stop: the frame limit is reached.
    TakeLast,
    /// The walk ran off the end (IP 0 after the first frame).
    End,
    /// This (IP, SP) pair was seen before: the stack loops.
    Loop,
}

/// The limits of one walk, so a corrupt or looping stack cannot hang or flood us.
struct Bounds {
    max_frames: usize,
    seen: HashSet<(u64, u64)>,
}

impl Bounds {
    fn new(max_frames: usize) -> Bounds {
        Bounds {
            max_frames: max_frames.max(1),
            seen: HashSet::new(),
        }
    }

    fn admit(&mut self, ip: u64, sp: u64) -> Admit {
        if ip == 0 && !self.seen.is_empty() {
            return Admit::End;
        }
        if !self.seen.insert((ip, sp)) {
            return Admit::Loop;
        }
        if self.seen.len() >= self.max_frames {
            Admit::TakeLast
        } else {
            Admit::Take
        }
    }
}

/// A libunwind address space for one traced process.
pub struct Unwinder {
    space: AddressSpace<PTraceStateRef>,
}

impl Drop for Unwinder {
    fn drop(&mut self) {
        STATE.with(|s| *s.borrow_mut() = UnwindState::default());
    }
}

impl Unwinder {
    /// An address space for one process, whose modules' unwind tables are `tables`.
    /// `read_only` lists the file-backed ranges whose bytes cannot change (sorted).
    pub fn new(mut tables: Vec<UnwindTable>, read_only: &[(u64, u64)]) -> Result<Unwinder, String> {
        let space = AddressSpace::new(accessors(), Byteorder::DEFAULT)
            .map_err(|e| format!("creating the libunwind address space: {e}"))?;
        // The address space is only used from this thread; a per-thread cache needs no lock
        // (the global one blocks and unblocks all signals around every access).
        // SAFETY: the address space pointer is valid for the lifetime of `space`.
        unsafe {
            let raw = &*space as *const _ as unw_addr_space_t;
            unwind_sys::unw_set_caching_policy(
                raw,
                unwind_sys::unw_caching_policy_t::UNW_CACHE_PER_THREAD,
            );
        }
        tables.sort_by_key(|t| t.start);
        let memory = MemoryCache {
            read_only: read_only.to_vec(),
            ..MemoryCache::default()
        };
        STATE.with(|s| *s.borrow_mut() = UnwindState { tables, memory });
        Ok(Unwinder { space })
    }

    /// Unwinds stopped thread `tid`, at most `max_frames` deep.
    pub fn unwind(&self, tid: i32, max_frames: usize) -> Walk {
        STATE.with(|s| {
            let memory = &mut s.borrow_mut().memory;
            memory.tid = tid;
            memory.volatile.clear();
        });
        let walk = self.walk(tid, max_frames);
        STATE.with(|s| s.borrow_mut().memory.volatile.clear());
        walk
    }

    fn walk(&self, tid: i32, max_frames: usize) -> Walk {
        let mut walk = Walk::default();
        let state = match PTraceState::new(tid as u32) {
            Ok(s) => s,
            Err(e) => {
                walk.error = Some(format!("libunwind ptrace state: {e}"));
                return walk;
            }
        };
        let mut cursor = match Cursor::remote(&self.space, &state) {
            Ok(c) => c,
            Err(e) => {
                walk.error = Some(format!("reading registers: {e}"));
                return walk;
            }
        };
        let mut bounds = Bounds::new(max_frames);
        loop {
            let ip = match cursor.register(RegNum::IP) {
                Ok(ip) => ip,
                Err(e) => {
                    walk.error = Some(format!("reading IP: {e}"));
                    break;
                }
            };
            let sp = cursor.register(RegNum::SP).unwrap_or(0);
            match bounds.admit(ip, sp) {
                Admit::Take => {}
                Admit::TakeLast => {
                    walk.frames.push(RawFrame {
                        ip,
                        sp,
                        is_signal: cursor.is_signal_frame().unwrap_or(false),
                    });
                    walk.truncated = true;
                    break;
                }
                Admit::End => break,
                Admit::Loop => {
                    walk.truncated = true;
                    break;
                }
            }
            let is_signal = cursor.is_signal_frame().unwrap_or(false);
            walk.frames.push(RawFrame { ip, sp, is_signal });
            match cursor.step() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // Outermost frames without unwind info end most walks of foreign code;
                    // keep what we have and say why it ended.
                    walk.error = Some(format!("unwinding stopped: {e}"));
                    break;
                }
            }
        }
        walk
    }
}

#[cfg(test)]
mod tests {
    use super::{Admit, Bounds};

    #[test]
    fn a_repeated_frame_ends_the_walk() {
        let mut b = Bounds::new(100);
        assert_eq!(b.admit(0x1000, 0x7000), Admit::Take);
        assert_eq!(b.admit(0x2000, 0x7010), Admit::Take);
        // Same IP at another SP is recursion, not a loop.
        assert_eq!(b.admit(0x2000, 0x7020), Admit::Take);
        assert_eq!(b.admit(0x2000, 0x7010), Admit::Loop);
    }

    #[test]
    fn the_frame_limit_ends_the_walk() {
        let mut b = Bounds::new(3);
        assert_eq!(b.admit(1, 10), Admit::Take);
        assert_eq!(b.admit(2, 20), Admit::Take);
        assert_eq!(b.admit(3, 30), Admit::TakeLast);
    }

    #[test]
    fn ip_zero_after_the_first_frame_is_the_end() {
        let mut b = Bounds::new(10);
        assert_eq!(b.admit(0, 10), Admit::Take);
        assert_eq!(b.admit(5, 20), Admit::Take);
        assert_eq!(b.admit(0, 30), Admit::End);
    }
}
