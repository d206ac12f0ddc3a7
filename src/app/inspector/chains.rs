//! The chain view's rows (`C`): the process's wait chains, longest first, a chain that is the
//! tail of a longer one left out; a row for each chain, then one for each of its links; the
//! selected row, and whom following a row goes to.

use crate::tracer::{Party, Process, WaitChain};

/// Rows shown at most: a process of thousands of blocked threads lists its longest chains.
pub const MAX_ROWS: usize = 500;

/// One row of the chain view.
#[derive(Debug, Clone, Copy)]
pub enum ChainRow<'a> {
    /// A chain's first row: who waits, and its root blocker.
    Chain(&'a WaitChain),
    /// Link `index` of a chain.
    Link(&'a WaitChain, usize),
}

impl<'a> ChainRow<'a> {
    /// Whom following this row goes to: the link's holder (the one the chain followed when
    /// several hold it), the first link's for a chain's row.
    pub fn holder(&self) -> Option<&'a Party> {
        let (chain, i) = match *self {
            ChainRow::Chain(c) => (c, 0),
            ChainRow::Link(c, i) => (c, i),
        };
        holder(chain, i)
    }

    /// What keeps the row selected across refreshes: the chain's first waiter and the row's
    /// place in the chain (0 for the chain's own row, `i + 1` for link `i`).
    pub fn key(&self) -> RowKey {
        let (chain, at) = match *self {
            ChainRow::Chain(c) => (c, 0),
            ChainRow::Link(c, i) => (c, i + 1),
        };
        let first = chain.links.first().map(|l| (l.waiter.pid, l.waiter.tid));
        (first, at)
    }

    /// The waiting thread of the row's link (the chain's first for a chain's row).
    pub fn waiter(&self) -> Option<&'a Party> {
        match *self {
            ChainRow::Chain(c) => c.links.first().map(|l| &l.waiter),
            ChainRow::Link(c, i) => c.links.get(i).map(|l| &l.waiter),
        }
    }
}

/// A row's identity: its chain's first waiter (pid, tid) and its place in the chain.
pub type RowKey = (Option<(u32, Option<u32>)>, usize);

/// Link `i`'s holder: the next link's waiter when the chain goes on, else its first holder.
pub fn holder(chain: &WaitChain, i: usize) -> Option<&Party> {
    chain
        .links
        .get(i + 1)
        .map(|l| &l.waiter)
        .or_else(|| chain.links.get(i)?.holders.first())
}

/// The root blocker: the holder of the last link (None when the chain closes a cycle).
pub fn root(chain: &WaitChain) -> Option<&Party> {
    if chain.cycle.is_some() {
        return None;
    }
    holder(chain, chain.links.len().checked_sub(1)?)
}

/// The chains of `p`, longest first (then by first waiter); a chain whose first waiter is on
/// a longer one already listed is its tail, and left out.
pub fn chains(p: &Process) -> Vec<&WaitChain> {
    let mut all: Vec<&WaitChain> = p
        .threads()
        .iter()
        .filter_map(|t| t.facts().chain.as_ref())
        .filter(|c| !c.links.is_empty())
        .collect();
    all.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.links.len()),
            c.links[0].waiter.tid.unwrap_or(0),
        )
    });
    let mut listed: Vec<&WaitChain> = Vec::new();
    for c in all {
        let first = &c.links[0].waiter;
        let on_listed = listed.iter().any(|l| {
            l.links
                .iter()
                .any(|x| x.waiter.pid == first.pid && x.waiter.tid == first.tid)
        });
        if !on_listed {
            listed.push(c);
        }
    }
    listed
}

/// The view's rows: each chain's row, then its links', bounded.
pub fn rows(p: &Process) -> Vec<ChainRow<'_>> {
    let mut rows = Vec::new();
    for c in chains(p) {
        rows.push(ChainRow::Chain(c));
        rows.extend((0..c.links.len()).map(|i| ChainRow::Link(c, i)));
        if rows.len() >= MAX_ROWS {
            rows.truncate(MAX_ROWS);
            break;
        }
    }
    rows
}

/// The chain view's selected row: by its chain's first waiter and its place in the chain,
/// so it stays on the same link as refreshes reorder the chains; by its index when that row
/// is gone.
#[derive(Debug, Clone, Default)]
pub struct ChainsPane {
    key: Option<RowKey>,
    index: usize,
}

impl ChainsPane {
    /// The selected row's index among `rows`.
    pub fn selected(&self, rows: &[ChainRow]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        self.key
            .and_then(|k| rows.iter().position(|r| r.key() == k))
            .or(Some(self.index.min(rows.len() - 1)))
    }

    /// Selects row `i` of `rows`: true if the selection changed.
    pub(super) fn select(&mut self, rows: &[ChainRow], i: usize) -> bool {
        let key = rows.get(i).map(ChainRow::key);
        let changed = self.key != key || self.index != i;
        self.key = key;
        self.index = i;
        changed
    }
}
