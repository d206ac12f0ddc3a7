//! The flame graph's tree: stacks merged from the outermost frame in, each node's samples
//! (and those on a CPU) the sum of the stacks through it, children largest first.

use std::collections::HashMap;

use super::samples::Profile;

/// Most nodes built: a profile of endlessly varied stacks still draws in bounded memory (the
/// rest of a stack past it is counted in its last node).
pub const MAX_NODES: usize = 1 << 20;
/// Deepest path built (the tree is finished recursively): frames past it are left out.
pub const MAX_DEPTH: usize = 2048;

/// A function on the path from the root, with the samples of every stack through it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlameNode {
    pub name: String,
    pub samples: u64,
    pub on_cpu: u64,
    /// Largest first, then by name.
    pub children: Vec<FlameNode>,
}

impl FlameNode {
    /// Samples that ended in this node (its own, not its children's).
    pub fn self_samples(&self) -> u64 {
        self.samples - self.children.iter().map(|c| c.samples).sum::<u64>()
    }
}

/// The tree of `profile`'s samples (thread `tid`'s only, when given) under a root named
/// `root`; with `by_thread` the root's children are the threads (named `name (tid)`).
pub fn flame(profile: &Profile, tid: Option<u32>, by_thread: bool, root: &str) -> FlameNode {
    let names: Vec<String> = profile.frames.iter().map(|f| f.name()).collect();
    let mut arena = Arena::default();
    arena.nodes.push(Building::new(root.to_string()));
    for stack in &profile.stacks {
        let thread = &profile.threads[stack.thread];
        if tid.is_some_and(|tid| thread.tid != tid) {
            continue;
        }
        let cpu = if stack.activity.on_cpu() {
            stack.samples
        } else {
            0
        };
        let mut at = 0;
        arena.count(at, stack.samples, cpu);
        let thread_name = by_thread.then(|| format!("{} ({})", thread.name, thread.tid));
        let path = thread_name.iter().map(String::as_str).chain(
            stack
                .frames
                .iter()
                .rev()
                .map(|&id| names[id as usize].as_str()),
        );
        for name in path.take(MAX_DEPTH) {
            match arena.child(at, name) {
                Some(next) => at = next,
                None => break,
            }
            arena.count(at, stack.samples, cpu);
        }
    }
    arena.finish(0)
}

#[derive(Default)]
struct Arena {
    nodes: Vec<Building>,
}

struct Building {
    name: String,
    samples: u64,
    on_cpu: u64,
    children: HashMap<String, usize>,
}

impl Building {
    fn new(name: String) -> Building {
        Building {
            name,
            samples: 0,
            on_cpu: 0,
            children: HashMap::new(),
        }
    }
}

impl Arena {
    fn count(&mut self, at: usize, samples: u64, cpu: u64) {
        self.nodes[at].samples += samples;
        self.nodes[at].on_cpu += cpu;
    }

    /// The child of `at` named `name`, made if new; None when the arena is full.
    fn child(&mut self, at: usize, name: &str) -> Option<usize> {
        if let Some(&i) = self.nodes[at].children.get(name) {
            return Some(i);
        }
        if self.nodes.len() >= MAX_NODES {
            return None;
        }
        let i = self.nodes.len();
        self.nodes.push(Building::new(name.to_string()));
        self.nodes[at].children.insert(name.to_string(), i);
        Some(i)
    }

    fn finish(&mut self, at: usize) -> FlameNode {
        let kids: Vec<usize> = self.nodes[at].children.values().copied().collect();
        let mut children: Vec<FlameNode> = kids.into_iter().map(|k| self.finish(k)).collect();
        children.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.name.cmp(&b.name)));
        let n = &mut self.nodes[at];
        FlameNode {
            name: std::mem::take(&mut n.name),
            samples: n.samples,
            on_cpu: n.on_cpu,
            children,
        }
    }
}
