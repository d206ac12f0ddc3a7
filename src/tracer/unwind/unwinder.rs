//! Walking a thread's stack with libunwind, bounded (a frame limit, a stop when a frame
//! repeats, leaves executable memory or goes down the stack) so a corrupt or looping stack
//! cannot hang or flood us; every walk ends with one reason ([`StackEnd`]). Two ways: from a
//! [`Capture`] (registers and a stack copy, after the thread resumed; the default), or through
//! libunwind's ptrace accessors while the thread is stopped (the reference).
//!
//! libunwind 1.6's own `find_proc_info` looks for `.eh_frame_hdr` only inside the executable
//! mapping, so it finds no unwind info in binaries linked by lld (every recent Rust binary),
//! where that header sits in the read-only segment before the code, and it re-reads
//! `/proc/PID/maps` and the ELF file on every miss. We hand it the tables ourselves (found by
//! our symbol loader). For code we have no table of, libunwind falls back to frame pointers:
//! its own ELF reader trusts the file's headers, and a target can map a file that crashes it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ffi::{c_int, c_void};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use unwind::{Accessors, AddressSpace, Byteorder, PTraceStateRef};
use unwind_sys::{
    UNW_EBADREG, UNW_EINVAL, UNW_ENOINFO, unw_accessors_t, unw_addr_space_t, unw_cursor_t,
    unw_proc_info_t, unw_word_t,
};

use crate::tracer::arch::native::regs::{self, REG_COUNT};
use crate::tracer::capture::thread::{Capture, StackCopy};
use crate::tracer::failures::UnwindFailure;
use crate::tracer::memory::{PAGE, RemoteMemory};
use crate::tracer::model::{InvalidFrame, StackEnd};
use crate::tracer::procfs::maps::{MappingKind, MemoryMaps};
use crate::tracer::unwind::cfi_index::EH_FRAME_SPACE;
use crate::tracer::unwind::{frameless, sigmask, trampoline};

use crate::tracer::symbolize::symbols::UnwindTable;

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
                let mut read = |who: i32| RemoteMemory::new(who).read_exact(page, &mut buf);
                (read(tid) || (pid != tid && read(pid))).then_some(buf)
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
    /// The first address off the stack the walk could not read.
    failed_read: Option<u64>,
}

/// What the accessors need while unwinding on this thread.
#[derive(Default)]
struct UnwindState {
    /// Unwind tables of the process's modules, sorted by start (a mapping's in the order to
    /// consult them).
    tables: Vec<UnwindTable>,
    /// The images of the tables we built, at their synthetic addresses: sorted, disjoint.
    images: Vec<(u64, Arc<[u8]>)>,
    memory: MemoryCache,
    copy: Option<CopyView>,
    /// The executable mappings of files, sorted: where a return address may point.
    module_code: Vec<(u64, u64)>,
    /// The stack pointer of the frame libunwind is stepping from, while it steps: a lookup
    /// that finds no FDE may then try the frameless fallback ([`frameless`]).
    stepping_sp: Option<u64>,
    /// The step took the frameless fallback.
    took_frameless: bool,
}

/// Places the images of `tables` (sorted by start), dropping a table whose image would
/// overlap another's (only a hostile module's could) or is a duplicate of another mapping's.
fn place_images(tables: &mut Vec<UnwindTable>) -> Vec<(u64, Arc<[u8]>)> {
    let mut images: Vec<(u64, Arc<[u8]>)> = tables.iter().filter_map(|t| t.image.clone()).collect();
    images.sort_by_key(|(at, image)| (*at, image.len()));
    images.dedup_by(|b, a| a.0 == b.0 && Arc::ptr_eq(&a.1, &b.1));
    let mut kept: Vec<(u64, Arc<[u8]>)> = Vec::with_capacity(images.len());
    for (at, image) in images {
        let clear = kept
            .last()
            .is_none_or(|(prev, p)| prev.saturating_add(p.len() as u64) <= at);
        if clear {
            kept.push((at, image));
        }
    }
    tables.retain(|t| match &t.image {
        None => true,
        Some((at, image)) => kept
            .binary_search_by_key(at, |k| k.0)
            .is_ok_and(|i| Arc::ptr_eq(&kept[i].1, image)),
    });
    kept
}

