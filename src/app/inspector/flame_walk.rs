//! Walks of the flame graph's tree that the profile view's keys need: the frame at a path of
//! names, the search's matches and their share, the next match from the selection (one
//! pre-order walk, memory bounded by the depth), and where a function weighs most.

use super::search::Pattern;
use crate::profile::FlameNode;

/// The node at `path` (names from `root`'s children down), as far as the path exists: the
/// node and how many names of the path it took.
pub fn node_at<'a>(root: &'a FlameNode, path: &[String]) -> (&'a FlameNode, usize) {
    let mut node = root;
    for (depth, name) in path.iter().enumerate() {
        match node.children.iter().find(|c| &c.name == name) {
            Some(c) => node = c,
            None => return (node, depth),
        }
    }
    (node, path.len())
}

/// The frames under `node` that match `p`: how many, and the samples of the topmost ones (a
/// match inside a match counts once).
pub fn matches(node: &FlameNode, p: &Pattern) -> (usize, u64) {
    fn walk(n: &FlameNode, p: &Pattern, inside: bool, out: &mut (usize, u64)) {
        for c in &n.children {
            let hit = p.matches(&c.name);
            if hit {
                out.0 += 1;
                if !inside {
                    out.1 += c.samples;
                }
            }
            walk(c, p, inside || hit, out);
        }
    }
    let mut out = (0, 0);
    walk(node, p, false, &mut out);
    out
}

/// The match a jump goes to, found in one pre-order walk (children left to right) that keeps
/// only the path it is on: memory follows the depth, not the size of the tree.
pub(super) struct Jump<'a> {
    pattern: &'a Pattern,
    /// The selection's path under the walked node.
    from: &'a [String],
    next: bool,
    /// The selection itself, if it matches.
    here: bool,
    passed: bool,
    /// First and last matches overall; last before the selection; first after it.
    first: Option<Vec<String>>,
    last: Option<Vec<String>>,
    before: Option<Vec<String>>,
    after: Option<Vec<String>>,
}

impl<'a> Jump<'a> {
    /// From the selection at `from`, to the next match of `pattern` (else the previous);
    /// `here`: the selection itself if it matches.
    pub fn new(pattern: &'a Pattern, from: &'a [String], next: bool, here: bool) -> Jump<'a> {
        Jump {
            pattern,
            from,
            next,
            here,
            passed: false,
            first: None,
            last: None,
            before: None,
            after: None,
        }
    }

    pub fn walk(&mut self, n: &FlameNode, path: &mut Vec<String>) {
        let is_from = path.as_slice() == self.from;
        let hit = path.last().is_some_and(|name| self.pattern.matches(name));
        if is_from && self.here && hit && self.after.is_none() {
            self.after = Some(path.clone());
        }
        if hit && !is_from {
            if self.first.is_none() {
                self.first = Some(path.clone());
            }
            if self.next {
                if self.passed && self.after.is_none() {
                    self.after = Some(path.clone());
                }
            } else {
                self.last = Some(path.clone());
                if !self.passed {
                    self.before = Some(path.clone());
                }
            }
        } else if hit && is_from {
            self.first.get_or_insert_with(|| path.clone());
            if !self.next {
                self.last = Some(path.clone());
            }
        }
        self.passed |= is_from;
        for c in &n.children {
            path.push(c.name.clone());
            self.walk(c, path);
            path.pop();
        }
    }

    /// The match to go to: after the selection (or before it, going back), else around.
    pub fn found(self) -> Option<Vec<String>> {
        if self.next {
            self.after.or(self.first)
        } else {
            self.before.or(self.last)
        }
    }
}

/// The path of the frame named `name` with the most samples.
pub(super) fn heaviest(root: &FlameNode, name: &str) -> Option<Vec<String>> {
    fn walk(
        n: &FlameNode,
        name: &str,
        path: &mut Vec<String>,
        best: &mut Option<(u64, Vec<String>)>,
    ) {
        for c in &n.children {
            path.push(c.name.clone());
            if c.name == name && best.as_ref().is_none_or(|b| c.samples > b.0) {
                *best = Some((c.samples, path.clone()));
            }
            walk(c, name, path, best);
            path.pop();
        }
    }
    let mut best = None;
    walk(root, name, &mut Vec::new(), &mut best);
    best.map(|b| b.1)
}
