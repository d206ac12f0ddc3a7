//! The bundled demo process that `rstack-tui demo` runs as its child: a thread pool idle on a
//! condition variable, a busy thread, a sleeper and two deadlocked threads, each parked in a
//! chain of named `#[inline(never)]` functions so that every stack reads well.

use std::hint::black_box;
use std::io::Write;
use std::sync::{Barrier, Condvar, Mutex};
use std::time::Duration;

use crate::tracer::ProcStat;

/// Number of pool workers, named "pool-0".."pool-7".
const POOL_SIZE: usize = 8;

/// Threads other than the pool that report when they reach their last step: the two
/// deadlocked threads and the sleeper.
const OTHERS: usize = 3;

/// The pool's job queue (no job is ever posted) and how many workers wait on it.
struct Jobs {
    queue: Vec<u64>,
    idle: usize,
}

static JOBS: Mutex<Jobs> = Mutex::new(Jobs {
    queue: Vec::new(),
    idle: 0,
});
/// Signalled when a job is posted: never.
static JOB_POSTED: Condvar = Condvar::new();
/// Signalled when a worker starts waiting for a job.
static WORKER_IDLE: Condvar = Condvar::new();

/// How many of the [`OTHERS`] reached their last step.
static ARRIVED: Mutex<usize> = Mutex::new(0);
static ARRIVAL: Condvar = Condvar::new();

/// The two locks of the deadlock, taken in opposite orders.
/// Two glibc mutexes (as a C or C++ service would have), so the inspector can name each
/// lock's owner and show the deadlock.
struct PthreadMutex(std::cell::UnsafeCell<libc::pthread_mutex_t>);
// SAFETY: a pthread mutex is made to be shared between threads.
unsafe impl Sync for PthreadMutex {}
impl PthreadMutex {
    fn lock(&self) {
        // SAFETY: the mutex is statically initialised and never moved.
        unsafe { libc::pthread_mutex_lock(self.0.get()) };
    }
}
static ACCOUNT_A: PthreadMutex =
    PthreadMutex(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
static ACCOUNT_B: PthreadMutex =
    PthreadMutex(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
/// Both deadlock threads hold their first lock before either asks for its second.
static BOTH_LOCKED: Barrier = Barrier::new(2);

/// Runs the demo process: starts its threads, prints "ready" on stdout once every thread is in
/// its final state, then waits forever. Never returns.
pub fn run_target() -> ! {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of the calling process; the signal
    // number is passed as the unsigned long the kernel reads.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    }
    let busy_tid = start_threads();
    wait_until_settled(busy_tid);
    let mut stdout = std::io::stdout().lock();
    // Nobody may be listening any more; the demo waits all the same.
    let _ = writeln!(stdout, "ready").and_then(|_| stdout.flush());
    drop(stdout);
    main_wait()
}

/// Spawns every thread; returns the thread id of "busy".
fn start_threads() -> libc::pid_t {
    for id in 0..POOL_SIZE {
        spawn(format!("pool-{id}"), move || pool_worker(id));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    spawn("busy".into(), move || {
        // SAFETY: gettid has no preconditions.
        let _ = tx.send(unsafe { libc::gettid() });
        crunch_numbers()
    });
    spawn("sleeper".into(), sleeper_loop);
    spawn("deadlock-a".into(), || transfer_a_to_b(10));
    spawn("deadlock-b".into(), || transfer_b_to_a(20));
    rx.recv().expect("the busy thread reports its id")
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawn a demo thread");
}

/// A pool worker: takes jobs forever.
#[inline(never)]
fn pool_worker(id: usize) {
    loop {
        let job = wait_for_job();
        black_box((id, job));
    }
}

/// Waits on the pool's condition variable until a job is posted (none ever is).
#[inline(never)]
fn wait_for_job() -> u64 {
    let mut jobs = JOBS.lock().unwrap();
    jobs.idle += 1;
    WORKER_IDLE.notify_all();
    loop {
        if let Some(job) = jobs.queue.pop() {
            jobs.idle -= 1;
            return job;
        }
        jobs = JOB_POSTED.wait(jobs).unwrap();
    }
}

/// Spins forever: always running.
#[inline(never)]
fn crunch_numbers() {
    let mut hash = 0;
    loop {
        hash = black_box(hash_block(hash));
    }
}

/// FNV-1a over a block of made-up data.
#[inline(never)]
fn hash_block(seed: u64) -> u64 {
    let mut hash = seed ^ 0xcbf2_9ce4_8422_2325;
    for word in 0..4096u64 {
        hash = (hash ^ black_box(word)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Sleeps for an hour at a time, forever.
#[inline(never)]
fn sleeper_loop() {
    arrive();
    loop {
        nap();
    }
}

#[inline(never)]
fn nap() {
    std::thread::sleep(Duration::from_secs(3600));
    black_box(());
}

/// Moves `amount` from A to B: locks A, then B. Deadlocks with [`transfer_b_to_a`].
#[inline(never)]
fn transfer_a_to_b(amount: u64) {
    ACCOUNT_A.lock();
    BOTH_LOCKED.wait();
    arrive();
    ACCOUNT_B.lock();
    black_box(amount);
}

/// Moves `amount` from B to A: locks B, then A. Deadlocks with [`transfer_a_to_b`].
#[inline(never)]
fn transfer_b_to_a(amount: u64) {
    ACCOUNT_B.lock();
    BOTH_LOCKED.wait();
    arrive();
    ACCOUNT_A.lock();
    black_box(amount);
}

/// Tells the main thread that the caller reached its last step.
fn arrive() {
    *ARRIVED.lock().unwrap() += 1;
    ARRIVAL.notify_all();
}

/// The main thread's final resting place.
#[inline(never)]
fn main_wait() -> ! {
    loop {
        std::thread::park();
    }
}

/// Waits until every pool worker waits for a job and the other threads reached their last
/// step, then until every thread but this one and "busy" sleeps in the kernel: after their
/// last step the only place left to sleep is the final one, so every stack is final.
fn wait_until_settled(busy_tid: libc::pid_t) {
    let mut jobs = JOBS.lock().unwrap();
    while jobs.idle < POOL_SIZE {
        jobs = WORKER_IDLE.wait(jobs).unwrap();
    }
    drop(jobs);
    let mut arrived = ARRIVED.lock().unwrap();
    while *arrived < OTHERS {
        arrived = ARRIVAL.wait(arrived).unwrap();
    }
    drop(arrived);
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    while !all_asleep(&[me, busy_tid]) {
        std::thread::yield_now();
    }
}

/// Whether every thread of this process but `except` is in state S.
fn all_asleep(except: &[libc::pid_t]) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.filter_map(Result::ok).all(|task| {
        let tid = task.file_name().to_str().and_then(|t| t.parse().ok());
        if tid.is_some_and(|t| except.contains(&t)) {
            return true;
        }
        let path = task.path().join("stat");
        let Some(stat) = path.to_str().and_then(ProcStat::read) else {
            return true; // gone
        };
        stat.state == 'S'
    })
}
