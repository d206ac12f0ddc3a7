//! Wait chains in the inspector, end to end: the real binary in tmux on a fixture whose thread
//! waits for a mutex held by a thread that waits for a second mutex (tests/fixtures/lockchain.c).
//! The chain view (`C`) lists both links; Enter on the chain and `H` on a thread follow it to
//! the holder; Backspace returns to where each follow left (the view and the thread).

mod common;

use common::panes::threads_pane;
use common::tmux::{Reaper, Tmux};
use common::{Fixture, lockchain_bin, printed_pid as child_pid, tid_named, waitchains_bin};

const BIN: &str = env!("CARGO_BIN_EXE_rstack-tui");

/// The tid in the frames pane's title (" Stack of TID ...").
fn stack_tid(screen: &str) -> Option<u32> {
    let line = screen.lines().find(|l| l.contains(" Stack of "))?;
    let rest = &line[line.find(" Stack of ")? + " Stack of ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The threads pane's line of thread `tid` (or the view in its place).
fn row_of(screen: &str, tid: u32) -> Option<String> {
    threads_pane(screen)
        .into_iter()
        .map(|(_, l)| l)
        .find(|l| l.split_whitespace().next() == Some(tid.to_string().as_str()))
}

#[test]
fn the_chain_view_lists_both_links_and_follow_and_return_move_along_it() {
    let fx = Fixture::spawn(lockchain_bin(), &[]);
    let pid = fx.pid();
    let (root, middle, waiter) = (
        tid_named(pid, "c-root"),
        tid_named(pid, "c-middle"),
        tid_named(pid, "c-waiter"),
    );
    let pid_text = pid.to_string();
    let tmux = Tmux::exec(80, 24, &[BIN, &pid_text]);
    let reaper = Reaper(tmux.pane_pid());

    // The WAITING ON column names each waiter's holder.
    let screen = tmux.wait_screen("the holders in the wait column", |s| {
        row_of(s, waiter).is_some_and(|l| l.contains(&format!("held by {middle}")))
            && row_of(s, middle).is_some_and(|l| l.contains(&format!("held by {root}")))
    });
    assert!(
        row_of(&screen, root).is_some_and(|l| !l.contains("held by")),
        "{screen}"
    );

    // The chain view: one chain (c-middle's is its tail), root blocker first, both links.
    tmux.send_keys(&["C"]);
    let screen = tmux.wait_for(" Wait chains (1, longest first) ");
    let pane: Vec<String> = threads_pane(&screen).into_iter().map(|(_, l)| l).collect();
    // At 80 columns the heading's end ("from tid N \"c-waiter\"") is cut: the root comes first.
    let head = format!("blocked by tid {root} \"c-root\" (S sleeping, in pause()): 2 links, from");
    let at = pane
        .iter()
        .position(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no {head:?}:\n{screen}"));
    let link = |i: usize, to: u32, name: &str| {
        let l = pane.get(at + i).map(|l| l.trim_end()).unwrap_or_default();
        let want = format!(" → tid {to} \"{name}\" S");
        assert!(
            l.starts_with(&format!("   {i}. mutex 0x")) && l.ends_with(&want),
            "link {i}: {l:?}, not to {want:?}:\n{screen}"
        );
    };
    link(1, middle, "c-middle");
    link(2, root, "c-root");
    // The stack pane shows the chain's first waiter.
    assert_eq!(stack_tid(&screen), Some(waiter), "{screen}");

    // Enter on the chain follows its first link: the threads view, the holder selected.
    tmux.send_keys(&["Enter"]);
    tmux.wait_screen("the holder selected", |s| {
        stack_tid(s) == Some(middle) && s.contains(" Threads (4) ")
    });
    // Backspace: back in the chain view.
    tmux.send_keys(&["BSpace"]);
    tmux.wait_for(" Wait chains (1, longest first) ");
    tmux.send_keys(&["Escape"]);
    tmux.wait_for(" Threads (4) ");

    // H from the waiter: to its holder, then to that one's; Backspace twice comes back.
    tmux.type_text("/c-waiter");
    tmux.wait_screen("the waiter selected", |s| stack_tid(s) == Some(waiter));
    tmux.send_keys(&["Escape"]);
    tmux.wait_screen("the search closed", |s| !s.contains("/c-waiter"));
    tmux.send_keys(&["H"]);
    tmux.wait_screen("the middle selected", |s| stack_tid(s) == Some(middle));
    tmux.send_keys(&["H"]);
    tmux.wait_screen("the root selected", |s| stack_tid(s) == Some(root));
    tmux.send_keys(&["BSpace"]);
    tmux.wait_screen("back at the middle", |s| stack_tid(s) == Some(middle));
    tmux.send_keys(&["BSpace"]);
    tmux.wait_screen("back at the waiter", |s| stack_tid(s) == Some(waiter));

    tmux.send_keys(&["q"]);
    tmux.wait_exited(reaper.0);
    fx.assert_running();
}

/// Across processes: a parent in waitpid for a child that reads a loopback TCP connection
/// whose peer sleeps in another process. `H` opens the child's process, then the server's,
/// each with its thread selected; Backspace comes back along both.
#[test]
fn follow_opens_the_holders_process_and_backspace_comes_back() {
    let fx = Fixture::spawn(waitchains_bin(), &["waittcp"]);
    let parent = fx.pid();
    let server = child_pid(&fx, "tcp-server");
    let client = child_pid(&fx, "tcp-client");
    let pid_text = parent.to_string();
    let tmux = Tmux::exec(80, 24, &[BIN, &pid_text]);
    let reaper = Reaper(tmux.pane_pid());
    let at = |s: &str, pid: u32| {
        s.lines()
            .next()
            .is_some_and(|l| l.starts_with(&format!(" pid {pid} ")))
            && stack_tid(s) == Some(pid)
    };

    // The WAITING ON column names the child, another process.
    let screen = tmux.wait_screen("the child in the wait column", |s| {
        row_of(s, parent).is_some_and(|l| l.contains(&format!("→ pid {client}")))
    });
    assert!(at(&screen, parent), "{screen}");
    tmux.send_keys(&["H"]);
    let screen = tmux.wait_screen("the client's process open", |s| at(s, client));
    assert!(
        row_of(&screen, client).is_some_and(|l| l.contains(&format!("→ pid {server}"))),
        "{screen}"
    );
    tmux.send_keys(&["H"]);
    tmux.wait_screen("the server's process open", |s| at(s, server));
    tmux.send_keys(&["BSpace"]);
    tmux.wait_screen("back at the client", |s| at(s, client));
    tmux.send_keys(&["BSpace"]);
    tmux.wait_screen("back at the parent", |s| at(s, parent));

    tmux.send_keys(&["q"]);
    tmux.wait_exited(reaper.0);
    fx.assert_running();
    // The other two were traced as well: left as found, asleep and untraced.
    for pid in [client, server] {
        assert_eq!(common::tracer_pid(pid), 0, "pid {pid} still traced");
        assert_eq!(common::thread_states(pid), [(pid, 'S')], "pid {pid}");
    }
}
