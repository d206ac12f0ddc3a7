//! Walking a thread's stack with libunwind, bounded (a frame limit, and a stop when a frame
//! repeats) so a corrupt or looping stack cannot hang or flood us. Two ways: from a
//! [`Capture`] (registers and a stack copy, after the thread resumed; the default), or through
//! libunwind's ptrace accessors while the thread is stopped (the reference).
//!
//! libunwind 1.6's own `find_proc_info` looks for `.eh_frame_hdr` only inside the executable
//! mapping, so it finds no unwind info in binaries linked by lld (every recent Rust binary),
//! where that header sits in the read-only segment before the code, and it re-reads
//! `/proc/PID/maps` and the ELF file on every miss. We hand it the tables ourselves (found by
//! our symbol loader). For code we have no table of, libunwind falls back to frame pointers:
//! its own ELF reader trusts the file's headers, and a target can map a file that crashes it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;
use unwind::{Accessors, AddressSpace, Byteorder, Cursor, PTraceState, PTraceStateRef, RegNum};
use unwind_sys::{
    UNW_EBADREG, UNW_EINVAL, UNW_ENOINFO, unw_accessors_t, unw_addr_space_t, unw_cursor_t,
    unw_proc_info_t, unw_word_t,
};

use super::capture::{Capture, REG_COUNT, StackCopy};
use super::sigmask;

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