/// The little-endian word at `addr` of the image that holds it (bytes past its end read as
/// zero: libunwind reads aligned words around a record's last bytes).
fn image_word(images: &[(u64, Arc<[u8]>)], addr: u64) -> Option<u64> {
    let mut bytes = [0u8; 8];
    let mut any = false;
    for (i, byte) in bytes.iter_mut().enumerate() {
        let a = addr.checked_add(i as u64)?;
        let at = images
            .partition_point(|(start, _)| *start <= a)
            .checked_sub(1);
        if let Some(b) = at.and_then(|k| images[k].1.get((a - images[k].0) as usize)) {
            *byte = *b;
            any = true;
        }
    }
    any.then(|| u64::from_le_bytes(bytes))
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
        // No process maps anything here: only our images.
        if (EH_FRAME_SPACE..trampoline::IMAGE_END).contains(&addr) {
            return match image_word(&self.images, addr) {
                Some(v) => Read::Value(v),
                None => Read::Refused,
            };
        }
        if let Some(copy) = &mut self.copy {
            let stack = &copy.stack;
            if addr >= stack.start && addr.saturating_add(8) <= stack.end() {
                let off = (addr - stack.start) as usize;
                let word = stack.bytes[off..off + 8].try_into().expect("8 bytes");
                return Read::Value(u64::from_le_bytes(word));
            }
            if stack
                .region
                .is_some_and(|(_, hi)| addr >= stack.start && addr < hi)
            {
                copy.past_copy = true;
                return Read::Refused;
            }
            // Code and unwind tables, or memory off the copy (a signal frame on an alternate
            // stack, elsewhere or below the interrupted frames): read from the process as it
            // is now.
            return match self.memory.read_word(addr) {
                Some(v) => Read::Value(v),
                None => {
                    copy.failed_read.get_or_insert(addr);
                    Read::Refused
                }
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
    match search_tables(asp, ip, pip, need_unwind_info, arg) {
        // SAFETY: as for the search, with the same arguments.
        Some(ret) if ret == -UNW_ENOINFO && unsafe { frameless_caller(asp, ip, arg) } => {
            let mut di = remote_table(0, u64::MAX, frameless::IMAGE_AT, frameless::IMAGE_AT, 1);
            // SAFETY: as in `search_tables`; the image is served by `access_mem`.
            let ret = unsafe {
                _Ux86_64_dwarf_search_unwind_table(asp, ip, &mut di, pip, need_unwind_info, arg)
            };
            if ret == 0 {
                STATE.with(|s| s.borrow_mut().took_frameless = true);
            }
            ret
        }
        Some(ret) => ret,
        // SAFETY: as for the search, with the same arguments.
        None if unsafe { trampoline_caller(asp, ip, arg) } => {
            let mut di = remote_table(0, u64::MAX, trampoline::IMAGE_AT, trampoline::IMAGE_AT, 1);
            // SAFETY: as in `search_tables`; the image is served by `access_mem`.
            unsafe {
                _Ux86_64_dwarf_search_unwind_table(asp, ip, &mut di, pip, need_unwind_info, arg)
            }
        }
        // Not libunwind's own lookup: it parses the mapped file with no bounds checks (a
        // program header table past the end of the file crashes it).
        None => -UNW_ENOINFO,
    }
}

/// Whether the frame at `ip`, in code of no module's tables, is a CPython perf trampoline's
/// (see [`trampoline`]).
///
/// # Safety
/// `asp` and `arg` are those libunwind passed to `find_proc_info`.
unsafe fn trampoline_caller(asp: unw_addr_space_t, ip: u64, arg: *mut c_void) -> bool {
    let mut read = |addr: u64| {
        let mut v: unw_word_t = 0;
        // SAFETY: our accessor, with the arguments libunwind gave us and a valid pointer.
        (unsafe { access_mem(asp, addr, &mut v, 0, arg) } == 0).then_some(v)
    };
    trampoline::is_stub_frame(ip, &mut read)
}

/// libunwind's description of a remote search table of `count` entries.
fn remote_table(start: u64, end: u64, segbase: u64, table_data: u64, count: u64) -> DynInfo {
    DynInfo {
        next: std::ptr::null_mut(),
        prev: std::ptr::null_mut(),
        start_ip: start,
        end_ip: end,
        gp: 0,
        format: UNW_INFO_FORMAT_REMOTE_TABLE,
        pad: 0,
        load_offset: 0,
        name_ptr: 0,
        segbase,
        table_len: count * 8 / std::mem::size_of::<unw_word_t>() as u64,
        table_data,
    }
}

/// Searches the unwind tables of the mapping that holds `ip`, in order: libunwind's answer
/// from the first that has an FDE for it (or fails), `-UNW_ENOINFO` if none has; `None` when
/// the mapping has no tables.
fn search_tables(
    asp: unw_addr_space_t,
    ip: unw_word_t,
    pip: *mut unw_proc_info_t,
    need_unwind_info: c_int,
    arg: *mut c_void,
) -> Option<c_int> {
    // The tables of the mapping that holds `ip`, in the order to consult them.
    let (first, last) = STATE.with(|s| {
        let t = &s.borrow().tables;
        let Some(i) = t.partition_point(|e| e.start <= ip).checked_sub(1) else {
            return (0, 0);
        };
        if ip >= t[i].end {
            return (0, 0);
        }
        (t[..i].partition_point(|e| e.start < t[i].start), i + 1)
    });
    for k in first..last {
        let Some(t) = STATE.with(|s| {
            s.borrow()
                .tables
                .get(k)
                .map(|t| (t.start, t.end, t.segbase, t.table_data, t.fde_count))
        }) else {
            break;
        };
        let (start, end, segbase, table_data, fde_count) = t;
        let mut di = remote_table(start, end, segbase, table_data, fde_count);
        // SAFETY: libunwind calls us with valid pointers, which we pass on unchanged; `di`
        // lives across the call.
        let ret = unsafe {
            _Ux86_64_dwarf_search_unwind_table(asp, ip, &mut di, pip, need_unwind_info, arg)
        };
        if ret != -UNW_ENOINFO {
            return Some(ret);
        }
    }
    (first < last).then_some(-UNW_ENOINFO)
}

/// Whether a step from the frame at `ip`, which no FDE of its module covers, may take its
/// caller from the word at its stack pointer (see [`frameless`]).
///
/// # Safety
/// `asp` and `arg` are those libunwind passed to `find_proc_info`.
unsafe fn frameless_caller(asp: unw_addr_space_t, ip: u64, arg: *mut c_void) -> bool {
    let Some((sp, code)) = STATE.with(|s| {
        let s = s.borrow();
        s.stepping_sp.map(|sp| (sp, s.module_code.clone()))
    }) else {
        return false;
    };
    let mut read = |addr: u64| {
        let mut v: unw_word_t = 0;
        // SAFETY: our accessor, with the arguments libunwind gave us and a valid pointer.
        (unsafe { access_mem(asp, addr, &mut v, 0, arg) } == 0).then_some(v)
    };
    let Some(ret) = read(sp) else {
        return false;
    };
    let mut fde_at = |addr: u64| {
        // SAFETY: zero is a valid bit pattern for the plain struct the search fills.
        let mut info: unw_proc_info_t = unsafe { std::mem::zeroed() };
        (search_tables(asp, addr, &mut info, 0, arg) == Some(0))
            .then_some((info.start_ip, info.end_ip))
    };
    frameless::is_return_address(ip, ret, &code, &mut read, &mut fde_at)
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
    /// No unwind info covers the frame: its caller was taken from the word at its stack
    /// pointer, a return address right after a call (see [`frameless`]).
    pub frameless: bool,
}

/// The outcome of one unwind: the frames found and why the walk ended.
#[derive(Debug, Default)]
pub struct Walk {
    pub frames: Vec<RawFrame>,
    /// How the walk ended; `None` only when it failed before its first frame (`error`).
    pub end: Option<StackEnd>,
    /// Why there is no frame at all.
    pub error: Option<UnwindFailure>,
    /// RAX of the innermost frame, when known: 0 right after `clone` returned in the new
    /// thread (which has no caller), the new thread's id in the thread that called it.
    pub first_rax: Option<u64>,
    /// Unwinding a capture needed a register it lacks (a blocked thread's callee-saved
    /// registers are unknown): the walk is incomplete, and the thread should be stopped.
    pub missing_register: bool,
}

impl Walk {
    fn failed(error: UnwindFailure) -> Walk {
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
    /// Take it, and stop after it: the frame limit is reached.
    TakeLast,
    /// Take it (its address is what the walk found), and stop: it is not code.
    TakeNotCode,
    /// Stop without it.
    Stop(StackEnd),
}

/// Room made up front for a walk's frames: most stacks are shallower, and growing the set of
/// seen frames and the frame list step by step cost more than the steps themselves.
const USUAL_DEPTH: usize = 32;

/// Hashes (IP, SP) pairs for [`Bounds`]: a multiply-rotate (FxHash's), several times cheaper
/// than SipHash for a set probed at every frame. The pairs come from the target, so it could
/// make them collide; the set never holds more than the frame limit, so that costs at most
/// a quadratic number of probes of a bounded set, not a hang.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// The limits of one walk, so a corrupt or looping stack cannot hang or flood us.
struct Bounds {
    max_frames: usize,
    seen: HashSet<(u64, u64), BuildHasherDefault<PairHasher>>,
    /// The stack pointer of the frame before, and whether that frame was a signal frame
    /// (after which the stack may switch: a handler on an alternate stack).
    previous: Option<(u64, bool)>,
}

impl Bounds {
    fn new(max_frames: usize) -> Bounds {
        Bounds {
            max_frames: max_frames.max(1),
            seen: HashSet::with_capacity_and_hasher(
                max_frames.clamp(1, USUAL_DEPTH),
                BuildHasherDefault::default(),
            ),
            previous: None,
        }
    }

    /// Whether to take the frame at `ip`, `sp`; `is_code` tells executable addresses.
    fn admit(&mut self, ip: u64, sp: u64, is_code: &mut dyn FnMut(u64) -> bool) -> Admit {
        if ip == 0 && !self.seen.is_empty() {
            // The x86_64 ABI's mark of the outermost frame.
            return Admit::Stop(StackEnd::Root);
        }
        if !self.seen.insert((ip, sp)) {
            return Admit::Stop(StackEnd::Repeating { address: ip });
        }
        if let Some((previous, false)) = self.previous
            && sp < previous
        {
            return Admit::Stop(StackEnd::InvalidFrame {
                address: ip,
                why: InvalidFrame::StackBackwards { sp, previous },
            });
        }
        if !is_code(ip) {
            return Admit::TakeNotCode;
        }
        if self.seen.len() >= self.max_frames {
            Admit::TakeLast
        } else {
            Admit::Take
        }
    }

    /// The frame just taken, at `sp`, was (or was not) a signal frame.
    fn taken(&mut self, sp: u64, is_signal: bool) {
        self.previous = Some((sp, is_signal));
    }
}

/// One step of a walk.
trait Steps {
    fn ip(&mut self) -> Result<u64, String>;
    fn sp(&mut self) -> u64;
    /// Moves to the caller: `Ok(false)` when the unwinder says the frame is the outermost.
    fn step(&mut self) -> Result<bool, String>;
    /// Whether the frame the last step left was a signal trampoline. (libunwind learns it
    /// while stepping from that frame: asked before the step, it answers for the frame
    /// before.)
    fn was_signal(&mut self) -> bool;
    /// Whether the last step took the caller from the word at the stack pointer, there being
    /// no unwind info for the frame (see [`frameless`]).
    fn was_frameless(&mut self) -> bool;
    /// Whether the unwinder has unwind info for code at `ip`.
    fn has_unwind_info(&mut self, ip: u64) -> bool;
}

/// A libunwind cursor, with what it was made from (to ask about the code a walk ended in).
struct RawCursor {
    cursor: unw_cursor_t,
    space: unw_addr_space_t,
    arg: *mut c_void,
    /// The last step took the frameless fallback.
    frameless: bool,
}

fn unw_error(code: c_int) -> String {
    // SAFETY: unw_strerror returns a static C string for any code.
    let text = unsafe { std::ffi::CStr::from_ptr(unwind_sys::unw_strerror(code)) };
    text.to_string_lossy().into_owned()
}

impl RawCursor {
    /// A cursor on the thread of `arg` in `space`, from libunwind's `unw_init_remote` (or
    /// libunwind's words for why not).
    fn new(space: unw_addr_space_t, arg: *mut c_void) -> Result<RawCursor, String> {
        // SAFETY: unw_init_remote fills the cursor; zero is a valid starting bit pattern.
        let mut cursor: unw_cursor_t = unsafe { std::mem::zeroed() };
        // SAFETY: the caller keeps `space` and `arg` alive for the cursor's life.
        let ret = unsafe { unwind_sys::unw_init_remote(&mut cursor, space, arg) };
        if ret < 0 {
            return Err(unw_error(ret));
        }
        Ok(RawCursor {
            cursor,
            space,
            arg,
            frameless: false,
        })
    }

    fn reg(cursor: &mut unw_cursor_t, reg: c_int) -> Result<u64, c_int> {
        let mut v: unw_word_t = 0;
        // SAFETY: the cursor was initialized by unw_init_remote.
        match unsafe { unwind_sys::unw_get_reg(cursor, reg, &mut v) } {
            0 => Ok(v),
            e => Err(e),
        }
    }
}

impl Steps for RawCursor {
    fn ip(&mut self) -> Result<u64, String> {
        Self::reg(&mut self.cursor, unwind_sys::UNW_TDEP_IP).map_err(unw_error)
    }
    fn sp(&mut self) -> u64 {
        Self::reg(&mut self.cursor, unwind_sys::UNW_TDEP_SP).unwrap_or(0)
    }
    fn step(&mut self) -> Result<bool, String> {
        let sp = self.sp();
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.stepping_sp = Some(sp);
            s.took_frameless = false;
        });
        // SAFETY: as above.
        let ret = unsafe { unwind_sys::unw_step(&mut self.cursor) };
        self.frameless = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.stepping_sp = None;
            s.took_frameless
        });
        if self.frameless {
            // libunwind keeps the frame's rules by its IP alone: the next thread there must
            // be checked again.
            // SAFETY: the space is live.
            unsafe { unwind_sys::unw_flush_cache(self.space, 0, 0) };
        }
        match ret {
            n if n > 0 => Ok(true),
            0 => Ok(false),
            e => Err(unw_error(e)),
        }
    }
    fn was_signal(&mut self) -> bool {
        // SAFETY: as above.
        unsafe { unwind_sys::unw_is_signal_frame(&mut self.cursor) > 0 }
    }
    fn was_frameless(&mut self) -> bool {
        self.frameless
    }
    fn has_unwind_info(&mut self, ip: u64) -> bool {
        // The address space's own lookup, without building the unwind info: cheap (a table
        // search), unlike unw_get_proc_info, which interprets the frame's CFI.
        // SAFETY: the space is live; libunwind returns its accessor table.
        let Some(find) = (unsafe { (*unwind_sys::unw_get_accessors(self.space)).find_proc_info })
        else {
            return false;
        };
        // SAFETY: zero is a valid bit pattern for the plain struct the lookup fills.
        let mut info: unw_proc_info_t = unsafe { std::mem::zeroed() };
        // SAFETY: the arguments are those the cursor was made with; nothing is allocated
        // when no unwind info is asked for.
        unsafe { find(self.space, ip, &mut info, 0, self.arg) == 0 }
    }
}

