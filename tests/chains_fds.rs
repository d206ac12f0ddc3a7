//! Wait chains through file descriptors: a pipe, a FIFO, a UNIX socket pair, a UNIX
//! connection not yet accepted, a TCP loopback connection and an epoll set, each between
//! processes that tests/fixtures/chains_fds.c starts, followed to the exact peer process.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, KilledOnDrop, tid_named, wait_until};
use rstack_tui::Process;
use rstack_tui::tracer::{LinkKind, Party, WaitChain, WaitLink};

fn bin() -> &'static Path {
    common::chains_fds_bin()
}

/// The one child of `fx`, once its thread `tid` (the child itself when None) blocks in
/// system call `syscall`.
fn child_blocked_in(fx: &Fixture, syscall: i64, thread: Option<&str>) -> (u32, KilledOnDrop) {
    let mut pid = 0;
    wait_until("the fixture's child", || {
        let list = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", fx.pid()))
            .unwrap_or_default();
        pid = list
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pid != 0
    });
    let children = KilledOnDrop(vec![pid]);
    let tid = thread.map_or(pid, |name| {
        wait_until("the child's thread", || {
            std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|d| d.count() > 1)
        });
        tid_named(pid, name)
    });
    wait_blocked_in(pid, tid, &[syscall]);
    (pid, children)
}

/// Waits until thread `tid` of `pid` sleeps in one of system calls `calls`.
fn wait_blocked_in(pid: u32, tid: u32, calls: &[i64]) {
    wait_until(
        &format!("thread {tid} of {pid} to block in {calls:?}"),
        || {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).is_ok_and(|s| {
                s.split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .is_some_and(|n: i64| calls.contains(&n))
                    && std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).is_ok_and(
                        |st| {
                            st.rsplit(')')
                                .next()
                                .unwrap_or("")
                                .trim_start()
                                .starts_with('S')
                        },
                    )
            })
        },
    );
}

/// The chain of the thread of `p` whose id is `tid`.
fn chain_of(p: &Process, tid: u32) -> &WaitChain {
    let t = p
        .threads()
        .iter()
        .find(|t| t.id() == tid)
        .unwrap_or_else(|| panic!("no thread {tid} in {:#?}", p.threads()));
    t.facts()
        .chain
        .as_ref()
        .unwrap_or_else(|| panic!("thread {tid} has no chain: {:#?}", t.facts()))
}

/// The inode in the fd link `/proc/PID/fd/FD` (`pipe:[N]`, `socket:[N]`).
fn inode(pid: u32, fd: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
    let link = link.to_string_lossy();
    link.rsplit('[')
        .next()
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no inode in {link}"))
}

/// The inodes of the sockets `pid` holds.
fn sockets_of(pid: u32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The local and remote ports of socket `ino` in `pid`'s namespace's `table` ("tcp", "udp").
fn ports(pid: u32, table: &str, ino: u64) -> (u16, u16) {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
    let port = |a: &str| u16::from_str_radix(a.rsplit(':').next().unwrap(), 16).unwrap();
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(9).and_then(|i| i.parse().ok()) == Some(ino))
        .map(|f| (port(f[1]), port(f[2])))
        .unwrap_or_else(|| panic!("no socket {ino} in\n{table}"))
}

/// The process party `pid` named `name`, asleep (compared without what it waits in: see
/// [`who`]).
fn process(pid: u32, name: &str) -> Party {
    Party {
        pid,
        tid: None,
        name: name.into(),
        state: Some('S'),
        wait: None,
    }
}

/// The parties without what they wait in (a holder process of one thread has its thread's
/// wait; the waits are other tests' subject).
fn who(parties: &[Party]) -> Vec<Party> {
    parties
        .iter()
        .map(|p| Party {
            wait: None,
            ..p.clone()
        })
        .collect()
}

/// The argument of the fixture's read: fd of the wait text `read(fd N → ...)`.
fn waited_fd(wait: &str) -> i32 {
    wait.split_once("fd ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no fd in {wait:?}"))
}

