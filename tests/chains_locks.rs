//! Wait chains through links that are not an fd's peer, against processes of
//! tests/fixtures/chains_locks.c: a file lock (flock, POSIX, OFD) held by another process, a
//! parent in waitpid on its child (and the deadlock it closes with a file lock, and the mutex
//! the child waits on), a process-shared mutex and rwlock held by a thread of another
//! process, and a process-shared semaphore other processes wait on too.

mod common;

use std::path::PathBuf;

use common::{Fixture, chains_locks_bin, wait_until};
use rstack_tui::Process;

/// The fixture (the parent) and the child it forked, blocked in system call `nr`.
struct Family {
    fx: Fixture,
    child: u32,
    /// The other line the fixture printed after the child's (the mutex holder's tid).
    extra: Option<String>,
    file: Option<PathBuf>,
}

impl Family {
    fn spawn(mode: &str, with_file: bool, nr: i64) -> Family {
        let file = with_file.then(|| {
            let dir = std::fs::canonicalize(std::env::temp_dir()).unwrap();
            dir.join(format!("rstack-chains-{mode}-{}", std::process::id()))
        });
        let mut args = vec![mode.to_string()];
        args.extend(file.iter().map(|f| f.to_str().unwrap().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let fx = Fixture::spawn(chains_locks_bin(), &args);
        let line = fx.next_line();
        let child: u32 = line
            .strip_prefix("child ")
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not a child line: {line:?}"));
        let extra = matches!(mode, "pshared" | "waitmutex" | "pshared-rwlock" | "sem")
            .then(|| fx.next_line());
        let family = Family {
            fx,
            child,
            extra,
            file,
        };
        wait_until(&format!("child {child} to block in syscall {nr}"), || {
            let sc = std::fs::read_to_string(format!("/proc/{child}/syscall")).unwrap_or_default();
            let state = common::thread_states(child);
            sc.split_whitespace().next() == Some(nr.to_string().as_str())
                && state.iter().all(|(_, s)| *s == 'S')
        });
        family
    }

    fn parent(&self) -> u32 {
        self.fx.pid()
    }
}

impl Drop for Family {
    fn drop(&mut self) {
        // The child dies with its parent too (PR_SET_PDEATHSIG); killed first, by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        if let Some(f) = &self.file {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn trace(pid: u32) -> Process {
    rstack_tui::trace(pid).unwrap_or_else(|e| panic!("trace {pid}: {e}"))
}

/// One link of a chain, as plain values (the chain types are not at the crate's root).
#[derive(Debug)]
struct Link {
    waiter: (u32, Option<u32>),
    kind: &'static str,
    object: String,
    holders: Vec<(u32, Option<u32>)>,
    holder_names: Vec<String>,
    holder_states: Vec<Option<char>>,
    note: Option<String>,
}

#[derive(Debug)]
struct Chain {
    links: Vec<Link>,
    cycle: Option<usize>,
    end: Option<String>,
}

/// The chain of process `p`'s main thread.
fn main_chain(p: &Process) -> Chain {
    let t = &p.threads()[0];
    let c = t
        .facts()
        .chain
        .as_ref()
        .unwrap_or_else(|| panic!("no chain for {}: {:#?}", t.id(), t.facts()));
    Chain {
        links: c
            .links
            .iter()
            .map(|l| Link {
                waiter: (l.waiter.pid, l.waiter.tid),
                kind: l.kind.as_str(),
                object: l.object.clone(),
                holders: l.holders.iter().map(|h| (h.pid, h.tid)).collect(),
                holder_names: l.holders.iter().map(|h| h.name.clone()).collect(),
                holder_states: l.holders.iter().map(|h| h.state).collect(),
                note: l.note.clone(),
            })
            .collect(),
        cycle: c.cycle,
        end: c.end.clone(),
    }
}

/// Each cycle's waiters' pids, in order.
fn cycles(p: &Process) -> Vec<Vec<u32>> {
    p.wait_cycles()
        .iter()
        .map(|c| c.links.iter().map(|l| l.waiter.pid).collect())
        .collect()
}

/// A child blocked taking a file lock its parent holds: one link, to the parent, exact.
fn file_lock(mode: &str, nr: i64, words: &str) {
    let fam = Family::spawn(mode, true, nr);
    let p = trace(fam.child);
    fam.fx.assert_running();
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let l = &chain.links[0];
    assert_eq!(l.waiter, (fam.child, Some(fam.child)));
    assert_eq!(l.kind, "file lock");
    let path = fam.file.as_ref().unwrap().display().to_string();
    assert_eq!(l.object, format!("{path} ({words})"));
    assert_eq!(chain.links[0].holders, [(fam.parent(), None)], "{chain:#?}");
    assert_eq!(l.holder_states[0], Some('S'));
    assert_eq!(l.note, None);
    assert_eq!((chain.cycle, chain.end.as_deref()), (None, None));
    assert!(cycles(&p).is_empty());
}

#[test]
fn flock_held_by_another_process() {
    file_lock("flock", 73, "flock, write");
}

#[test]
fn posix_lock_held_by_another_process() {
    file_lock("posix", 72, "POSIX write lock, bytes 0-EOF");
}

#[test]
fn ofd_lock_held_by_another_process() {
    // /proc/locks shows no pid for an OFD lock: the holder is found by its fdinfo.
    file_lock("ofd", 72, "OFD write lock, bytes 0-EOF");
}

#[test]
fn parent_waits_for_its_child() {
    let fam = Family::spawn("waitpipe", false, 0);
    let p = trace(fam.parent());
    fam.fx.assert_running();
    let chain = main_chain(&p);
    let l = &chain.links[0];
    assert_eq!(l.waiter, (fam.parent(), Some(fam.parent())));
    assert_eq!(l.kind, "child");
    assert_eq!(l.object, format!("child {}", fam.child));
    assert_eq!(chain.links[0].holders, [(fam.child, None)]);
    assert_eq!(l.holder_states[0], Some('S'));
    assert_eq!(l.holder_names[0], "chainslocks");
    assert_eq!(l.note, None);
    assert_eq!(chain.cycle, None);
    // The child's read on its pipe is the pipes' part of the chain: when it is followed, the
    // next link is the child's thread's.
    for next in &chain.links[1..] {
        assert_eq!(next.waiter, (fam.child, Some(fam.child)));
    }
    assert!(chain.links.len() <= 2, "{chain:#?}");
}

#[test]
fn child_wait_and_file_lock_deadlock() {
    let fam = Family::spawn("waitcycle", true, 73);
    let (parent, child) = (fam.parent(), fam.child);
    let path = fam.file.as_ref().unwrap().display().to_string();
    // The parent is traced: stopping the child would wake the parent's wait4 for a moment
    // (the kernel tells a parent of its child's stops), and a holder seen running ends a
    // chain: the chain from the child is the same cycle, not asserted here for that race.
    let p = trace(parent);
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 2, "{chain:#?}");
    assert_eq!(chain.cycle, Some(0), "{chain:#?}");
    let (wait, lock) = (&chain.links[0], &chain.links[1]);
    assert_eq!(wait.waiter, (parent, Some(parent)));
    assert_eq!(
        (wait.kind, wait.object.clone()),
        ("child", format!("child {child}"))
    );
    assert_eq!(wait.holders, [(child, None)]);
    assert_eq!(lock.waiter, (child, Some(child)));
    assert_eq!(
        (lock.kind, lock.object.clone()),
        ("file lock", format!("{path} (flock, write)"))
    );
    assert_eq!(lock.holders, [(parent, None)]);
    assert_eq!((wait.note.as_deref(), lock.note.as_deref()), (None, None));
    // One cycle, from the smaller pid's thread.
    assert_eq!(cycles(&p), [vec![parent.min(child), parent.max(child)]]);
    fam.fx.assert_running();
}

impl Family {
    fn holder(&self) -> u32 {
        self.extra
            .as_deref()
            .and_then(|l| l.strip_prefix("holder "))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no holder line: {:?}", self.extra))
    }
}

#[test]
fn child_blocked_on_its_own_mutex() {
    // The child is not the traced process: its mutex owner is read along the chain.
    let fam = Family::spawn("waitmutex", false, 202);
    let (parent, child, holder) = (fam.parent(), fam.child, fam.holder());
    let p = trace(parent);
    fam.fx.assert_running();
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 2, "{chain:#?}");
    let (first, second) = (&chain.links[0], &chain.links[1]);
    assert_eq!(first.waiter, (parent, Some(parent)));
    assert_eq!(
        (first.kind, first.object.as_str()),
        ("child", format!("child {child}").as_str())
    );
    assert_eq!(first.holders, [(child, None)]);
    assert_eq!(second.waiter, (child, Some(child)));
    assert_eq!(second.kind, "mutex");
    assert!(second.object.starts_with("mutex 0x"), "{second:?}");
    assert_eq!(second.holders, [(child, Some(holder))]);
    assert_eq!(second.holder_names, ["holder"]);
    assert_eq!(second.note, None);
    assert_eq!((chain.cycle, chain.end.as_deref()), (None, None));
    assert!(cycles(&p).is_empty());
}

#[test]
fn process_shared_mutex_held_by_another_process() {
    let fam = Family::spawn("pshared", false, 202);
    let holder = fam.holder();
    let p = trace(fam.child);
    fam.fx.assert_running();
    let t = &p.threads()[0];
    // The trace's own lock hint stays in-process: no owner among the child's threads.
    let hint = t.facts().lock.as_ref().expect("a lock hint");
    assert_eq!(hint.owner, None);
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let l = &chain.links[0];
    assert_eq!(l.waiter, (fam.child, Some(fam.child)));
    assert_eq!(l.kind, "mutex");
    assert_eq!(
        l.object,
        format!("mutex {:#x} (process-shared)", hint.address)
    );
    assert_eq!(chain.links[0].holders, [(fam.parent(), Some(holder))]);
    assert_eq!(l.holder_names[0], "holder");
    assert_eq!(l.note, None);
    assert!(cycles(&p).is_empty());
    // dump and its JSON name the owner in the other process.
    let (code, text, err) = common::run_cli(&["dump", &fam.child.to_string()]);
    assert_eq!(code, 0, "{err}");
    // The link is wider than 80 columns: its holders go on the line under it.
    let object = format!("→ mutex {:#x} (process-shared)", hint.address);
    let held = format!("→ held by pid {} tid {holder} \"holder\"", fam.parent());
    assert!(
        text.contains(&object) && text.contains(&held),
        "no {object:?} and {held:?} in:\n{text}"
    );
    let hint = format!(
        "  -- waiting on {:#x}: a process-shared mutex held in another process: pid {} tid {holder} (see the wait chain)",
        hint.address,
        fam.parent()
    );
    assert!(text.lines().any(|l| l == hint), "no {hint:?} in:\n{text}");
    let (code, json, err) = common::run_cli(&["dump", "--json", &fam.child.to_string()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let holders = &doc["threads"][0]["chain"]["links"][0]["holders"];
    assert_eq!(holders[0]["pid"], fam.parent(), "{holders}");
    assert_eq!(holders[0]["tid"], holder, "{holders}");
}

#[test]
fn rwlock_held_for_writing() {
    let fx = Fixture::spawn(chains_locks_bin(), &["rwlock"]);
    let line = fx.next_line();
    let holder: u32 = line
        .strip_prefix("holder ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no holder line: {line:?}"));
    let pid = fx.pid();
    // Fixture::spawn saw every thread asleep; the waiters sleep on the rwlock's futexes.
    for name in ["rw-writer", "rw-reader"] {
        let tid = common::tid_named(pid, name);
        wait_until(&format!("{name} in a futex wait"), || {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall"))
                .is_ok_and(|s| s.starts_with("202 "))
        });
    }
    let p = trace(pid);
    fx.assert_running();
    let mut rwlocks = Vec::new();
    for name in ["rw-writer", "rw-reader"] {
        let t = p
            .threads()
            .iter()
            .find(|t| t.name() == Some(name))
            .unwrap_or_else(|| panic!("no thread {name}"));
        let c = t
            .facts()
            .chain
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no chain: {:#?}", t.facts()));
        assert_eq!(c.links.len(), 1, "{name}: {c:#?}");
        let l = &c.links[0];
        assert_eq!(l.kind.as_str(), "rwlock", "{name}");
        assert_eq!((l.waiter.pid, l.waiter.tid), (pid, Some(t.id())));
        let holders: Vec<_> = l.holders.iter().map(|h| (h.pid, h.tid)).collect();
        assert_eq!(holders, [(pid, Some(holder))], "{name}");
        assert_eq!(l.holders[0].name, "rw-holder");
        assert_eq!(l.note, None);
        let address = l
            .object
            .strip_prefix("rwlock 0x")
            .and_then(|o| o.strip_suffix(", held for writing"))
            .and_then(|a| u64::from_str_radix(a, 16).ok())
            .unwrap_or_else(|| panic!("{name}: object {:?}", l.object));
        // The writer waits on `__writers_futex` (+12), the reader on `__wrphase_futex` (+8).
        let hint = t.facts().lock.as_ref().expect("a futex wait");
        let offset = if name == "rw-writer" { 12 } else { 8 };
        assert_eq!(hint.address, address + offset, "{name}");
        rwlocks.push(address);
    }
    assert_eq!(rwlocks[0], rwlocks[1]);
    assert!(cycles(&p).is_empty());
}

#[test]
fn process_shared_rwlock_held_by_another_process() {
    let fam = Family::spawn("pshared-rwlock", false, 202);
    let holder = fam.holder();
    let p = trace(fam.child);
    fam.fx.assert_running();
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let l = &chain.links[0];
    assert_eq!(l.waiter, (fam.child, Some(fam.child)));
    assert_eq!(l.kind, "rwlock");
    let address = p.threads()[0].facts().syscall.as_ref().unwrap().args[0];
    // The writers' futex word is 12 bytes into the lock.
    assert_eq!(
        l.object,
        format!(
            "rwlock {:#x} (process-shared), held for writing",
            address - 12
        )
    );
    assert_eq!(l.holders, [(fam.parent(), Some(holder))]);
    assert_eq!(l.holder_names, ["rw-holder"]);
    assert_eq!(l.note, None);
    assert!(cycles(&p).is_empty());
}

#[test]
fn shared_semaphore_names_who_can_post_it_and_who_waits_too() {
    let fam = Family::spawn("sem", false, 202);
    let other: u32 = fam
        .extra
        .as_deref()
        .and_then(|l| l.strip_prefix("other "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no other line: {:?}", fam.extra));
    let _other = common::KilledOnDrop(vec![other]);
    wait_until("the other child in a futex wait", || {
        std::fs::read_to_string(format!("/proc/{other}/syscall"))
            .is_ok_and(|s| s.starts_with("202 "))
    });
    let p = trace(fam.child);
    fam.fx.assert_running();
    let chain = main_chain(&p);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let l = &chain.links[0];
    assert_eq!(l.waiter, (fam.child, Some(fam.child)));
    assert_eq!(l.kind, "shared futex");
    let address = p.threads()[0].facts().syscall.as_ref().unwrap().args[0];
    assert!(
        l.object
            .starts_with(&format!("futex {address:#x} in shared memory (")),
        "{l:?}"
    );
    // The parent maps it and waits on nothing of it: it can post; the sibling waits too.
    assert_eq!(l.holders, [(fam.parent(), None)]);
    assert_eq!(
        l.note.as_deref(),
        Some(
            format!(
                "also waiting on it: pid {other} tid {other}; it records no owner: these \
                 processes map it and can wake it"
            )
            .as_str()
        )
    );
    let (code, text, err) = common::run_cli(&["dump", &fam.child.to_string()]);
    assert_eq!(code, 0, "{err}");
    let woken = format!("may be woken by pid {}", fam.parent());
    assert!(text.contains(&woken), "no {woken:?} in:\n{text}");
}