/// The target's executable ranges, to tell a frame's address is code. A miss re-reads the
/// maps once per trace (a library loaded since they were read).
struct Code {
    pid: i32,
    ranges: RefCell<Vec<(u64, u64)>>,
    reread: Cell<bool>,
    /// The range of the last hit: asked for every frame of every thread, and stacks run
    /// through the same few modules, so most questions are answered here.
    last: Cell<(u64, u64)>,
}

impl Code {
    fn contains(&self, ip: u64) -> bool {
        let (start, end) = self.last.get();
        if start <= ip && ip < end {
            return true;
        }
        let inside = |ranges: &[(u64, u64)]| {
            let i = ranges.partition_point(|r| r.0 <= ip);
            (i > 0 && ip < ranges[i - 1].1).then(|| ranges[i - 1])
        };
        let hit = inside(&self.ranges.borrow());
        let hit = match hit {
            Some(range) => Some(range),
            None if self.reread.replace(true) => None,
            None => {
                if let Ok(maps) = MemoryMaps::read(self.pid) {
                    *self.ranges.borrow_mut() = code_ranges(&maps);
                }
                // The ranges changed: the last hit may be gone from them.
                self.last.set((0, 0));
                inside(&self.ranges.borrow())
            }
        };
        if let Some(range) = hit {
            self.last.set(range);
        }
        hit.is_some()
    }
}

