//! The top-functions table: per function, the samples in which it ran itself (the innermost
//! frame) and those in which it was anywhere on the stack, on a CPU and in all.

use std::collections::{HashMap, HashSet};

use super::samples::Profile;

/// One function's share of the samples in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    pub name: String,
    /// Samples with it as the innermost frame.
    pub self_samples: u64,
    /// Samples with it anywhere on the stack (counted once per sample, recursion or not).
    pub total_samples: u64,
    /// Of `self_samples`, those on a CPU.
    pub self_on_cpu: u64,
    /// Of `total_samples`, those on a CPU.
    pub total_on_cpu: u64,
}

/// The functions of `profile`'s samples (of thread `tid` only, when given), the most self
/// samples first, then the most total, then by name.
pub fn functions(profile: &Profile, tid: Option<u32>) -> Vec<FunctionRow> {
    let mut rows: HashMap<String, FunctionRow> = HashMap::new();
    let names: Vec<String> = profile.frames.iter().map(|f| f.name()).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for stack in &profile.stacks {
        if tid.is_some_and(|tid| profile.threads[stack.thread].tid != tid) {
            continue;
        }
        let (n, cpu) = (
            stack.samples,
            if stack.activity.on_cpu() {
                stack.samples
            } else {
                0
            },
        );
        seen.clear();
        for (depth, &id) in stack.frames.iter().enumerate() {
            let name = names[id as usize].as_str();
            let row = rows.entry(name.to_string()).or_insert_with(|| FunctionRow {
                name: name.to_string(),
                self_samples: 0,
                total_samples: 0,
                self_on_cpu: 0,
                total_on_cpu: 0,
            });
            if depth == 0 {
                row.self_samples += n;
                row.self_on_cpu += cpu;
            }
            if seen.insert(name) {
                row.total_samples += n;
                row.total_on_cpu += cpu;
            }
        }
    }
    let mut rows: Vec<FunctionRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.self_samples
            .cmp(&a.self_samples)
            .then(b.total_samples.cmp(&a.total_samples))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}
