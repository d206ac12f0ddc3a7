//! What blocked threads wait for: decoded system calls, mutex owners and deadlocks, against a
//! C fixture (tests/fixtures/deadlock.c) whose threads block in known ways, and its musl
//! counterpart (tests/fixtures/musl_deadlock.c, static and dynamic).

mod common;

use common::{Fixture, deadlock_bin, musl_deadlock_bin};
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

/// musl: the owners of error-checking, recursive and priority-inheritance mutexes, the cycle
/// through two error-checking ones, and the default mutexes' deadlock said to have no owner.
fn check_musl(p: &Process, libc_known: bool) {
    let a = thread(p, "lock-a");
    let b = thread(p, "lock-b");
    let mut cycle = vec![a.id(), b.id()];
    cycle.sort();
    assert_eq!(p.deadlocks(), [cycle], "deadlocks");
    assert_eq!(owner(a), Some(b.id()), "lock-a: {:?}", a.facts());
    assert_eq!(owner(b), Some(a.id()), "lock-b: {:?}", b.facts());
    for (waiter, holder) in [("waiter", "holder"), ("pi-waiter", "pi-holder")] {
        let (w, h) = (thread(p, waiter), thread(p, holder));
        assert_eq!(owner(w), Some(h.id()), "{waiter}: {:?}", w.facts());
        let hint = w.facts().lock.as_ref().unwrap();
        assert_eq!(hint.note, None, "{waiter}");
        assert_eq!(h.facts().wait.as_deref(), Some("pause()"), "{holder}");
    }
    // The lock word is 4 bytes into a musl mutex: the hint names the futex word waited on.
    let w = thread(p, "waiter");
    let hint = w.facts().lock.as_ref().unwrap();
    assert_eq!(
        w.facts().wait.as_deref(),
        Some(format!("futex_wait({:#x})", hint.address).as_str())
    );
    let pi = thread(p, "pi-waiter")
        .facts()
        .wait
        .clone()
        .unwrap_or_default();
    assert!(pi.starts_with("futex_lock_pi(0x"), "{pi}");
    // A default mutex records no owner: no owner, no guessed cycle, and said so when the
    // process maps musl's libc (a static executable does not: then only "no recorded owner").
    for name in ["norm-a", "norm-b"] {
        let t = thread(p, name);
        let hint = t.facts().lock.as_ref().unwrap();
        assert_eq!(hint.owner, None, "{name}");
        let note = hint.note.as_deref().unwrap_or_default();
        let expected = if libc_known {
            "a musl default (normal) mutex, held"
        } else {
            "not a mutex that records its owner"
        };
        assert!(note.starts_with(expected), "{name}: {note}");
    }
    let cond = thread(p, "condwait").facts().lock.clone().unwrap();
    assert_eq!(cond.owner, None);
    assert!(cond.note.is_some());
}

#[test]
fn musl_static_deadlock_and_owners() {
    for snapshot in [false, true] {
        let fx = Fixture::spawn(musl_deadlock_bin(true), &[]);
        let p = rstack_tui::TraceOptions::new()
            .snapshot(snapshot)
            .trace(fx.pid())
            .expect("trace");
        fx.assert_running();
        check_musl(&p, false);
    }
}

#[test]
fn musl_dynamic_deadlock_and_owners() {
    let fx = Fixture::spawn(musl_deadlock_bin(false), &[]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    fx.assert_running();
    check_musl(&p, true);
    // dump names the cycle and each waiter's owner.
    let text = rstack_tui::dump::to_text(&p);
    let (a, b) = (thread(&p, "lock-a"), thread(&p, "lock-b"));
    let ((lo, lo_name), (hi, hi_name)) = if a.id() < b.id() {
        ((a.id(), "lock-a"), (b.id(), "lock-b"))
    } else {
        ((b.id(), "lock-b"), (a.id(), "lock-a"))
    };
    let line = format!("deadlock: {lo} \"{lo_name}\" → {hi} \"{hi_name}\" → {lo}");
    assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    let held = format!("held by {} \"lock-b\"", b.id());
    assert!(text.contains(&held), "{held:?} in\n{text}");
    assert_eq!(text.matches("deadlock: ").count(), 1, "{text}");
}
