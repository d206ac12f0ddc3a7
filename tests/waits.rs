//! What blocked threads wait for: decoded system calls, mutex owners and deadlocks, against a
//! C fixture (tests/fixtures/deadlock.c) whose threads block in known ways.

mod common;

use common::{Fixture, deadlock_bin};
use rstack_tui::{Process, Thread};

fn thread<'a>(p: &'a Process, name: &str) -> &'a Thread {
    p.threads()
        .iter()
        .find(|t| t.name() == Some(name))
        .unwrap_or_else(|| panic!("no thread {name} in {:#?}", p.threads()))
}

fn owner(t: &Thread) -> Option<u32> {
    t.facts().lock.as_ref().and_then(|l| l.owner)
}

fn check(p: &Process) {
    let a = thread(p, "lock-a");
    let b = thread(p, "lock-b");
    let holder = thread(p, "holder");
    let waiter = thread(p, "waiter");
    let condwait = thread(p, "condwait");
    let reader = thread(p, "reader");

    let mut cycle = vec![a.id(), b.id()];
    cycle.sort();
    assert_eq!(p.deadlocks(), [cycle], "deadlocks");

    assert_eq!(
        owner(a),
        Some(b.id()),
        "lock-a waits for lock-b: {:?}",
        a.facts()
    );
    assert_eq!(
        owner(b),
        Some(a.id()),
        "lock-b waits for lock-a: {:?}",
        b.facts()
    );
    assert_eq!(
        owner(waiter),
        Some(holder.id()),
        "waiter waits for holder: {:?}",
        waiter.facts()
    );
    let hint = waiter.facts().lock.as_ref().unwrap();
    assert_eq!(hint.note, None);
    let wait = waiter.facts().wait.as_deref().unwrap_or_default();
    assert!(wait.starts_with("futex_wait(0x"), "waiter's wait: {wait:?}");
    assert_eq!(wait, format!("futex_wait({:#x})", hint.address));

    let cond = condwait
        .facts()
        .lock
        .as_ref()
        .unwrap_or_else(|| panic!("condwait has no lock hint: {:?}", condwait.facts()));
    assert_eq!(cond.owner, None, "condwait: {cond:?}");
    assert!(
        cond.note.as_deref().is_some_and(|n| !n.is_empty()),
        "{cond:?}"
    );
    let cond_wait = condwait.facts().wait.as_deref().unwrap_or_default();
    assert!(cond_wait.starts_with("futex_wait"), "{cond_wait:?}");

    let read = reader.facts().wait.as_deref().unwrap_or_default();
    assert!(
        read.starts_with("read(fd ") && read.contains(" → pipe:[") && read.ends_with("])"),
        "reader's wait: {read:?}"
    );
    assert_eq!(reader.facts().lock, None);

    assert_eq!(holder.facts().wait.as_deref(), Some("pause()"));
    assert_eq!(holder.facts().lock, None);
    let main = &p.threads()[0];
    assert_eq!(main.facts().wait.as_deref(), Some("pause()"));
}

#[test]
fn deadlock_and_owners_rolling() {
    let fx = Fixture::spawn(deadlock_bin(), &[]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    fx.assert_running();
    check(&p);
}

#[test]
fn deadlock_and_owners_snapshot() {
    let fx = Fixture::spawn(deadlock_bin(), &[]);
    let p = rstack_tui::TraceOptions::new()
        .snapshot(true)
        .trace(fx.pid())
        .expect("trace");
    fx.assert_running();
    check(&p);
}
