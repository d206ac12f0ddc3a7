//! The take stage: each thread stopped just for the capture (rolling), or all stopped at once
//! (snapshot), or a blocked thread read without a stop; attach failures sorted into process
//! errors (permission, another tracer) and thread errors (did not stop in time).

use std::time::{Duration, Instant};

use super::Tracer;
use super::stages::{Source, Taken, TakenThread};
use crate::tracer::capture::atstop::{self, AtStop};
use crate::tracer::capture::thread::Capture;
use crate::tracer::procfs::maps::MemoryMaps;
use crate::tracer::procfs::procinfo::{self, RunRecord, TaskDir, TaskDirs, TaskFacts};
use crate::tracer::stop::attach::{self, AttachError, StoppedThread};
use crate::tracer::stop::priority::{Raised, StopPriority};
use crate::tracer::unwind::unwinder::Unwinder;
use crate::tracer::{Error, Result, ThreadError, ThreadFacts, Unguarded};
use std::collections::HashSet;

impl Tracer {
    /// What to do with a thread in a ptrace stop: capture it (copy mode), or walk it now. Also
    /// where the stop found it, to settle its facts with once it runs again.
    pub(super) fn take(
        &self,
        tid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> (Taken, Option<AtStop>) {
        let taken = self.take_native(tid, unwinder, maps);
        self.copy_python_chain(tid);
        taken
    }

    fn take_native(
        &self,
        tid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> (Taken, Option<AtStop>) {
        if self.copying() {
            match Capture::stopped(tid, maps, self.options.stack_copy_limit) {
                Ok(c) => {
                    let at = c.at_stop;
                    (Taken::Capture(Box::new(c)), at)
                }
                Err(e) => (Taken::Failed(e), None),
            }
        } else {
            let at = AtStop::read(tid);
            (
                Taken::Walk(unwinder.unwind(tid, self.options.max_frames)),
                at,
            )
        }
    }

    /// Captures thread `tid`, blocked in a system call, without stopping it, if the scheduler
    /// shows it did not run while we read it. `before` is its run record read before `facts`.
    pub(super) fn take_blocked(
        &self,
        task: &TaskDir,
        before: Option<&[u8]>,
        facts: &TaskFacts,
        maps: &MemoryMaps,
    ) -> Option<Capture> {
        let before = before?;
        let at = facts.blocked.as_ref()?;
        if !matches!(facts.facts.state, Some('S' | 'D')) {
            return None;
        }
        let capture = Capture::blocked(task.tid(), at, maps, self.options.stack_copy_limit);
        (task.run_record()? == *before).then_some(capture)
    }

    /// Thread `task` with its stack kept from the last trace, if it has not run since: its
    /// run record is read through the file kept open for the same thread and has not changed.
    /// Its `stat` is not read (a sixth of a sampled thread's cost): a thread that has not run
    /// keeps its CPU times and its system call, and it can only have left its sleep to wait
    /// for a CPU, which it is shown doing once it runs.
    fn kept_if_not_run(&self, task: &TaskDir, since: Option<&RunRecord>) -> Option<TakenThread> {
        let since = since.filter(|s| s.same_thread)?;
        let prev = self.unchanged.get(&task.tid())?;
        if prev.record != since.record || prev.with_python != self.reads_python() {
            return None;
        }
        let name = if self.options.thread_names {
            Some(task.name()?)
        } else {
            None
        };
        let facts = ThreadFacts {
            lock: None,
            state_before: None,
            leaving: None,
            chain: None,
            ..prev.facts.clone()
        };
        Some(TakenThread {
            tid: task.tid(),
            name,
            facts,
            source: Source::Kept(Box::new(prev.clone())),
            stopped_for: Duration::ZERO,
            mark: Some((prev.start, since.record.clone())),
        })
    }

    /// Captures one thread at a time: a blocked thread without stopping it (copy mode), any
    /// other by stopping it just for the capture (or, with ptrace unwinding, the walk).
    pub(super) fn capture_rolling(
        &mut self,
        pid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<(Vec<TakenThread>, Duration)> {
        let mut out = Vec::new();
        let blocked_ok = self.copying() && !self.options.stop_blocked;
        let tids = procinfo::thread_ids(pid)?;
        let Some(dirs) = TaskDirs::open(pid, std::mem::take(&mut self.kept)) else {
            return Err(Error::ProcessExited { pid });
        };
        for &tid in &tids {
            if self.cancelled() {
                return Err(Error::Cancelled { pid });
            }
            let task = dirs.task(tid);
            let since = if blocked_ok {
                task.run_record_since()
            } else {
                None
            };
            if let Some(kept) = self.kept_if_not_run(&task, since.as_ref()) {
                out.push(kept);
                continue;
            }
            let before = since.map(|s| s.record);
            let Some(stat) = procinfo::thread_stat(&task, self.options.thread_names) else {
                continue;
            };
            let start = stat.start;
            let mut facts = procinfo::thread_facts_after(&task, stat);
            if blocked_ok && let Some(c) = self.take_blocked(&task, before.as_deref(), &facts, maps)
            {
                // Walked at once, so the next thread's copy reuses this one's freed buffer:
                // 1000 copies kept to the unwind pass faulted in ~1250 fresh pages (~4 ms).
                let walk = unwinder.unwind_capture(tid, c, self.options.max_frames);
                let mut stopped_for = Duration::ZERO;
                let mut mark = before.map(|r| (start, r));
                let (walk, error) = if walk.missing_register {
                    // Stopped after all: its run record no longer tells whether it ran.
                    mark = None;
                    let (walk, error, at) =
                        self.retake(pid, tid, walk, unwinder, maps, &mut stopped_for)?;
                    if let Some(at) = at {
                        atstop::settle(pid, &mut facts.facts, at);
                    }
                    (walk, error)
                } else {
                    (walk, None)
                };
                out.push(TakenThread {
                    tid,
                    name: facts.name,
                    facts: facts.facts,
                    source: Source::Taken(Taken::Walked(walk, error)),
                    stopped_for,
                    mark,
                });
                continue;
            }
            let raised = self.hold();
            let (taken, stopped_for, at) = match self.stop(pid, tid)? {
                Stop::Stopped(s) => {
                    let (taken, at) = self.take(tid, unwinder, maps);
                    (taken, s.detach(), at)
                }
                Stop::Gone => continue,
                Stop::Failed(error) => (Taken::Failed(error), Duration::ZERO, None),
            };
            drop(raised);
            if let Some(at) = at {
                atstop::settle(pid, &mut facts.facts, at);
            }
            out.push(TakenThread::taken(tid, facts, taken, stopped_for));
        }
        self.kept = dirs.into_kept(&tids);
        Ok((out, Duration::ZERO))
    }

    /// Stops every thread (re-reading the thread list until no new thread appears), captures
    /// them all (or, with ptrace unwinding, walks them), then resumes them all.
    pub(super) fn capture_snapshot(
        &mut self,
        pid: i32,
        unwinder: &Unwinder,
        maps: &MemoryMaps,
    ) -> Result<(Vec<TakenThread>, Duration)> {
        let mut held: Vec<(StoppedThread, TaskFacts)> = Vec::new();
        let mut failed = Vec::new();
        let mut seen = HashSet::new();
        let mut seen_order = Vec::new();
        let mut first_stop: Option<Instant> = None;
        // From the first stop to the last resume; dropped (restored) on every way out.
        let mut raised: Option<Raised> = None;
        let Some(dirs) = TaskDirs::open(pid, Default::default()) else {
            return Err(Error::ProcessExited { pid });
        };
        loop {
            let tids = match procinfo::thread_ids(pid) {
                Ok(t) => t,
                Err(e) if held.is_empty() => return Err(e),
                Err(_) => break,
            };
            let fresh: Vec<i32> = tids.into_iter().filter(|t| seen.insert(*t)).collect();
            seen_order.extend(&fresh);
            if fresh.is_empty() {
                break;
            }
            for tid in fresh {
                if self.cancelled() {
                    return Err(Error::Cancelled { pid });
                }
                let Some(facts) =
                    procinfo::thread_facts(&dirs.task(tid), self.options.thread_names)
                else {
                    continue;
                };
                if raised.is_none() {
                    raised = Some(self.hold());
                }
                match self.stop(pid, tid)? {
                    Stop::Stopped(s) => {
                        first_stop.get_or_insert_with(Instant::now);
                        held.push((s, facts));
                        if self.options.panic_after_stops == Some(held.len()) {
                            panic!("panic_after_stops_for_tests: {} threads held", held.len());
                        }
                    }
                    Stop::Gone => {}
                    Stop::Failed(error) => failed.push(TakenThread::taken(
                        tid,
                        facts,
                        Taken::Failed(error),
                        Duration::ZERO,
                    )),
                }
            }
        }
        let taken: Vec<(Taken, Option<AtStop>)> = held
            .iter()
            .map(|(s, _)| self.take(s.tid(), unwinder, maps))
            .collect();
        let window = first_stop.map(|t| t.elapsed()).unwrap_or_default();
        let mut out: Vec<TakenThread> = held
            .into_iter()
            .zip(taken)
            .map(|((stopped, mut facts), (taken, at))| {
                let tid = stopped.tid();
                let stopped_for = stopped.detach();
                if let Some(at) = at {
                    atstop::settle(pid, &mut facts.facts, at);
                }
                TakenThread::taken(tid, facts, taken, stopped_for)
            })
            .collect();
        drop(raised);
        out.extend(failed);
        // Report threads in the order the kernel listed them, as rolling mode does.
        let order: std::collections::HashMap<i32, usize> = seen_order
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i))
            .collect();
        out.sort_by_key(|c| order.get(&c.tid).copied().unwrap_or(usize::MAX));
        Ok((out, window))
    }

    /// The calling thread raised above ordinary load until the guard drops, for a hold: the
    /// outcome is noted for [`crate::tracer::Timings::stop_priority`] (a refusal sticks).
    pub(super) fn hold(&mut self) -> Raised {
        let raised = Raised::raise();
        if self.stop_priority != StopPriority::NotPermitted {
            self.stop_priority = raised.outcome();
        }
        raised
    }

    /// Stops one thread, turning attach failures into a process-level error (permission,
    /// another tracer) or a per-thread one (did not stop in time).
    pub(super) fn stop(&mut self, pid: i32, tid: i32) -> Result<Stop> {
        if self.options.caller_attached {
            return Ok(Stop::Stopped(StoppedThread::borrowed(tid)));
        }
        let deadline = Instant::now() + self.options.stop_timeout;
        let cancel = self
            .options
            .cancel
            .clone()
            .unwrap_or_else(|| self.never.clone());
        let mut unguarded = None;
        let attached =
            StoppedThread::attach(tid, self.options.method, deadline, &cancel, &mut unguarded);
        if let Some(why) = unguarded {
            self.unguarded
                .get_or_insert(Unguarded { attaches: 0, why })
                .attaches += 1;
        }
        match attached {
            Ok(s) => Ok(Stop::Stopped(s)),
            Err(AttachError::Gone) => Ok(Stop::Gone),
            Err(AttachError::Refused(errno)) => {
                // An exiting thread refuses ptrace with EPERM too: that is not a permission
                // problem, the thread is just gone.
                if !procinfo::is_alive_thread(pid, tid) {
                    return Ok(Stop::Gone);
                }
                if attach::is_lingering(tid) {
                    return Ok(Stop::Failed(ThreadError::StillStopping));
                }
                if let Some((tracer_pid, tracer)) =
                    procinfo::tracer_of(pid).or_else(|| procinfo::tracer_of(tid))
                {
                    return Err(Error::AlreadyTraced {
                        pid,
                        tracer_pid,
                        tracer,
                    });
                }
                Err(Error::PermissionDenied {
                    pid,
                    scope: procinfo::ptrace_scope(),
                    source: errno.into(),
                })
            }
            Err(AttachError::Failed(call, errno)) => Ok(Stop::Failed(ThreadError::Stop {
                call,
                errno: errno as i32,
            })),
            Err(AttachError::Timeout(l)) => {
                attach::linger(l);
                Ok(Stop::Failed(ThreadError::StopTimeout {
                    timeout: self.options.stop_timeout,
                }))
            }
            Err(AttachError::Cancelled(l)) => {
                attach::linger(l);
                Err(Error::Cancelled { pid })
            }
        }
    }
}

pub(super) enum Stop {
    Stopped(StoppedThread),
    Gone,
    Failed(ThreadError),
}
