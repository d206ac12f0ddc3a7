//! `dump --group --watch`: the groups of identical stacks of a process watched for a while,
//! each with its threads' verdicts and how it grew, after the top suspects.

use std::collections::HashMap;
use std::fmt::Write;

use crate::describe::{interesting_frame, quoted};
use crate::profile::suspects::{growth, suspect_text, suspects};
use crate::profile::verdict::{Tracker, Verdict};
use crate::text::inert;
use crate::tracer::Process;
use crate::tracer::diff::frame_key;

/// The text of a watch from `first` to `last` (the snapshots `tracker` was fed): a header,
/// the suspects, then one block per group of `last` (largest first): its threads, its
/// verdicts, its growth, its stack; then the groups that emptied.
pub fn groups_watched_to_text(first: &Process, last: &Process, tracker: &Tracker) -> String {
    let groups = crate::tracer::group::group(last);
    let grown = growth(first, last);
    let verdicts: HashMap<u32, Verdict> = tracker.verdicts().into_iter().collect();
    let mut out = String::new();
    let span = last
        .taken_at()
        .duration_since(first.taken_at())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Process {} {}: {} threads in {} groups; watched {:.1} s, {} snapshots",
        last.id(),
        quoted(last.command()),
        last.threads().len(),
        groups.len(),
        span.as_secs_f64(),
        tracker.snapshots()
    );
    let found = suspects(last, tracker);
    if found.is_empty() {
        out.push_str("\nSuspects: none\n");
    } else {
        out.push_str("\nSuspects:\n");
        for s in &found {
            let _ = writeln!(out, "  {}", suspect_text(last, s));
        }
    }
    for g in &groups {
        let n = g.threads.len();
        let _ = write!(
            out,
            "\n{n} thread{}: {}",
            if n == 1 { "" } else { "s" },
            super::thread_list(&g.threads)
        );
        if let Some(gr) = grown.iter().find(|gr| gr.key == g.key) {
            let _ = write!(out, "; {}", gr.text());
        }
        out.push('\n');
        let tids: Vec<u32> = g.threads.iter().map(|(tid, _)| *tid).collect();
        let _ = writeln!(out, "  {}", verdicts_line(&tids, &verdicts));
        super::write_key(&mut out, &g.key, |_| "  ");
    }
    // One thread per stack of the first snapshot, to name a group that emptied.
    for gr in grown.iter().filter(|gr| gr.to == 0) {
        let name = first
            .threads()
            .iter()
            .find(|t| crate::tracer::diff::stack_key(t) == gr.key)
            .and_then(interesting_frame)
            .map(frame_key)
            .unwrap_or_else(|| "(no frames)".into());
        let _ = writeln!(out, "\ngone: the group at {}; {}", inert(&name), gr.text());
    }
    out
}

/// "verdict: spinning, 98% of a core" for one thread; "verdict: idle (all 40)" or
/// "verdicts: idle 37, no verdict yet 3" for several.
fn verdicts_line(tids: &[u32], verdicts: &HashMap<u32, Verdict>) -> String {
    let of = |tid: &u32| verdicts.get(tid);
    if let [one] = tids {
        return match of(one) {
            Some(v) => format!("verdict: {}", v.text()),
            None => "verdict: none".into(),
        };
    }
    // Counted by kind, in order of first appearance.
    let mut kinds: Vec<(&'static str, usize)> = Vec::new();
    for tid in tids {
        let kind = match of(tid) {
            Some(Verdict::Stuck { .. }) => "stuck",
            Some(Verdict::Spinning { .. }) => "spinning",
            Some(Verdict::Busy { .. }) => "busy",
            Some(Verdict::Idle { .. }) => "idle",
            Some(Verdict::Pending { .. }) => "no verdict yet",
            Some(Verdict::Unclear { .. }) | None => "no verdict",
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    match kinds.as_slice() {
        [(kind, n)] => format!("verdict: {kind} (all {n})"),
        _ => {
            let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!("verdicts: {}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::fixture::{POOL, SPIN, T0, snapshot, t};

    const OLD: &[&str] = &[
        "futex_wait",
        "pthread_cond_wait",
        "old_worker",
        "start_thread",
    ];

    #[test]
    fn groups_with_verdicts_growth_and_suspects() {
        let snaps: Vec<Process> = (0..5u64)
            .map(|i| {
                let mut threads = vec![t(1, "spinner", i * 500, None, SPIN)];
                // Two old workers leave after the first snapshot; the pool grows from 2 to 4,
                // its last two too new for a verdict.
                if i == 0 {
                    threads.push(t(5, "old", 0, Some(202), OLD));
                    threads.push(t(6, "old", 0, Some(202), OLD));
                }
                let pool = if i < 3 { 2 } else { 4 };
                for k in 0..pool {
                    threads.push(t(10 + k, "pool", 0, Some(202), POOL));
                }
                snapshot(T0 + i * 500, &threads, &[])
            })
            .collect();
        let tracker = Tracker::of(&snaps);
        let text = groups_watched_to_text(&snaps[0], &snaps[4], &tracker);
        assert_eq!(
            text,
            "Process 4242 \"/srv/app\": 5 threads in 2 groups; watched 2.0 s, 5 snapshots\n\
             \n\
             Suspects:\n\
             \x20 1 \"spinner\" spinning at spin_here, 100% of a core\n\
             \n\
             4 threads: \"pool\" (10), \"pool\" (11), \"pool\" (12), \"pool\" (13); grew from 2 to 4 threads\n\
             \x20 verdicts: idle 2, no verdict yet 2\n\
             \x20 #0  futex_wait\n\
             \x20 #1  pthread_cond_wait\n\
             \x20 #2  pool_worker\n\
             \x20 #3  start_thread\n\
             \n\
             1 thread: \"spinner\" (1)\n\
             \x20 verdict: spinning, 100% of a core\n\
             \x20 #0  spin_here\n\
             \x20 #1  spinner\n\
             \x20 #2  start_thread\n\
             \n\
             gone: the group at old_worker; shrank from 2 to 0 threads\n"
        );
        let one = Tracker::of(&snaps[..1]);
        let early = groups_watched_to_text(&snaps[0], &snaps[0], &one);
        assert!(early.contains("\nSuspects: none\n"), "{early}");
        assert!(
            early.contains("  verdict: no verdict yet (all 2)\n"),
            "{early}"
        );
    }
}