#[test]
fn pipe_reader_to_a_writer_stuck_on_a_mutex() {
    let fx = Fixture::spawn(bin(), &["pipe"]);
    let (writer, _children) = child_blocked_in(&fx, 202, None);
    let holder = tid_named(writer, "holder");
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    fx.assert_running();
    let chain = chain_of(&p, fx.pid());
    let link = &chain.links[0];
    let wait = link.waiter.wait.clone().unwrap_or_default();
    let pipe = inode(fx.pid(), waited_fd(&wait));
    assert_eq!(link.kind, LinkKind::Pipe, "{chain:#?}");
    assert_eq!(link.waiter.tid, Some(fx.pid()));
    assert_eq!(link.object, format!("pipe:[{pipe}]"));
    assert_eq!(
        who(&link.holders),
        [process(writer, "writer")],
        "{chain:#?}"
    );
    assert_eq!(link.note, None);
    assert_eq!(chain.cycle, None);
    // The writer's thread stuck on the mutex is where the chain goes on: a mutex link to the
    // third thread, which holds it and sleeps.
    assert_eq!(chain.links.len(), 2, "{chain:#?}");
    let l = &chain.links[1];
    assert_eq!(l.kind, LinkKind::Mutex, "{chain:#?}");
    assert_eq!((l.waiter.pid, l.waiter.tid), (writer, Some(writer)));
    assert_eq!(l.waiter.name, "writer");
    assert_eq!(l.holders.len(), 1, "{chain:#?}");
    assert_eq!(
        (
            l.holders[0].pid,
            l.holders[0].tid,
            l.holders[0].name.as_str()
        ),
        (writer, Some(holder), "holder")
    );
    // dump and its JSON name the same links.
    let (code, text, err) = common::run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("→ pipe:[{pipe}]"))
            && text.contains(&format!("pid {writer} tid {writer} \"writer\" → mutex 0x"))
            && text.contains(&format!("held by pid {writer} tid {holder} \"holder\"")),
        "{text}"
    );
    let (code, json, err) = common::run_cli(&["dump", "--json", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let links = &doc["threads"][0]["chain"]["links"];
    assert_eq!(links[0]["kind"], "pipe", "{links}");
    assert_eq!(links[0]["holders"][0]["pid"], writer, "{links}");
    assert_eq!(links[1]["kind"], "mutex", "{links}");
    assert_eq!(links[1]["holders"][0]["tid"], holder, "{links}");
}

#[test]
fn fifo_reader_to_its_writer() {
    let dir = tempdir();
    let fifo = dir.join("the.fifo");
    let fx = Fixture::spawn(bin(), &["fifo", fifo.to_str().unwrap()]);
    let (writer, _children) = child_blocked_in(&fx, 34, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Pipe);
    assert_eq!(link.object, fifo.display().to_string());
    assert_eq!(who(&link.holders), [process(writer, "fifo-writer")]);
    assert_eq!(link.note, None);
}

#[test]
fn unix_socket_pair_names_the_peer() {
    unix_socket_pair(&["unix"]);
}

/// sock_diag answers for the namespace its socket was made in: one is made inside.
#[test]
fn unix_socket_pair_in_another_network_namespace_names_the_peer() {
    unix_socket_pair(&["netns", "unix"]);
}

fn unix_socket_pair(args: &[&str]) {
    let fx = Fixture::spawn(bin(), args);
    let (peer, _children) = child_blocked_in(&fx, 34, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    let mine = inode(fx.pid(), waited_fd(link.waiter.wait.as_deref().unwrap()));
    let theirs = sockets_of(peer);
    assert_eq!(theirs.len(), 1, "the peer holds one socket: {theirs:?}");
    let theirs = theirs[0];
    assert_eq!(link.kind, LinkKind::UnixSocket);
    assert_eq!(link.object, format!("socket:[{mine}] → socket:[{theirs}]"));
    assert_eq!(who(&link.holders), [process(peer, "unix-peer")]);
    assert_eq!(link.note, None);
}

#[test]
fn unix_client_waits_on_the_listener_that_did_not_accept() {
    let dir = tempdir();
    let path = dir.join("listen.sock");
    let fx = Fixture::spawn(bin(), &["unixq", path.to_str().unwrap()]);
    let (client, _children) = child_blocked_in(&fx, 0, None);
    let p = rstack_tui::trace(client).expect("trace");
    let chain = chain_of(&p, client);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    let mine = inode(client, waited_fd(link.waiter.wait.as_deref().unwrap()));
    assert_eq!(link.kind, LinkKind::UnixListener);
    assert_eq!(
        link.object,
        format!("socket:[{mine}] → {} (listening)", path.display())
    );
    let fixture_name = "chainsfds";
    assert_eq!(who(&link.holders), [process(fx.pid(), fixture_name)]);
    assert_eq!(
        link.note.as_deref(),
        Some(
            format!(
                "the connection waits in {}'s queue: not accepted yet",
                path.display()
            )
            .as_str()
        )
    );
}

#[test]
fn tcp_loopback_names_the_peer_and_addresses() {
    let fx = Fixture::spawn(bin(), &["tcp"]);
    let (peer, _children) = child_blocked_in(&fx, 34, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Tcp);
    assert_eq!(who(&link.holders), [process(peer, "tcp-peer")]);
    assert_eq!(link.note, None);
    // The ports of both ends, read back from the table by each end's socket inode.
    let mine = inode(fx.pid(), waited_fd(link.waiter.wait.as_deref().unwrap()));
    let (local, remote) = ports(fx.pid(), "tcp", mine);
    let theirs = sockets_of(peer);
    assert_eq!(theirs.len(), 1, "the peer holds one socket: {theirs:?}");
    assert_eq!(ports(peer, "tcp", theirs[0]), (remote, local));
    assert_eq!(
        link.object,
        format!("127.0.0.1:{local} → 127.0.0.1:{remote}")
    );
}

/// The same in a network namespace of its own: sock_diag is asked from inside it.
#[test]
fn tcp_loopback_in_another_network_namespace_names_the_peer() {
    let fx = Fixture::spawn(bin(), &["netns", "tcp"]);
    let (peer, _children) = child_blocked_in(&fx, 34, None);
    assert_ne!(
        std::fs::read_link(format!("/proc/{}/ns/net", fx.pid())).unwrap(),
        std::fs::read_link("/proc/self/ns/net").unwrap()
    );
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let link = &chain_of(&p, fx.pid()).links[0];
    assert_eq!(link.kind, LinkKind::Tcp);
    assert_eq!(who(&link.holders), [process(peer, "tcp-peer")]);
    assert_eq!(link.note, None);
    let mine = inode(fx.pid(), waited_fd(link.waiter.wait.as_deref().unwrap()));
    let (local, remote) = ports(fx.pid(), "tcp", mine);
    assert_eq!(
        link.object,
        format!("127.0.0.1:{local} → 127.0.0.1:{remote}")
    );
}

/// A connection the listener has not accepted: its other end has no file yet, so the link
/// names the process holding the listener, and says why.
#[test]
fn tcp_connection_not_accepted_names_the_listener_holder() {
    let fx = Fixture::spawn(bin(), &["tcpq"]);
    let (listener, _children) = {
        let mut pid = 0;
        wait_until("the listener child", || {
            pid = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", fx.pid()))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            pid != 0
        });
        (pid, KilledOnDrop(vec![pid]))
    };
    wait_blocked_in(fx.pid(), fx.pid(), &[45]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Tcp);
    assert_eq!(who(&link.holders), [process(listener, "tcp-listener")]);
    let mine = inode(fx.pid(), waited_fd(link.waiter.wait.as_deref().unwrap()));
    let (local, remote) = ports(fx.pid(), "tcp", mine);
    assert_eq!(
        link.object,
        format!("127.0.0.1:{local} → 127.0.0.1:{remote}")
    );
    assert_eq!(
        link.note.as_deref(),
        Some(
            format!(
                "the connection waits in the queue of the listener on 127.0.0.1:{remote}: not accepted yet"
            )
            .as_str()
        )
    );
}

#[test]
fn two_processes_reading_each_other_over_a_socket_are_a_cycle() {
    let fx = Fixture::spawn(bin(), &["cycle"]);
    let (peer, _children) = child_blocked_in(&fx, 0, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 2, "{chain:#?}");
    assert_eq!(chain.cycle, Some(0), "{chain:#?}");
    let (a, b) = (&chain.links[0], &chain.links[1]);
    assert_eq!(
        (a.kind, b.kind),
        (LinkKind::UnixSocket, LinkKind::UnixSocket)
    );
    assert_eq!((a.waiter.pid, a.waiter.tid), (fx.pid(), Some(fx.pid())));
    assert_eq!(who(&a.holders), [process(peer, "cycle-peer")]);
    assert_eq!((b.waiter.pid, b.waiter.tid), (peer, Some(peer)));
    assert_eq!(b.waiter.name, "cycle-peer");
    assert_eq!(who(&b.holders), [process(fx.pid(), "chainsfds")]);
    // The two ends, each link's object from its waiter's side.
    let (mine, theirs) = a.object.split_once(" → ").unwrap();
    assert_eq!(b.object, format!("{theirs} → {mine}"));
    // One cycle, starting at the smaller tid (the parent's: it forked the child).
    assert_eq!(p.wait_cycles().len(), 1, "{:#?}", p.wait_cycles());
    let cycle = &p.wait_cycles()[0];
    let waiters: Vec<_> = cycle.links.iter().map(|l| l.waiter.tid).collect();
    assert_eq!(waiters, [Some(fx.pid()), Some(peer)]);
}

#[test]
fn udp_connected_socket_names_the_peer() {
    let fx = Fixture::spawn(bin(), &["udp"]);
    let (peer, _children) = child_blocked_in(&fx, 34, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Udp);
    assert_eq!(who(&link.holders), [process(peer, "udp-peer")]);
    assert_eq!(link.note, None);
    let mine = inode(fx.pid(), waited_fd(link.waiter.wait.as_deref().unwrap()));
    let (local, remote) = ports(fx.pid(), "udp", mine);
    let theirs = sockets_of(peer);
    assert_eq!(theirs.len(), 1, "the peer holds one socket: {theirs:?}");
    assert_eq!(ports(peer, "udp", theirs[0]), (remote, local));
    assert_eq!(
        link.object,
        format!("127.0.0.1:{local} → 127.0.0.1:{remote}")
    );
}

/// The one link of the chain of `pid`'s main thread: an epoll set of one pipe.
fn one_pipe_epoll_link(p: &Process, pid: u32) -> &WaitLink {
    let chain = chain_of(p, pid);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Epoll);
    assert!(
        link.object.starts_with("epoll of 1 fds: pipe:["),
        "{}",
        link.object
    );
    link
}

#[test]
fn epoll_set_names_the_pipe_writer() {
    let fx = Fixture::spawn(bin(), &["epoll"]);
    let (writer, _children) = child_blocked_in(&fx, 34, None);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let link = one_pipe_epoll_link(&p, fx.pid());
    assert_eq!(who(&link.holders), [process(writer, "ep-writer")]);
    assert_eq!(link.note, None);
}

/// An event loop's wake-up pipe: the set's only other end is the waiter's own. Not followed
/// (a process does not wait for itself), and not called "nobody" either: the note says whose.
#[test]
fn epoll_set_whose_other_end_is_its_own_says_so() {
    let fx = Fixture::spawn(bin(), &["epoll-self"]);
    // epoll_wait or epoll_pwait, as libc makes it.
    wait_blocked_in(fx.pid(), fx.pid(), &[232, 281]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let link = one_pipe_epoll_link(&p, fx.pid());
    assert!(link.holders.is_empty(), "{:?}", link.holders);
    assert_eq!(
        link.note.as_deref(),
        Some("only its own process holds the other ends")
    );
    let (code, text, err) = common::run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("(only its own process holds the other ends)"),
        "{text}"
    );
}

#[test]
fn poll_and_select_name_the_pipe_writer() {
    // poll's array also holds stdin, a pipe from this test (whose writer is this process).
    for (mode, writer_name, prefix) in [
        ("poll", "poll-writer", "poll of 2 fds: "),
        ("select", "select-writer", "select of 1 fds: pipe:["),
    ] {
        let fx = Fixture::spawn(bin(), &[mode]);
        let (writer, _children) = child_blocked_in(&fx, 34, None);
        let p = rstack_tui::trace(fx.pid()).expect("trace");
        let chain = chain_of(&p, fx.pid());
        assert_eq!(chain.links.len(), 1, "{mode}: {chain:#?}");
        let link = &chain.links[0];
        assert_eq!(link.kind, LinkKind::Epoll, "{mode}");
        assert!(link.object.starts_with(prefix), "{mode}: {}", link.object);
        let mut pids: Vec<u32> = link.holders.iter().map(|h| h.pid).collect();
        pids.sort();
        let mut want = vec![writer];
        if mode == "poll" {
            want.push(std::process::id());
            want.sort();
        }
        assert_eq!(pids, want, "{mode}: {chain:#?}");
        let w = link.holders.iter().find(|h| h.pid == writer).unwrap();
        assert_eq!(
            who(std::slice::from_ref(w)),
            [process(writer, writer_name)],
            "{mode}"
        );
    }
}

#[test]
fn a_pipe_held_only_by_its_own_process_is_not_followed() {
    let fx = Fixture::spawn(bin(), &["self"]);
    let reader = tid_named(fx.pid(), "self-reader");
    wait_blocked_in(fx.pid(), reader, &[0]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, reader);
    assert_eq!(chain.links.len(), 1, "{chain:#?}");
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Pipe);
    assert_eq!(who(&link.holders), [process(fx.pid(), "chainsfds")]);
    assert_eq!(chain.cycle, None);
    assert_eq!(
        chain.end.as_deref(),
        Some("the other end is held by its own process")
    );
    assert!(p.wait_cycles().is_empty(), "{:#?}", p.wait_cycles());
}

