//! Wait chains in `dump` as a user runs it: the real binary on tests/fixtures/mutex_chain.c,
//! whose chain-a waits for a mutex chain-b holds while chain-b waits for one chain-c holds
//! (chain-c sleeps), and whose dead-x and dead-y are deadlocked. The text under each blocked
//! thread, `dump --chains` (text and JSON), the chains in `dump --json`, and `--no-chains`.

mod common;

use common::{Fixture, mutex_chain_bin, run_cli, tid_named};
use serde_json::{Value, json};

/// The fixture, its threads' tids and its mutexes' addresses.
struct Chained {
    fx: Fixture,
    pid: u32,
    a: u32,
    b: u32,
    c: u32,
    /// dead-x and dead-y, the smaller tid first (the cycle is told from there).
    lo: (u32, &'static str),
    hi: (u32, &'static str),
    /// The mutexes a, b, the smaller and the larger deadlocked tid wait on.
    m: [String; 4],
}

fn start() -> Chained {
    let fx = Fixture::spawn(mutex_chain_bin(), &[]);
    let line = fx.next_line();
    let words: Vec<&str> = line.split_whitespace().collect();
    let [_, m1, _, m2, _, m3, _, m4] = words[..] else {
        panic!("addresses line: {line:?}");
    };
    let pid = fx.pid();
    let x = tid_named(pid, "dead-x");
    let y = tid_named(pid, "dead-y");
    // dead-x waits on m4 (dead-y holds it), dead-y on m3.
    let (lo, hi, lo_m, hi_m) = if x < y {
        ((x, "dead-x"), (y, "dead-y"), m4, m3)
    } else {
        ((y, "dead-y"), (x, "dead-x"), m3, m4)
    };
    Chained {
        a: tid_named(pid, "chain-a"),
        b: tid_named(pid, "chain-b"),
        c: tid_named(pid, "chain-c"),
        pid,
        lo,
        hi,
        m: [m1.into(), m2.into(), lo_m.into(), hi_m.into()],
        fx,
    }
}

fn dump(args: &[&str], pid: u32) -> String {
    let pid = pid.to_string();
    let mut all = vec!["dump"];
    all.extend(args);
    all.push(&pid);
    let (code, out, err) = run_cli(&all);
    assert_eq!(code, 0, "{all:?}: {err}");
    out
}

/// The lines after the header of thread `tid` up to its first frame.
fn under(text: &str, tid: u32) -> Vec<&str> {
    let head = format!("Thread {tid} \"");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no {head:?} in\n{text}"));
    lines[at + 1..]
        .iter()
        .take_while(|l| !l.starts_with("  #"))
        .copied()
        .collect()
}

/// The lines of a mutex link: one, or two when wider than 75 characters (80 columns with the
/// listing's indent), the holder then under the waiter.
fn link(waiter: (u32, &str), m: &str, holder: (u32, &str)) -> Vec<String> {
    let head = format!("tid {} \"{}\" → mutex {m}", waiter.0, waiter.1);
    let held = format!("held by tid {} \"{}\"", holder.0, holder.1);
    let line = format!("{head} → {held}");
    if line.chars().count() <= 75 {
        vec![line]
    } else {
        vec![head, format!("  → {held}")]
    }
}

impl Chained {
    /// chain-a's chain, a link a line (or two), and chain-c at its end.
    fn a_chain(&self) -> Vec<String> {
        let mut lines = link((self.a, "chain-a"), &self.m[0], (self.b, "chain-b"));
        lines.extend(self.b_chain());
        lines
    }

    /// chain-b's chain: the tail of chain-a's.
    fn b_chain(&self) -> Vec<String> {
        let mut lines = link((self.b, "chain-b"), &self.m[1], (self.c, "chain-c"));
        lines.push(format!(
            "tid {} \"chain-c\": S sleeping, in pause()",
            self.c
        ));
        lines
    }

    /// The deadlock's chain from its smaller tid.
    fn dead_chain(&self) -> Vec<String> {
        let (lo, hi) = (self.lo, self.hi);
        let mut lines = link(lo, &self.m[2], hi);
        lines.extend(link(hi, &self.m[3], lo));
        lines.push(format!("↺ back to tid {}: deadlock", lo.0));
        lines
    }

    fn deadlock_line(&self) -> String {
        let ((lo, lo_name), (hi, hi_name)) = (self.lo, self.hi);
        format!("deadlock: {lo} \"{lo_name}\" → {hi} \"{hi_name}\" → {lo}")
    }

    /// A party of the fixture as the JSON names it.
    fn party(&self, tid: u32, name: &str, wait: &str) -> Value {
        json!({"pid": self.pid, "tid": tid, "name": name, "state": "S", "wait": wait})
    }

    fn mutex_link(&self, waiter: Value, m: &str, holder: Value) -> Value {
        json!({"waiter": waiter, "kind": "mutex", "object": format!("mutex {m}"),
            "holders": [holder], "note": null})
    }

    /// chain-a's chain in JSON.
    fn a_json(&self) -> Value {
        let futex = |m: &str| format!("futex_wait({m})");
        let a = self.party(self.a, "chain-a", &futex(&self.m[0]));
        let b = self.party(self.b, "chain-b", &futex(&self.m[1]));
        let c = self.party(self.c, "chain-c", "pause()");
        json!({"links": [self.mutex_link(a, &self.m[0], b.clone()),
            self.mutex_link(b, &self.m[1], c)], "cycle": null, "end": null})
    }

    /// The deadlock's chain from its smaller tid in JSON.
    fn dead_json(&self) -> Value {
        let futex = |m: &str| format!("futex_wait({m})");
        let lo = self.party(self.lo.0, self.lo.1, &futex(&self.m[2]));
        let hi = self.party(self.hi.0, self.hi.1, &futex(&self.m[3]));
        json!({"links": [self.mutex_link(lo.clone(), &self.m[2], hi.clone()),
            self.mutex_link(hi, &self.m[3], lo)], "cycle": 0, "end": null})
    }
}

#[test]
fn text_dump_puts_each_chain_under_its_thread() {
    let f = start();
    let text = dump(&[], f.pid);
    let block = |lines: Vec<String>| -> Vec<String> {
        std::iter::once("  -- wait chain:".to_string())
            .chain(lines.into_iter().map(|l| format!("     {l}")))
            .collect()
    };
    let lock = format!(
        "  -- waiting for mutex {} held by {} \"chain-b\"",
        f.m[0], f.b
    );
    let mut a_block = vec![lock];
    a_block.extend(block(f.a_chain()));
    assert_eq!(under(&text, f.a), a_block, "{text}");
    // chain-b's chain is the tail of chain-a's.
    assert_eq!(under(&text, f.b)[1..], block(f.b_chain()), "{text}");
    // chain-c waits for nobody.
    assert_eq!(under(&text, f.c), Vec::<&str>::new(), "{text}");
    assert_eq!(under(&text, f.lo.0)[1..], block(f.dead_chain()), "{text}");
    // One deadlock line: the cycle of mutexes inside the process, as before.
    let deadlocks: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("deadlock: "))
        .collect();
    assert_eq!(deadlocks, [f.deadlock_line()], "{text}");
    f.fx.assert_running();
}

#[test]
fn dump_chains_lists_the_longest_chains_root_blocker_first() {
    let f = start();
    let text = dump(&["--chains"], f.pid);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Process {} \"", f.pid))
            && lines[0].ends_with(": 2 wait chains, longest first"),
        "{text}"
    );
    let block = |heading: String, lines: Vec<String>| -> Vec<String> {
        [String::new(), heading]
            .into_iter()
            .chain(lines.into_iter().map(|l| format!("  {l}")))
            .collect()
    };
    let a_block = block(
        format!(
            "blocked by tid {} \"chain-c\" (S sleeping, in pause()): 2 links, from tid {} \"chain-a\"",
            f.c, f.a
        ),
        f.a_chain(),
    );
    let dead_block = block(
        format!("deadlock: 2 links, from tid {} \"{}\"", f.lo.0, f.lo.1),
        f.dead_chain(),
    );
    // Both are two links long: the one from the smaller tid first.
    let (first, second) = if f.a < f.lo.0 {
        (a_block, dead_block)
    } else {
        (dead_block, a_block)
    };
    let mut expected: Vec<String> = first.into_iter().chain(second).collect();
    expected.extend([String::new(), f.deadlock_line()]);
    assert_eq!(lines[1..], expected, "{text}");
    // No stacks.
    assert!(!text.contains("  #0 "), "{text}");

    let out = dump(&["--chains", "--json"], f.pid);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let with_tid = |tid: u32, mut chain: Value| {
        let mut obj = json!({"tid": tid});
        obj.as_object_mut()
            .unwrap()
            .append(chain.as_object_mut().unwrap());
        obj
    };
    let (a, dead) = (with_tid(f.a, f.a_json()), with_tid(f.lo.0, f.dead_json()));
    let chains = if f.a < f.lo.0 {
        json!([a, dead])
    } else {
        json!([dead, a])
    };
    assert_eq!(doc, json!({"pid": f.pid, "chains": chains}), "{out}");
    f.fx.assert_running();
}