unsafe extern "C" {
    static _UPT_accessors: unw_accessors_t;
    fn _UPT_access_mem(
        asp: unw_addr_space_t,
        addr: unw_word_t,
        valp: *mut unw_word_t,
        write: c_int,
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
    /// The process: its memory is every thread's, still there when a captured thread has
    /// exited before its copy is unwound (reads through its tid then fail).
    pid: i32,
    read_only: Vec<(u64, u64)>,
    stable: HashMap<u64, Option<Box<[u8]>>>,
    volatile: HashMap<u64, Option<Box<[u8]>>>,
}

impl MemoryCache {
    fn page(&mut self, page: u64) -> Option<&[u8]> {
        let i = self.read_only.partition_point(|r| r.0 <= page);
        let stable = i > 0 && page < self.read_only[i - 1].1;
        let (tid, pid) = (self.tid, self.pid);
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
                let mut read = |who: i32| {
                    let local = &mut [std::io::IoSliceMut::new(&mut buf)];
                    process_vm_readv(Pid::from_raw(who), local, &remote)
                };
                match read(tid).or_else(|e| if pid != tid { read(pid) } else { Err(e) }) {
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

/// The captured thread being unwound from its copy, and what the walk ran into.
struct CopyView {
    regs: [Option<u64>; REG_COUNT],
    stack: StackCopy,
    /// The walk needed a register the capture does not know.
    missing_register: bool,
    /// The walk read the stack past the end of the copy.
    past_copy: bool,
}

/// What the accessors need while unwinding on this thread.
#[derive(Default)]
struct UnwindState {
    /// Unwind tables of the process's modules, sorted by start.
    tables: Vec<UnwindTable>,
    memory: MemoryCache,
    copy: Option<CopyView>,
}

/// How a read of the target's memory went, from a copy or not.
enum Read {
    Value(u64),
    /// Not readable from the copy, and we must not read it live.
    Refused,
    /// Not in the copy: ask libunwind's ptrace accessor.
    Live,
}

impl UnwindState {
    fn read(&mut self, addr: u64) -> Read {
        if let Some(copy) = &mut self.copy {
            let stack = &copy.stack;
            if addr >= stack.start && addr.saturating_add(8) <= stack.end() {
                let off = (addr - stack.start) as usize;
                let word = stack.bytes[off..off + 8].try_into().expect("8 bytes");
                return Read::Value(u64::from_le_bytes(word));
            }
            if stack.region.is_some_and(|(lo, hi)| addr >= lo && addr < hi) {
                copy.past_copy = true;
                return Read::Refused;
            }
            // Code and unwind tables, or memory off the stack (a signal frame on an alternate
            // stack): read from the process as it is now.
            return match self.memory.read_word(addr) {
                Some(v) => Read::Value(v),
                None => Read::Refused,
            };
        }
        match self.memory.read_word(addr) {
            Some(v) => Read::Value(v),
            None => Read::Live,
        }
    }
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
    if write != 0 {
        return -UNW_EINVAL;
    }
    match STATE.with(|s| s.borrow_mut().read(addr)) {
        Read::Value(v) => {
            // SAFETY: libunwind passes a valid pointer for the value.
            unsafe { *valp = v };
            0
        }
        Read::Refused => -UNW_EINVAL,
        // SAFETY: the accessor we wrap, with the arguments libunwind gave us.
        Read::Live => unsafe { _UPT_access_mem(asp, addr, valp, write, arg) },
    }
}

/// Registers of a captured thread; a register the capture lacks ends the walk and is noted.
unsafe extern "C" fn access_reg_copy(
    _asp: unw_addr_space_t,
    regnum: c_int,
    valp: *mut unw_word_t,
    write: c_int,
    _arg: *mut c_void,
) -> c_int {
    if write != 0 {
        return -UNW_EBADREG;
    }
    let value = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let copy = s.copy.as_mut()?;
        let value = usize::try_from(regnum)
            .ok()
            .and_then(|i| copy.regs.get(i).copied().flatten());
        if value.is_none() {
            copy.missing_register = true;
        }
        value
    });
    match value {
        Some(v) => {
            // SAFETY: libunwind passes a valid pointer for the value.
            unsafe { *valp = v };
            0
        }
        None => -UNW_EBADREG,
    }
}

unsafe extern "C" fn no_dyn_info(
    _asp: unw_addr_space_t,
    _dilap: *mut unw_word_t,
    _arg: *mut c_void,
) -> c_int {
    -UNW_ENOINFO
}

unsafe extern "C" fn no_resume(
    _asp: unw_addr_space_t,
    _cp: *mut unw_cursor_t,
    _arg: *mut c_void,
) -> c_int {
    -UNW_EINVAL
}

unsafe extern "C" fn no_proc_name(
    _asp: unw_addr_space_t,
    _addr: unw_word_t,
    _bufp: *mut std::ffi::c_char,
    _buf_len: usize,
    _offp: *mut unw_word_t,
    _arg: *mut c_void,
) -> c_int {
    -UNW_ENOINFO
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
    // Not libunwind's own lookup: it parses the mapped file with no bounds checks (a program
    // header table past the end of the file crashes it).
    -UNW_ENOINFO
}

/// An accessor table with room to spare: libunwind 1.7 and 1.8 append members to
/// `unw_accessors_t` and copy their own (larger) size from the pointer we give; the spare
/// words are zero, which they read as "no such accessor".
#[repr(C)]
struct PaddedAccessors {
    acc: unw_accessors_t,
    spare: [usize; 8],
}

// SAFETY: the table holds only function pointers, written once before any use.
unsafe impl Send for PaddedAccessors {}
// SAFETY: as above; it is never written after initialization.
unsafe impl Sync for PaddedAccessors {}

fn padded(acc: unw_accessors_t) -> PaddedAccessors {
    PaddedAccessors { acc, spare: [0; 8] }
}

/// libunwind's ptrace accessors with our `find_proc_info` and page-cached `access_mem`: what
/// both address spaces share.
fn ptrace_accessors() -> unw_accessors_t {
    // SAFETY: _UPT_accessors is an initialized static of libunwind-ptrace.
    let mut acc = unsafe { std::ptr::read(&raw const _UPT_accessors) };
    acc.find_proc_info = Some(find_proc_info);
    acc.access_mem = Some(access_mem);
    // libunwind's looks for JIT registrations by parsing every mapped ELF file, unchecked.
    acc.get_dyn_info_list_addr = Some(no_dyn_info);
    acc
}

/// The accessors of the address space over ptrace (see [`ptrace_accessors`]).
fn accessors() -> &'static Accessors<PTraceStateRef> {
    static ACCESSORS: OnceLock<PaddedAccessors> = OnceLock::new();
    let acc = ACCESSORS.get_or_init(|| padded(ptrace_accessors()));
    // SAFETY: `Accessors` wraps exactly an `unw_accessors_t` (the unwind crate's own
    // `Accessors::ptrace()` makes the same cast); the table is followed by its spare words.
    unsafe { &*(&acc.acc as *const unw_accessors_t as *const Accessors<PTraceStateRef>) }
}

/// Accessors over a captured thread: registers from the capture, the stack from its copy.
/// `put_unwind_info` and `access_fpreg` stay libunwind's; the first frees, the second is never
/// needed to walk.
fn copy_accessors() -> *mut unw_accessors_t {
    static ACCESSORS: OnceLock<PaddedAccessors> = OnceLock::new();
    let acc = ACCESSORS.get_or_init(|| {
        let mut acc = ptrace_accessors();
        acc.access_reg = Some(access_reg_copy);
        acc.resume = Some(no_resume);
        acc.get_proc_name = Some(no_proc_name);
        padded(acc)
    });
    &acc.acc as *const unw_accessors_t as *mut unw_accessors_t
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
    /// Unwinding a capture needed a register it lacks (a blocked thread's callee-saved
    /// registers are unknown): the walk is incomplete, and the thread should be stopped.
    pub missing_register: bool,
}

impl Walk {
    fn failed(error: String) -> Walk {
        Walk {
            error: Some(error),
            ..Walk::default()
        }
    }
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

/// One step of a walk, whichever cursor does it.
trait Steps {
    fn ip(&mut self) -> Result<u64, String>;
    fn sp(&mut self) -> u64;
    fn is_signal(&mut self) -> bool;
    fn step(&mut self) -> Result<bool, String>;
}

impl Steps for Cursor<'_> {
    fn ip(&mut self) -> Result<u64, String> {
        self.register(RegNum::IP).map_err(|e| e.to_string())
    }
    fn sp(&mut self) -> u64 {
        self.register(RegNum::SP).unwrap_or(0)
    }
    fn is_signal(&mut self) -> bool {
        self.is_signal_frame().unwrap_or(false)
    }
    fn step(&mut self) -> Result<bool, String> {
        Cursor::step(self).map_err(|e| e.to_string())
    }
}

/// A cursor over a captured thread (the `unwind` crate's `Cursor` is tied to its own
/// address-space types).
struct RawCursor(unw_cursor_t);

fn unw_error(code: c_int) -> String {
    // SAFETY: unw_strerror returns a static C string for any code.
    let text = unsafe { std::ffi::CStr::from_ptr(unwind_sys::unw_strerror(code)) };
    text.to_string_lossy().into_owned()
}

impl RawCursor {
    fn reg(&mut self, reg: c_int) -> Result<u64, c_int> {
        let mut v: unw_word_t = 0;
        // SAFETY: the cursor was initialized by unw_init_remote.
        match unsafe { unwind_sys::unw_get_reg(&mut self.0, reg, &mut v) } {
            0 => Ok(v),
            e => Err(e),
        }
    }
}

impl Steps for RawCursor {
    fn ip(&mut self) -> Result<u64, String> {
        self.reg(unwind_sys::UNW_TDEP_IP).map_err(unw_error)
    }
    fn sp(&mut self) -> u64 {
        self.reg(unwind_sys::UNW_TDEP_SP).unwrap_or(0)
    }
    fn is_signal(&mut self) -> bool {
        // SAFETY: as above.
        unsafe { unwind_sys::unw_is_signal_frame(&mut self.0) > 0 }
    }
    fn step(&mut self) -> Result<bool, String> {
        // SAFETY: as above.
        match unsafe { unwind_sys::unw_step(&mut self.0) } {
            n if n > 0 => Ok(true),
            0 => Ok(false),
            e => Err(unw_error(e)),
        }
    }
}

/// libunwind address spaces for one traced process: one over ptrace, one over captures.
pub struct Unwinder {
    space: AddressSpace<PTraceStateRef>,
    copy_space: unw_addr_space_t,
    /// libunwind's ptrace state for the process, which its fallback `find_proc_info` uses to
    /// read `/proc/PID/maps` and ELF files (never to touch the threads).
    upt: *mut c_void,
}

impl Drop for Unwinder {
    fn drop(&mut self) {
        STATE.with(|s| *s.borrow_mut() = UnwindState::default());
        // SAFETY: both were created in `new` and are used by nothing else.
        unsafe {
            unwind_sys::unw_destroy_addr_space(self.copy_space);
            unwind_sys::_UPT_destroy(self.upt);
        }
    }
}

/// The per-thread caching policy for an address space: it is only used from this thread, and
/// the global one blocks and unblocks all signals around every access.
fn cache_per_thread(space: unw_addr_space_t) {
    // SAFETY: `space` is a live address space.
    unsafe {
        unwind_sys::unw_set_caching_policy(
            space,
            unwind_sys::unw_caching_policy_t::UNW_CACHE_PER_THREAD,
        );
    }
}

impl Unwinder {
    /// Address spaces for process `pid`, whose modules' unwind tables are `tables`.
    /// `read_only` lists the file-backed ranges whose bytes cannot change (sorted).
    pub fn new(
        pid: i32,
        mut tables: Vec<UnwindTable>,
        read_only: &[(u64, u64)],
    ) -> Result<Unwinder, String> {
        let space = AddressSpace::new(accessors(), Byteorder::DEFAULT)
            .map_err(|e| format!("creating the libunwind address space: {e}"))?;
        cache_per_thread(&*space as *const _ as unw_addr_space_t);
        // SAFETY: the accessor table is static and padded for newer libunwinds.
        let copy_space = unsafe { unwind_sys::unw_create_addr_space(copy_accessors(), 0) };
        if copy_space.is_null() {
            return Err("creating the libunwind address space for captures".into());
        }
        cache_per_thread(copy_space);
        // SAFETY: allocates libunwind's state for `pid`; it attaches nothing.
        let upt = unsafe { unwind_sys::_UPT_create(pid) };
        if upt.is_null() {
            // SAFETY: created above, not used elsewhere.
            unsafe { unwind_sys::unw_destroy_addr_space(copy_space) };
            return Err("creating libunwind's ptrace state".into());
        }
        tables.sort_by_key(|t| t.start);
        let memory = MemoryCache {
            read_only: read_only.to_vec(),
            pid,
            ..MemoryCache::default()
        };
        STATE.with(|s| {
            *s.borrow_mut() = UnwindState {
                tables,
                memory,
                copy: None,
            }
        });
        Ok(Unwinder {
            space,
            copy_space,
            upt,
        })
    }

    /// Unwinds stopped thread `tid` through ptrace, at most `max_frames` deep.
    pub fn unwind(&self, tid: i32, max_frames: usize) -> Walk {
        let _quiet = sigmask::Quiet::new();
        self.begin(tid);
        let walk = match PTraceState::new(tid as u32) {
            Ok(state) => match Cursor::remote(&self.space, &state) {
                Ok(mut cursor) => walk(&mut cursor, max_frames),
                Err(e) => Walk::failed(format!("reading registers: {e}")),
            },
            Err(e) => Walk::failed(format!("libunwind ptrace state: {e}")),
        };
        self.end();
        walk
    }

    /// Unwinds a captured thread from its copy (the thread may be running again).
    pub fn unwind_capture(&self, tid: i32, capture: Capture, max_frames: usize) -> Walk {
        let _quiet = sigmask::Quiet::new();
        self.begin(tid);
        let copied = capture.stack.bytes.len();
        STATE.with(|s| {
            s.borrow_mut().copy = Some(CopyView {
                regs: capture.regs,
                stack: capture.stack,
                missing_register: false,
                past_copy: false,
            })
        });
        // SAFETY: unw_init_remote fills the cursor; zero is a valid starting bit pattern.
        let mut cursor = RawCursor(unsafe { std::mem::zeroed() });
        // SAFETY: the address space and the ptrace state live as long as `self`.
        let ret = unsafe { unwind_sys::unw_init_remote(&mut cursor.0, self.copy_space, self.upt) };
        let mut walk = if ret < 0 {
            Walk::failed(format!("starting the unwind: {}", unw_error(ret)))
        } else {
            walk(&mut cursor, max_frames)
        };
        let view = STATE.with(|s| s.borrow_mut().copy.take());
        if let Some(view) = view {
            walk.missing_register = view.missing_register;
            if view.past_copy {
                walk.truncated = true;
                walk.error = Some(format!(
                    "the stack copy ({} KiB) ends before the stack does",
                    copied / 1024
                ));
            }
        }
        self.end();
        walk
    }

    fn begin(&self, tid: i32) {
        STATE.with(|s| {
            let memory = &mut s.borrow_mut().memory;
            memory.tid = tid;
            memory.volatile.clear();
        });
    }

    fn end(&self) {
        STATE.with(|s| s.borrow_mut().memory.volatile.clear());
    }
}

fn walk(cursor: &mut impl Steps, max_frames: usize) -> Walk {
    let mut walk = Walk::default();
    let mut bounds = Bounds::new(max_frames);
    loop {
        let ip = match cursor.ip() {
            Ok(ip) => ip,
            Err(e) => {
                walk.error = Some(format!("reading IP: {e}"));
                break;
            }
        };
        let sp = cursor.sp();
        let admit = bounds.admit(ip, sp);
        match admit {
            Admit::Take | Admit::TakeLast => {}
            Admit::End => break,
            Admit::Loop => {
                walk.truncated = true;
                break;
            }
        }
        let is_signal = cursor.is_signal();
        walk.frames.push(RawFrame { ip, sp, is_signal });
        if admit == Admit::TakeLast {
            walk.truncated = true;
            break;
        }
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
