//! Equal stacks found once, so an output writes each distinct stack once and copies it for
//! the others: 1000 workers parked in one pool share one stack. Frames are compared in full;
//! only the hash looks at addresses alone (keyed per process, as the addresses are hostile).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::tracer::model::Frame;

/// For each of a list of stacks, the first stack equal to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EqualStacks {
    first: Vec<usize>,
    repeated: Vec<bool>,
}

/// A stack compared by value, hashed on its addresses and marks (equal stacks agree on them).
struct Key<'a>(&'a [Frame]);

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        same(self.0, other.0)
    }
}

/// Whether two stacks are equal: at once when they are one slice (the trace gives the threads
/// on one stack the same frames), else frame by frame (stacks loaded from a file).
fn same(a: &[Frame], b: &[Frame]) -> bool {
    std::ptr::eq(a, b) || a == b
}

impl Eq for Key<'_> {}

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.0.len());
        for f in self.0 {
            let marks =
                u64::from(f.inlined) | u64::from(f.is_signal) << 1 | u64::from(f.frameless) << 2;
            h.write_u64(f.ip ^ marks.rotate_right(3));
        }
    }
}

impl EqualStacks {
    /// Compares `stacks`, in their order.
    pub fn of<'a>(stacks: impl IntoIterator<Item = &'a [Frame]>) -> EqualStacks {
        let mut seen: HashMap<Key<'a>, usize> = HashMap::new();
        let mut first = Vec::new();
        let mut last: Option<(&[Frame], usize)> = None;
        for (i, s) in stacks.into_iter().enumerate() {
            // The threads of a pool come one after another: a stack equal to the one before
            // is found without hashing it.
            let f = match last {
                Some((before, f)) if same(before, s) => f,
                _ => *seen.entry(Key(s)).or_insert(i),
            };
            first.push(f);
            last = Some((s, f));
        }
        let mut repeated = vec![false; first.len()];
        for (i, &f) in first.iter().enumerate() {
            if f != i {
                repeated[f] = true;
            }
        }
        EqualStacks { first, repeated }
    }

    /// The index of the first stack equal to stack `i` (`i` itself when none comes before).
    pub fn first(&self, i: usize) -> usize {
        self.first.get(i).copied().unwrap_or(i)
    }

    /// Stack `i` comes first among two or more equal ones: worth keeping as written.
    pub fn is_repeated(&self, i: usize) -> bool {
        self.repeated.get(i).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::model::{Module, Symbol};

    fn frame(ip: u64, name: &str) -> Frame {
        Frame {
            kind: crate::tracer::FrameKind::Native,
            ip,
            is_signal: false,
            symbol: Some(Symbol {
                name: name.into(),
                raw_name: name.into(),
                offset: 4,
                address: ip - 4,
                size: 0,
            }),
            module: Some(Module {
                path: "/bin/x".into(),
                offset: ip,
            }),
            location: None,
            inlined: false,
            frameless: false,
        }
    }

    #[test]
    fn equal_stacks_point_at_the_first_and_frames_compare_in_full() {
        let a = vec![frame(10, "f"), frame(20, "main")];
        let b = a.clone();
        // The same addresses, another name: not equal, though hashed alike.
        let c = vec![frame(10, "g"), frame(20, "main")];
        let mut d = a.clone();
        d[0].inlined = true;
        // Neighbours (found without a hash) and stacks apart.
        let stacks: [&[Frame]; 8] = [&a, &b, &c, &b, &[], &d, &[], &c];
        let eq = EqualStacks::of(stacks);
        let firsts: Vec<usize> = (0..8).map(|i| eq.first(i)).collect();
        assert_eq!(firsts, [0, 0, 2, 0, 4, 5, 4, 2]);
        let repeated: Vec<bool> = (0..8).map(|i| eq.is_repeated(i)).collect();
        assert_eq!(
            repeated,
            [true, false, true, false, true, false, false, false]
        );
    }
}