#[test]
fn json_dump_has_each_chain_and_no_chains_leaves_them_out() {
    let f = start();
    let out = dump(&["--json"], f.pid);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let chain_of = |doc: &Value, tid: u32| {
        doc["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tid"] == tid)
            .unwrap_or_else(|| panic!("no thread {tid} in {doc}"))
            .get("chain")
            .cloned()
    };
    assert_eq!(chain_of(&doc, f.a), Some(f.a_json()));
    assert_eq!(chain_of(&doc, f.lo.0), Some(f.dead_json()));
    assert_eq!(
        chain_of(&doc, f.b).map(|c| c["links"].as_array().unwrap().len()),
        Some(1)
    );
    // Threads that wait for nobody have no "chain"; a mutex cycle inside the process is a
    // "deadlocks" entry, not a "wait_cycles" one.
    assert_eq!(chain_of(&doc, f.c), None);
    assert_eq!(chain_of(&doc, f.pid), None);
    assert_eq!(doc.get("wait_cycles"), None, "{out}");
    let mut cycle = vec![f.lo.0, f.hi.0];
    cycle.sort();
    assert_eq!(doc["deadlocks"], json!([cycle]));

    // --no-chains: no chain anywhere, the mutex owners and the deadlock as before.
    let out = dump(&["--json", "--no-chains"], f.pid);
    assert!(!out.contains("\"chain\""), "{out}");
    let text = dump(&["--no-chains"], f.pid);
    assert!(!text.contains("-- wait chain:"), "{text}");
    assert_eq!(under(&text, f.a).len(), 1, "{text}");
    assert!(text.lines().any(|l| l == f.deadlock_line()), "{text}");
    let (code, _, err) = run_cli(&["dump", "--chains", "--format", "folded", "1"]);
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "rstack-tui: error: --chains is for text or JSON, not folded\n"
        )
    );
    f.fx.assert_running();
}
