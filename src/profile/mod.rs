//! Profiles from snapshots: samples of every thread's stack aggregated per stack, thread and
//! state (on-CPU or off it, and the system call it waits in), and what is read from them: the
//! top functions and the flame graph's tree. The exports and the sampler build on this.

pub mod export;
#[cfg(test)]
pub(crate) mod fixture;
mod flame;
mod functions;
mod samples;
pub mod suspects;
pub mod verdict;

pub use flame::{FlameNode, flame};
pub use functions::{FunctionRow, functions};
pub use samples::{Activity, FrameInfo, Profile, StackCount, ThreadInfo};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::Process;
    use crate::tracer::schema::SnapshotDoc;

    /// A native frame named `symbol` at `ip` in `module`.
    fn frame(ip: u64, symbol: &str) -> serde_json::Value {
        serde_json::json!({"ip": ip, "symbol": symbol, "raw_symbol": symbol, "offset": 4,
            "module": "/usr/bin/app", "module_offset": ip - 0x1000, "is_signal": false})
    }

    fn thread(
        tid: u32,
        name: &str,
        state: &str,
        frames: Vec<serde_json::Value>,
        syscall: Option<serde_json::Value>,
    ) -> serde_json::Value {
        serde_json::json!({"tid": tid, "name": name, "state": state, "wchan": null,
            "syscall": syscall, "user_time_ms": 0, "system_time_ms": 0, "stopped_us": 40,
            "truncated": false, "error": null, "end_note": null, "frames": frames})
    }

    /// Process 10: thread 10 "main" in `state` with stack `main_stack` (innermost first),
    /// thread 11 "worker" asleep in nanosleep under worker → main.
    fn snapshot(state: &str, main_stack: &[(u64, &str)]) -> Process {
        let frames: Vec<_> = main_stack.iter().map(|&(ip, s)| frame(ip, s)).collect();
        let sleep = [
            (0x1100, "clock_nanosleep"),
            (0x1200, "worker"),
            (0x1300, "start"),
        ];
        let sleeping: Vec<_> = sleep.iter().map(|&(ip, s)| frame(ip, s)).collect();
        let doc: SnapshotDoc = serde_json::from_value(serde_json::json!({
            "version": 2, "pid": 10, "command": "app", "taken_at": "",
            "taken_at_unix_ms": 1_795_953_600_000u64, "mode": "rolling", "elapsed_us": 900,
            "longest_stop_us": 60,
            "threads": [
                thread(10, "main", state, frames, None),
                thread(11, "worker", "S", sleeping,
                    Some(serde_json::json!({"number": 230, "args": [0,0,0,0,0,0]}))),
            ]
        }))
        .map_err(|e| e.to_string())
        .unwrap();
        doc.to_process()
    }

    fn recorded() -> Profile {
        let mut p = Profile::new(10, "app", std::time::Duration::from_millis(50));
        // main: 3 samples in a ← b ← main (2 on a CPU), 1 in b ← main, recursion b ← b once.
        p.add(&snapshot(
            "R",
            &[(0x2000, "a"), (0x2100, "b"), (0x2200, "main")],
        ));
        p.add(&snapshot(
            "R",
            &[(0x2000, "a"), (0x2100, "b"), (0x2200, "main")],
        ));
        p.add(&snapshot(
            "S",
            &[(0x2000, "a"), (0x2100, "b"), (0x2200, "main")],
        ));
        p.add(&snapshot("R", &[(0x2110, "b"), (0x2200, "main")]));
        p.add(&snapshot(
            "R",
            &[(0x2110, "b"), (0x2120, "b"), (0x2200, "main")],
        ));
        p
    }

    #[test]
    fn samples_are_counted_per_stack_thread_and_activity() {
        let p = recorded();
        assert_eq!((p.snapshots, p.samples(), p.on_cpu_samples()), (5, 10, 4));
        assert_eq!(p.threads.len(), 2);
        assert_eq!(
            (p.threads[1].name.as_str(), p.threads[1].samples),
            ("worker", 5)
        );
        // The worker's stack, one entry; main's a←b←main twice: on a CPU and off it.
        let worker: Vec<_> = p.stacks.iter().filter(|s| s.thread == 1).collect();
        assert_eq!(worker.len(), 1);
        assert_eq!(
            worker[0].activity,
            Activity::OffCpu {
                state: 'S',
                syscall: Some("clock_nanosleep")
            }
        );
        assert_eq!(worker[0].samples, 5);
        let abm: Vec<u64> = p
            .stacks
            .iter()
            .filter(|s| {
                s.thread == 0 && s.frames.len() == 3 && p.frames[s.frames[0] as usize].name() == "a"
            })
            .map(|s| s.samples)
            .collect();
        assert_eq!(abm, [2, 1]);
        // Frames interned: a, b@0x2100, main, b@0x2110, b@0x2120 and the worker's 3.
        assert_eq!(p.frames.len(), 8);
    }

    #[test]
    fn a_stack_carried_over_counts_as_its_first_did() {
        // The same snapshot twice: every thread's frames the very same slices, as the tracer
        // carries a blocked thread's stack over; then another with main elsewhere.
        let snap = snapshot("R", &[(0x2000, "a"), (0x2200, "main")]);
        let mut p = Profile::new(10, "app", std::time::Duration::from_millis(50));
        p.add(&snap);
        p.add(&snap);
        p.add(&snapshot("R", &[(0x2100, "b"), (0x2200, "main")]));
        let counts: Vec<(usize, u64)> = p
            .stacks
            .iter()
            .map(|s| (s.frames.len(), s.samples))
            .collect();
        assert_eq!(counts, [(2, 2), (3, 3), (2, 1)]);
        assert_eq!(p.frames.len(), 6);
    }

    #[test]
    fn functions_count_self_and_total_once_per_sample() {
        let rows = functions(&recorded(), Some(10));
        let row = |n: &str| rows.iter().find(|r| r.name == n).unwrap().clone();
        let (a, b, main) = (row("a"), row("b"), row("main"));
        assert_eq!(
            (
                a.self_samples,
                a.total_samples,
                a.self_on_cpu,
                a.total_on_cpu
            ),
            (3, 3, 2, 2)
        );
        // b recurses in one sample: counted once there.
        assert_eq!((b.self_samples, b.total_samples, b.total_on_cpu), (2, 5, 4));
        assert_eq!((main.self_samples, main.total_samples), (0, 5));
        assert_eq!(rows[0].name, "a");
        // The whole process adds the worker's.
        let all = functions(&recorded(), None);
        let sleep = all.iter().find(|r| r.name == "clock_nanosleep").unwrap();
        assert_eq!((sleep.self_samples, sleep.self_on_cpu), (5, 0));
    }

    #[test]
    fn the_flame_tree_merges_stacks_from_the_root() {
        let tree = flame(&recorded(), None, true, "all");
        assert_eq!(
            (tree.name.as_str(), tree.samples, tree.on_cpu),
            ("all", 10, 4)
        );
        let names: Vec<&str> = tree.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["main (10)", "worker (11)"]);
        let main = &tree.children[0].children[0];
        assert_eq!((main.name.as_str(), main.samples), ("main", 5));
        let b = &main.children[0];
        assert_eq!((b.name.as_str(), b.samples, b.self_samples()), ("b", 5, 1));
        let kids: Vec<(&str, u64)> = b
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.samples))
            .collect();
        assert_eq!(kids, [("a", 3), ("b", 1)]);
        // One thread, no thread level.
        let one = flame(&recorded(), Some(11), false, "worker");
        assert_eq!(one.children[0].name, "start");
        assert_eq!(
            one.children[0].children[0].children[0].name,
            "clock_nanosleep"
        );
    }

    #[test]
    fn folded_lines_run_from_the_thread_to_the_innermost_frame() {
        let mut out = Vec::new();
        export::write(&recorded(), export::Format::Folded, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "main (10);main;b 1\n\
             main (10);main;b;a 3\n\
             main (10);main;b;b 1\n\
             worker (11);start;worker;clock_nanosleep 5\n"
        );
    }

    #[test]
    fn speedscope_weighs_samples_in_time_by_the_interval() {
        let mut out = Vec::new();
        export::write(&recorded(), export::Format::Speedscope, &mut out).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let main = &doc["profiles"][0];
        assert_eq!(main["name"], "main (10)");
        assert_eq!(main["unit"], "nanoseconds");
        // a←b←main on a CPU and off it, b←main, b←b←main; 50 ms a sample.
        assert_eq!(
            main["weights"],
            serde_json::json!([100_000_000u64, 50_000_000u64, 50_000_000u64, 50_000_000u64])
        );
        assert_eq!(main["endValue"], 250_000_000u64);
        let frames = &doc["shared"]["frames"];
        let names: Vec<&str> = main["samples"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                frames[i.as_u64().unwrap() as usize]["name"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["main", "b", "a"]);
        // b at two addresses is one speedscope frame.
        assert_eq!(frames.as_array().unwrap().len(), 6);
    }
}