/// A pipe made before a fork: the reader's own process holds the write end too, but so does
/// the forked child, which is who would write. The child is named with it (the nearest holder,
/// the waiter's own process, does not end the search), and the chain follows it.
#[test]
fn a_pipe_shared_with_a_forked_child_names_the_child() {
    let fx = Fixture::spawn(bin(), &["inherited"]);
    let (child, _children) = child_blocked_in(&fx, 34, None);
    wait_blocked_in(fx.pid(), fx.pid(), &[0]);
    let p = rstack_tui::trace(fx.pid()).expect("trace");
    let chain = chain_of(&p, fx.pid());
    let link = &chain.links[0];
    assert_eq!(link.kind, LinkKind::Pipe);
    // The child first: a short view names the first holder.
    assert_eq!(link.holders[0].pid, child, "{chain:#?}");
    let mut holders = who(&link.holders);
    holders.sort_by_key(|p| p.pid);
    let mut want = vec![process(fx.pid(), "chainsfds"), process(child, "inh-writer")];
    want.sort_by_key(|p| p.pid);
    assert_eq!(holders, want, "{chain:#?}");
    // Followed into the child, which pauses.
    assert!(
        chain
            .links
            .iter()
            .all(|l| l.waiter.pid == fx.pid() || l.waiter.pid == child),
        "{chain:#?}"
    );
    let (code, text, err) = common::run_cli(&["dump", &fx.pid().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("pid {child} \"inh-writer\"")),
        "{text}"
    );
}

/// A fresh directory under the test's temp dir.
fn tempdir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "chains-fds-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
