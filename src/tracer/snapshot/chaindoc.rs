//! Wait chains in the JSON form: a thread's `chain` ({links, cycle, end}) and a process's
//! `wait_cycles`, written only where present so older documents read and write as before.
//! Read back from an untrusted file: strings made inert, counts cut to the schema's bounds,
//! and a chain or cycle naming a kind this build does not know left out whole.

use serde::{Deserialize, Serialize};

use crate::tracer::chains::{LinkKind, Party, WaitChain, WaitCycle, WaitLink};
use crate::tracer::snapshot::snapfile::{MAX_CHAIN_LINKS, MAX_HOLDERS, MAX_WAIT_CYCLES};

/// One blocked thread's chain: `links[i + 1].waiter` is one of `links[i].holders`; `cycle`,
/// the index of the link the chain came back to (a deadlock); `end`, why it stops there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainDoc {
    pub links: Vec<LinkDoc>,
    #[serde(default)]
    pub cycle: Option<u32>,
    #[serde(default)]
    pub end: Option<String>,
}

/// One wait: `kind` is "mutex", "pipe", "unix socket", "tcp", "file lock", "child", ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkDoc {
    pub waiter: PartyDoc,
    pub kind: String,
    pub object: String,
    #[serde(default)]
    pub holders: Vec<PartyDoc>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A process, or one of its threads (`tid`), at one end of a wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyDoc {
    pub pid: u32,
    #[serde(default)]
    pub tid: Option<u32>,
    #[serde(default)]
    pub name: String,
    /// The /proc state letter.
    #[serde(default)]
    pub state: Option<String>,
    /// The call it waits in, decoded.
    #[serde(default)]
    pub wait: Option<String>,
}

/// A cycle of waits: each link's holder waits in the next link, the last link's in the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleDoc {
    pub links: Vec<LinkDoc>,
}

impl From<&Party> for PartyDoc {
    fn from(p: &Party) -> PartyDoc {
        PartyDoc {
            pid: p.pid,
            tid: p.tid,
            name: p.name.clone(),
            state: p.state.map(|c| c.to_string()),
            wait: p.wait.clone(),
        }
    }
}

impl From<&WaitLink> for LinkDoc {
    fn from(l: &WaitLink) -> LinkDoc {
        LinkDoc {
            waiter: PartyDoc::from(&l.waiter),
            kind: l.kind.as_str().into(),
            object: l.object.clone(),
            holders: l.holders.iter().map(PartyDoc::from).collect(),
            note: l.note.clone(),
        }
    }
}

impl From<&WaitChain> for ChainDoc {
    fn from(c: &WaitChain) -> ChainDoc {
        ChainDoc {
            links: c.links.iter().map(LinkDoc::from).collect(),
            cycle: c.cycle.and_then(|i| u32::try_from(i).ok()),
            end: c.end.clone(),
        }
    }
}

impl From<&WaitCycle> for CycleDoc {
    fn from(c: &WaitCycle) -> CycleDoc {
        CycleDoc {
            links: c.links.iter().map(LinkDoc::from).collect(),
        }
    }
}

fn inert(s: &str) -> String {
    crate::tracer::text::inert(s).into_owned()
}

impl PartyDoc {
    fn to_party(&self) -> Party {
        Party {
            pid: self.pid,
            tid: self.tid,
            name: inert(&self.name),
            // Anything but one ASCII letter (a char is not text made inert) is unknown.
            state: self
                .state
                .as_deref()
                .and_then(|s| s.chars().next())
                .filter(char::is_ascii_alphabetic),
            wait: self.wait.as_deref().map(inert),
        }
    }
}

impl LinkDoc {
    /// The link, or None for a kind this build does not know.
    fn to_link(&self) -> Option<WaitLink> {
        Some(WaitLink {
            waiter: self.waiter.to_party(),
            kind: LinkKind::from_name(&self.kind)?,
            object: inert(&self.object),
            holders: self
                .holders
                .iter()
                .take(MAX_HOLDERS)
                .map(PartyDoc::to_party)
                .collect(),
            note: self.note.as_deref().map(inert),
        })
    }
}

/// The links of a document, at most [`MAX_CHAIN_LINKS`], or None if one is of an unknown kind.
fn links_of(links: &[LinkDoc]) -> Option<Vec<WaitLink>> {
    links
        .iter()
        .take(MAX_CHAIN_LINKS)
        .map(LinkDoc::to_link)
        .collect()
}

impl ChainDoc {
    /// The chain it holds; None when empty or a link's kind is unknown. A cycle index past the
    /// links (a cut or forged document) is dropped.
    pub fn to_chain(&self) -> Option<WaitChain> {
        let links = links_of(&self.links)?;
        if links.is_empty() {
            return None;
        }
        let cycle = self
            .cycle
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < links.len());
        Some(WaitChain {
            links,
            cycle,
            end: self.end.as_deref().map(inert),
        })
    }
}

/// The cycles of a document, at most [`MAX_WAIT_CYCLES`], those empty or of an unknown kind
/// left out.
pub fn cycles_of(docs: &[CycleDoc]) -> Vec<WaitCycle> {
    docs.iter()
        .take(MAX_WAIT_CYCLES)
        .filter_map(|c| links_of(&c.links).filter(|l| !l.is_empty()))
        .map(|links| WaitCycle { links })
        .collect()
}
