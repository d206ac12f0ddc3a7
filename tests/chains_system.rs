//! Wait chains across processes, end to end, on tests/fixtures/waitchains.c: two processes
//! deadlocked through a UNIX socket and a `flock` (a cycle of two links across two processes),
//! and a parent in `waitpid` for a child blocked reading a loopback TCP connection whose peer
//! sleeps in another process. Each checked through the library (every link's pids, tids,
//! kinds) and through the real `dump` (text and JSON) as a user runs it.

mod common;

use common::{Fixture, printed_pid as child_pid, run_cli, waitchains_bin as bin};
use rstack_tui::{LinkKind, Process, WaitChain};

/// The chain of the process's only thread.
fn only_chain(p: &Process) -> &WaitChain {
    assert_eq!(p.threads().len(), 1);
    p.threads()[0]
        .facts()
        .chain
        .as_ref()
        .unwrap_or_else(|| panic!("no chain: {:?}", p.threads()[0].facts()))
}

/// (waiter pid, waiter tid, kind, first holder's pid) of each link.
fn shape(c: &WaitChain) -> Vec<(u32, Option<u32>, LinkKind, Option<u32>)> {
    c.links
        .iter()
        .map(|l| {
            (
                l.waiter.pid,
                l.waiter.tid,
                l.kind,
                l.holders.first().map(|h| h.pid),
            )
        })
        .collect()
}

#[test]
fn a_socket_and_a_flock_deadlock_two_processes() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chains-system-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join("app.lock");
    let fx = Fixture::spawn(bin(), &["sockflock", lock.to_str().unwrap()]);
    let a = fx.pid();
    let b = child_pid(&fx, "locker-b");
    let p = rstack_tui::trace(a).unwrap();
    let chain = only_chain(&p);
    assert_eq!(
        shape(chain),
        [
            (a, Some(a), LinkKind::UnixSocket, Some(b)),
            (b, Some(b), LinkKind::FileLock, Some(a)),
        ],
        "{chain:#?}"
    );
    assert_eq!(chain.cycle, Some(0), "{chain:#?}");
    assert_eq!(chain.links[0].waiter.name, "holder-a");
    assert_eq!(chain.links[1].waiter.name, "locker-b");
    assert!(
        chain.links[1].object.contains(lock.to_str().unwrap()),
        "{:?}",
        chain.links[1].object
    );
    // One cycle across the two processes, from the smaller tid.
    assert_eq!(p.wait_cycles().len(), 1, "{:#?}", p.wait_cycles());
    let cycle = &p.wait_cycles()[0];
    let mut waiters: Vec<u32> = cycle.links.iter().filter_map(|l| l.waiter.tid).collect();
    assert_eq!(waiters[0], a.min(b));
    waiters.sort();
    assert_eq!(waiters, [a.min(b), a.max(b)]);

    // The same through the real binary: the chain under the thread, the deadlock line.
    let (code, text, err) = run_cli(&["dump", &a.to_string()]);
    assert_eq!(code, 0, "{err}");
    let deadlock = text
        .lines()
        .find(|l| l.starts_with("deadlock: "))
        .unwrap_or_else(|| panic!("no deadlock line: {text}"));
    assert!(
        deadlock.contains(&format!("pid {b} tid {b} \"locker-b\" waits on file lock"))
            && deadlock.contains(&format!("tid {a} \"holder-a\" waits on unix socket")),
        "{deadlock}"
    );
    assert!(text.contains("  -- wait chain:"), "{text}");
    let (code, json, err) = run_cli(&["dump", "--json", &a.to_string()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let links = &doc["threads"][0]["chain"]["links"];
    assert_eq!(links[0]["kind"], "unix socket", "{links}");
    assert_eq!(links[0]["holders"][0]["pid"], b, "{links}");
    assert_eq!(links[1]["kind"], "file lock", "{links}");
    assert_eq!(doc["threads"][0]["chain"]["cycle"], 0);
    assert_eq!(
        doc["wait_cycles"].as_array().map(Vec::len),
        Some(1),
        "{doc}"
    );
    fx.assert_running();
    drop(fx);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_parent_waits_for_a_child_that_reads_from_a_tcp_peer() {
    let fx = Fixture::spawn(bin(), &["waittcp"]);
    let parent = fx.pid();
    let server = child_pid(&fx, "tcp-server");
    let client = child_pid(&fx, "tcp-client");
    let p = rstack_tui::trace(parent).unwrap();
    let chain = only_chain(&p);
    assert_eq!(
        shape(chain),
        [
            (parent, Some(parent), LinkKind::Child, Some(client)),
            (client, Some(client), LinkKind::Tcp, Some(server)),
        ],
        "{chain:#?}"
    );
    assert_eq!(chain.cycle, None);
    // The server sleeps in pause(): the chain ends there, at a holder that waits on nobody.
    let last = &chain.links[1].holders[0];
    assert_eq!(last.name, "tcp-server");
    assert_eq!(last.state, Some('S'));
    assert_eq!(last.wait.as_deref(), Some("pause()"));
    let object = &chain.links[1].object;
    assert!(
        object.starts_with("127.0.0.1:") && object.contains(" → 127.0.0.1:"),
        "{object}"
    );
    assert!(p.wait_cycles().is_empty());

    let (code, text, err) = run_cli(&["dump", &parent.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("tid {parent} \"tcp-parent\" → child"))
            && text.contains(&format!("pid {client} tid {client} \"tcp-client\" → tcp ")),
        "{text}"
    );
    let (code, json, err) = run_cli(&["dump", "--json", &parent.to_string()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let links = &doc["threads"][0]["chain"]["links"];
    assert_eq!(links[0]["kind"], "child", "{links}");
    assert_eq!(links[0]["holders"][0]["pid"], client, "{links}");
    assert_eq!(links[1]["kind"], "tcp", "{links}");
    assert_eq!(links[1]["waiter"]["tid"], client, "{links}");
    assert_eq!(links[1]["holders"][0]["pid"], server, "{links}");
    assert_eq!(links[1]["holders"][0]["wait"], "pause()", "{links}");
    fx.assert_running();
}