/// The executable mappings' ranges, sorted.
fn code_ranges(maps: &MemoryMaps) -> Vec<(u64, u64)> {
    maps.iter().map(|m| (m.start, m.end)).collect()
}

/// libunwind address spaces for one traced process: one over ptrace, one over captures.
pub struct Unwinder {
    space: AddressSpace<PTraceStateRef>,
    copy_space: unw_addr_space_t,
    /// libunwind's ptrace state for the process, which its fallback `find_proc_info` uses to
    /// read `/proc/PID/maps` and ELF files (never to touch the threads).
    upt: *mut c_void,
    /// Where the process's code is, to end a walk at a frame that is not code.
    code: Code,
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
        // Stable: a mapping's tables keep the order they are to be consulted in.
        tables.sort_by_key(|t| t.start);
        let mut images = place_images(&mut tables);
        // Past every built table's image (see `frameless::IMAGE_AT`): the order holds.
        images.push((frameless::IMAGE_AT, Arc::from(&frameless::IMAGE[..])));
        images.push((trampoline::IMAGE_AT, Arc::from(&trampoline::IMAGE[..])));
        let memory = MemoryCache {
            read_only: read_only.to_vec(),
            pid,
            ..MemoryCache::default()
        };
        STATE.with(|s| {
            *s.borrow_mut() = UnwindState {
                tables,
                images,
                memory,
                copy: None,
                module_code: Vec::new(),
                stepping_sp: None,
                took_frameless: false,
            }
        });
        Ok(Unwinder {
            space,
            copy_space,
            upt,
            code: Code {
                pid,
                ranges: RefCell::default(),
                reread: Cell::new(false),
                last: Cell::new((0, 0)),
            },
        })
    }

    /// Tells where the process's code is (its executable mappings), as read for this trace.
    pub fn know_code(&mut self, maps: &MemoryMaps) {
        *self.code.ranges.get_mut() = code_ranges(maps);
        self.code.last.set((0, 0));
        let files = maps
            .iter()
            .filter(|m| matches!(m.kind, MappingKind::File(_)))
            .map(|m| (m.start, m.end))
            .collect();
        STATE.with(|s| s.borrow_mut().module_code = files);
    }

    /// Unwinds stopped thread `tid` through ptrace, at most `max_frames` deep.
    pub fn unwind(&self, tid: i32, max_frames: usize) -> Walk {
        let _quiet = sigmask::Quiet::new();
        self.begin(tid);
        // SAFETY: allocates libunwind's ptrace state for `tid`; it attaches nothing.
        let upt = unsafe { unwind_sys::_UPT_create(tid) };
        let walk = if upt.is_null() {
            Walk::failed(UnwindFailure::PtraceState)
        } else {
            let space = &*self.space as *const _ as unw_addr_space_t;
            let walk = match RawCursor::new(space, upt) {
                Ok(mut cursor) => {
                    let rax = RawCursor::reg(&mut cursor.cursor, unwind_sys::UNW_X86_64_RAX).ok();
                    Walk {
                        first_rax: rax,
                        ..walk(&mut cursor, max_frames, &mut |ip| self.code.contains(ip))
                    }
                }
                Err(message) => Walk::failed(UnwindFailure::Start { message }),
            };
            // SAFETY: created above; the cursor that used it is gone.
            unsafe { unwind_sys::_UPT_destroy(upt) };
            walk
        };
        self.end();
        walk
    }

    /// Unwinds a captured thread from its copy (the thread may be running again).
    pub fn unwind_capture(&self, tid: i32, capture: Capture, max_frames: usize) -> Walk {
        let _quiet = sigmask::Quiet::new();
        self.begin(tid);
        let copied = capture.stack.bytes.len() as u64;
        // Not through the cursor: a register the capture lacks would count as one the walk
        // needed.
        let first_rax = capture.regs[regs::RAX];
        let needed = capture
            .stack
            .region
            .map(|(_, end)| end.saturating_sub(capture.stack.start));
        STATE.with(|s| {
            s.borrow_mut().copy = Some(CopyView {
                regs: capture.regs,
                stack: capture.stack,
                missing_register: false,
                past_copy: false,
                failed_read: None,
            })
        });
        // SAFETY: the address space and the ptrace state live as long as `self`.
        let mut walk = match RawCursor::new(self.copy_space, self.upt) {
            Ok(mut cursor) => walk(&mut cursor, max_frames, &mut |ip| self.code.contains(ip)),
            Err(message) => Walk::failed(UnwindFailure::Start { message }),
        };
        walk.first_rax = first_rax;
        let view = STATE.with(|s| s.borrow_mut().copy.take());
        if let Some(view) = view {
            walk.missing_register = view.missing_register;
            walk.end = walk
                .end
                .map(|end| copy_end(end, &view, StackEnd::CopyTooShort { copied, needed }));
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

/// The end of a walk over a capture, given what the walk ran into: a read past the copy
/// (`too_short`) explains any early end; a register or a read it missed, an unwinder error.
fn copy_end(end: StackEnd, view: &CopyView, too_short: StackEnd) -> StackEnd {
    match end {
        StackEnd::Root | StackEnd::FrameLimit { .. } => end,
        _ if view.past_copy => too_short,
        StackEnd::Unwinder { .. } | StackEnd::NoUnwindInfo { .. } if view.missing_register => {
            StackEnd::RegisterUnknown
        }
        StackEnd::Unwinder { .. } => match view.failed_read {
            Some(address) => StackEnd::ReadFailed { address },
            None => end,
        },
        _ => end,
    }
}

/// Walks `cursor` to the outermost frame, or to the first reason to stop.
fn walk(cursor: &mut impl Steps, max_frames: usize, is_code: &mut dyn FnMut(u64) -> bool) -> Walk {
    let mut walk = Walk {
        frames: Vec::with_capacity(max_frames.clamp(1, USUAL_DEPTH)),
        ..Walk::default()
    };
    let mut bounds = Bounds::new(max_frames);
    let end = loop {
        let ip = match cursor.ip() {
            Ok(ip) => ip,
            Err(e) if walk.frames.is_empty() => {
                walk.error = Some(UnwindFailure::ReadingIp { message: e });
                return walk;
            }
            Err(e) => {
                break StackEnd::Unwinder {
                    message: format!("reading IP: {e}"),
                };
            }
        };
        let sp = cursor.sp();
        let admit = bounds.admit(ip, sp, is_code);
        if let Admit::Stop(end) = admit {
            break end;
        }
        walk.frames.push(RawFrame {
            ip,
            sp,
            is_signal: false,
            frameless: false,
        });
        if admit == Admit::TakeNotCode {
            break StackEnd::InvalidFrame {
                address: ip,
                why: InvalidFrame::NotCode,
            };
        }
        // Where the unwinder looks this frame up: a return address points after the call, so
        // the byte before; the innermost frame and one a signal interrupted are exact.
        let exact = walk.frames.len() == 1 || bounds.previous.is_some_and(|(_, signal)| signal);
        let lookup = if exact { ip } else { ip.saturating_sub(1) };
        let stepped = cursor.step();
        let is_signal = cursor.was_signal();
        if let Some(last) = walk.frames.last_mut() {
            last.is_signal = is_signal;
            last.frameless = cursor.was_frameless();
        }
        bounds.taken(sp, is_signal);
        match stepped {
            // A stack exactly as deep as the limit is whole.
            Ok(true) if admit == Admit::TakeLast => {
                break StackEnd::FrameLimit {
                    limit: bounds.max_frames,
                };
            }
            Ok(true) => {}
            // libunwind ends at a frame whose unwind info leaves the return address undefined
            // (a thread's first function) with IP 0: no need to look the code up again.
            Ok(false) if cursor.ip() == Ok(0) || cursor.has_unwind_info(lookup) => {
                break StackEnd::Root;
            }
            Ok(false) => {
                break StackEnd::NoUnwindInfo {
                    module: None,
                    address: ip,
                };
            }
            // Outermost frames without unwind info end most walks of foreign code.
            Err(_) if !cursor.has_unwind_info(lookup) => {
                break StackEnd::NoUnwindInfo {
                    module: None,
                    address: ip,
                };
            }
            Err(message) => break StackEnd::Unwinder { message },
        }
    };
    walk.end = Some(end);
    walk
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::cell::{Cell, RefCell};

    use super::{
        Admit, Bounds, Code, InvalidFrame, StackEnd, Steps, UnwindTable, image_word, place_images,
        walk,
    };

    fn table(start: u64, image: Option<(u64, Arc<[u8]>)>) -> UnwindTable {
        UnwindTable {
            start,
            end: start + 0x1000,
            segbase: 0,
            table_data: 0,
            fde_count: 1,
            image,
        }
    }

    #[test]
    fn overlapping_images_drop_their_tables() {
        let a: Arc<[u8]> = vec![1; 16].into();
        let b: Arc<[u8]> = vec![2; 16].into();
        let base = 0x8000_0000_0000_1000;
        let mut tables = vec![
            table(0x1000, None),
            table(0x1000, Some((base, a.clone()))),
            // The same image for a second mapping of the module: kept, served once.
            table(0x5000, Some((base, a.clone()))),
            // Starts inside `a`: a hostile module's; dropped.
            table(0x9000, Some((base + 8, b))),
        ];
        let images = place_images(&mut tables);
        assert_eq!(images.len(), 1);
        assert!(Arc::ptr_eq(&images[0].1, &a));
        assert_eq!(
            tables.iter().map(|t| t.start).collect::<Vec<_>>(),
            [0x1000, 0x1000, 0x5000]
        );
    }

    #[test]
    fn image_words_are_bounded_by_their_image() {
        let base = 0xa000_0000_0000_0003;
        let images: Vec<(u64, Arc<[u8]>)> = vec![(base, (1..=10).collect::<Vec<u8>>().into())];
        // An aligned word starting before the image, and one running past its end.
        assert_eq!(image_word(&images, base - 3), Some(0x0504_0302_0100_0000));
        assert_eq!(image_word(&images, base + 8), Some(0x0a09));
        assert_eq!(image_word(&images, base + 10), None);
        assert_eq!(image_word(&images, base - 16), None);
        assert_eq!(image_word(&images, u64::MAX - 3), None);
    }

    fn code(_: u64) -> bool {
        true
    }

    #[test]
    fn code_answers_from_its_last_hit_and_its_ranges_alike() {
        let code = Code {
            pid: 0,
            ranges: RefCell::new(vec![(0x1000, 0x2000), (0x5000, 0x6000)]),
            // No re-read of the maps in a unit test.
            reread: Cell::new(true),
            last: Cell::new((0, 0)),
        };
        let asked = [
            0x1000, 0x1fff, 0x2000, 0x5000, 0x5fff, 0x1800, 0x6000, 0xfff, 0, 0x5800, 0x4fff,
        ];
        let answers: Vec<bool> = asked.iter().map(|&ip| code.contains(ip)).collect();
        assert_eq!(
            answers,
            [
                true, true, false, true, true, true, false, false, false, true, false
            ]
        );
        assert_eq!(code.last.get(), (0x5000, 0x6000));
    }

    #[test]
    fn a_repeated_frame_ends_the_walk() {
        let mut b = Bounds::new(100);
        let mut is_code = code;
        assert_eq!(b.admit(0x1000, 0x7000, &mut is_code), Admit::Take);
        b.taken(0x7000, false);
        assert_eq!(b.admit(0x2000, 0x7010, &mut is_code), Admit::Take);
        b.taken(0x7010, false);
        // Same IP at another SP is recursion, not a loop.
        assert_eq!(b.admit(0x2000, 0x7020, &mut is_code), Admit::Take);
        b.taken(0x7020, false);
        assert_eq!(
            b.admit(0x2000, 0x7010, &mut is_code),
            Admit::Stop(StackEnd::Repeating { address: 0x2000 })
        );
    }

    #[test]
    fn the_frame_limit_ends_the_walk() {
        let mut b = Bounds::new(3);
        let mut is_code = code;
        assert_eq!(b.admit(1, 10, &mut is_code), Admit::Take);
        assert_eq!(b.admit(2, 20, &mut is_code), Admit::Take);
        assert_eq!(b.admit(3, 30, &mut is_code), Admit::TakeLast);
    }

    #[test]
    fn ip_zero_after_the_first_frame_is_the_root() {
        let mut b = Bounds::new(10);
        let mut is_code = code;
        assert_eq!(b.admit(0, 10, &mut is_code), Admit::Take);
        assert_eq!(b.admit(5, 20, &mut is_code), Admit::Take);
        assert_eq!(b.admit(0, 30, &mut is_code), Admit::Stop(StackEnd::Root));
    }

    #[test]
    fn a_stack_pointer_going_down_ends_the_walk_except_after_a_signal_frame() {
        let mut b = Bounds::new(10);
        let mut is_code = code;
        assert_eq!(b.admit(1, 0x8000, &mut is_code), Admit::Take);
        b.taken(0x8000, true);
        // A handler on an alternate stack returns to a frame anywhere.
        assert_eq!(b.admit(2, 0x1000, &mut is_code), Admit::Take);
        b.taken(0x1000, false);
        assert_eq!(
            b.admit(3, 0x0ff0, &mut is_code),
            Admit::Stop(StackEnd::InvalidFrame {
                address: 3,
                why: InvalidFrame::StackBackwards {
                    sp: 0x0ff0,
                    previous: 0x1000
                }
            })
        );
    }

    /// A made-up stack: (ip, sp, signal frame?, has unwind info) per frame, and what the
    /// step from the last frame returns.
    struct Fake {
        frames: Vec<(u64, u64, bool, bool)>,
        at: usize,
        last: Result<bool, String>,
        /// The IP after the last step (libunwind's 0 when unwind info ended the stack).
        end_ip: u64,
        /// The frame whose step took the frameless fallback, if any.
        frameless: Option<usize>,
    }

    impl Steps for Fake {
        fn ip(&mut self) -> Result<u64, String> {
            Ok(self.frames.get(self.at).map_or(self.end_ip, |f| f.0))
        }
        fn sp(&mut self) -> u64 {
            self.frames[self.at].1
        }
        fn step(&mut self) -> Result<bool, String> {
            self.at += 1;
            if self.at < self.frames.len() {
                Ok(true)
            } else {
                self.last.clone()
            }
        }
        fn was_signal(&mut self) -> bool {
            self.frames[self.at - 1].2
        }
        fn was_frameless(&mut self) -> bool {
            self.frameless == Some(self.at - 1)
        }
        fn has_unwind_info(&mut self, ip: u64) -> bool {
            let frame = self.frames[self.at - 1];
            // Looked up as libunwind does: the innermost frame and one after a signal frame
            // exact, the others at ip-1.
            let exact = self.at == 1 || self.frames[self.at - 2].2;
            let want = if exact { frame.0 } else { frame.0 - 1 };
            assert_eq!(ip, want);
            frame.3
        }
    }

    fn fake(frames: &[(u64, u64, bool, bool)], last: Result<bool, String>) -> Fake {
        Fake {
            frames: frames.to_vec(),
            at: 0,
            last,
            end_ip: 0x30,
            frameless: None,
        }
    }

    #[test]
    fn each_walk_ends_with_one_reason() {
        let chain = [
            (0x10, 0x100, false, true),
            (0x20, 0x110, true, true),
            (0x30, 0x90, false, true),
        ];
        let mut is_code = |ip: u64| ip < 0x1000;
        // The unwinder's "outermost" at a frame it has unwind info for: the root.
        let w = walk(&mut fake(&chain, Ok(false)), 10, &mut is_code);
        assert_eq!(w.end, Some(StackEnd::Root));
        assert_eq!(w.frames.len(), 3);
        // Only the trampoline is a signal frame (the SP may go down after it).
        let signal: Vec<bool> = w.frames.iter().map(|f| f.is_signal).collect();
        assert_eq!(signal, [false, true, false]);
        // A frame passed through its return address at the stack pointer is marked.
        let mut leaf = fake(&chain, Ok(false));
        leaf.frameless = Some(0);
        let w = walk(&mut leaf, 10, &mut is_code);
        let marked: Vec<bool> = w.frames.iter().map(|f| f.frameless).collect();
        assert_eq!(marked, [true, false, false]);
        // The same end at code without unwind info: a cut stack, said so.
        let mut no_info = chain;
        no_info[2].3 = false;
        let w = walk(&mut fake(&no_info, Ok(false)), 10, &mut is_code);
        assert_eq!(
            w.end,
            Some(StackEnd::NoUnwindInfo {
                module: None,
                address: 0x30
            })
        );
        // IP 0 after the end: unwind info said so.
        let mut zero = fake(&no_info, Ok(false));
        zero.end_ip = 0;
        assert_eq!(walk(&mut zero, 10, &mut is_code).end, Some(StackEnd::Root));
        let w = walk(&mut fake(&chain, Err("bad frame".into())), 10, &mut is_code);
        assert_eq!(
            w.end,
            Some(StackEnd::Unwinder {
                message: "bad frame".into()
            })
        );
        // Exactly as deep as the limit: whole. One frame more: the limit.
        let w = walk(&mut fake(&chain, Ok(false)), 3, &mut is_code);
        assert_eq!(w.end, Some(StackEnd::Root));
        let w = walk(&mut fake(&chain, Ok(false)), 2, &mut is_code);
        assert_eq!(w.end, Some(StackEnd::FrameLimit { limit: 2 }));
        assert_eq!(w.frames.len(), 2);
        // A return address off the code: shown, and the walk ends there.
        let mut garbage = chain.to_vec();
        garbage.insert(1, (0x5555_0000, 0x108, false, false));
        let w = walk(&mut fake(&garbage, Ok(false)), 10, &mut is_code);
        assert_eq!(w.frames.len(), 2);
        assert_eq!(
            w.end,
            Some(StackEnd::InvalidFrame {
                address: 0x5555_0000,
                why: InvalidFrame::NotCode
            })
        );
    }
}
