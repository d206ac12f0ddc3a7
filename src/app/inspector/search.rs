//! The inspector's search: the text typed after `/`, whether it is still being typed and
//! whether it filters the threads list; and what matches it (a substring, ignoring case
//! unless the text has a capital, as `less` and vim's smartcase do) in a thread's name, what
//! it waits on, and its frames' symbols, source files and modules.

use std::ops::Range;

use crate::tracer::{Frame, Thread};

/// The search text, and whether it is typed now or filters the threads list.
#[derive(Debug, Clone, Default)]
pub struct Search {
    text: String,
    editing: bool,
    filter: bool,
}

impl Search {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Keys are being typed into the search.
    pub fn is_editing(&self) -> bool {
        self.editing
    }

    /// Typed now, or kept with a text: matches are marked and `n`/`N` jump.
    pub fn is_shown(&self) -> bool {
        self.editing || !self.text.is_empty()
    }

    /// The threads list shows only the matching threads.
    pub fn filters(&self) -> bool {
        self.filter && !self.text.is_empty()
    }

    /// What the text matches, if there is a text.
    pub fn pattern(&self) -> Option<Pattern> {
        Pattern::new(&self.text)
    }

    /// `/`: a new search (the previous text goes, as in `less`).
    pub(super) fn open(&mut self) {
        self.editing = true;
        self.text.clear();
    }

    /// Enter: the text stays, the prompt closes.
    pub(super) fn keep(&mut self) {
        self.editing = false;
    }

    /// Esc: the search and its filter go.
    pub(super) fn clear(&mut self) {
        *self = Search::default();
    }

    pub(super) fn push(&mut self, c: char) {
        self.text.push(c);
    }

    pub(super) fn pop(&mut self) {
        self.text.pop();
    }

    /// `f`: filter by the search, or stop; false (and no filter) when there is no text.
    pub(super) fn toggle_filter(&mut self) -> bool {
        self.filter = !self.filter && !self.text.is_empty();
        self.filter
    }
}

/// A search text ready to match: lowercased once when the matching ignores case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    needle: Vec<char>,
    /// Case is ignored (the text has no capital letter).
    fold: bool,
    /// The text as typed, when it is ASCII: then bytes are compared (ignoring ASCII case
    /// when `fold`), which is what most searches are and what a 1000-thread list needs.
    ascii: Option<Vec<u8>>,
}

impl Pattern {
    /// None for an empty text.
    pub fn new(text: &str) -> Option<Pattern> {
        if text.is_empty() {
            return None;
        }
        let fold = !text.chars().any(char::is_uppercase);
        let needle = if fold {
            text.chars().flat_map(char::to_lowercase).collect()
        } else {
            text.chars().collect()
        };
        let ascii = text.is_ascii().then(|| text.as_bytes().to_vec());
        Some(Pattern {
            needle,
            fold,
            ascii,
        })
    }

    /// The match at the start of `s` for an ASCII text: its length in bytes.
    fn ascii_match_len(&self, needle: &[u8], s: &[u8]) -> Option<usize> {
        let head = s.get(..needle.len())?;
        let same = if self.fold {
            head.eq_ignore_ascii_case(needle)
        } else {
            head == needle
        };
        same.then_some(needle.len())
    }

    /// The length in bytes of the match at the start of `s`, if one starts there.
    fn match_len(&self, s: &str) -> Option<usize> {
        if let Some(needle) = &self.ascii {
            return self.ascii_match_len(needle, s.as_bytes());
        }
        let mut want = self.needle.iter();
        let mut left = self.needle.len();
        for (i, c) in s.char_indices() {
            if left == 0 {
                return Some(i);
            }
            if self.fold {
                for l in c.to_lowercase() {
                    if want.next() != Some(&l) {
                        return None;
                    }
                    left -= 1;
                }
            } else {
                if want.next() != Some(&c) {
                    return None;
                }
                left -= 1;
            }
        }
        (left == 0).then_some(s.len())
    }

    pub fn matches(&self, hay: &str) -> bool {
        if let Some(needle) = &self.ascii {
            let bytes = hay.as_bytes();
            return (0..bytes.len().saturating_sub(needle.len()) + 1)
                .any(|i| self.ascii_match_len(needle, &bytes[i..]).is_some());
        }
        hay.char_indices()
            .any(|(i, _)| self.match_len(&hay[i..]).is_some())
    }

    /// The byte ranges of the matches in `hay`, left to right, not overlapping (to mark them).
    pub fn find_all(&self, hay: &str) -> Vec<Range<usize>> {
        let mut found = Vec::new();
        let mut from = 0;
        for (i, _) in hay.char_indices() {
            if i < from {
                continue;
            }
            if let Some(len) = self.match_len(&hay[i..]) {
                found.push(i..i + len);
                from = i + len;
            }
        }
        found
    }

    /// The thread's own words match: its name, or what it waits on (the decoded call, the
    /// wchan, the system call's name).
    pub fn thread_matches(&self, t: &Thread) -> bool {
        let f = t.facts();
        t.name().is_some_and(|n| self.matches(n))
            || f.wait.as_deref().is_some_and(|w| self.matches(w))
            || f.wchan.as_deref().is_some_and(|w| self.matches(w))
            || f.syscall
                .as_ref()
                .and_then(|s| s.name())
                .is_some_and(|n| self.matches(n))
    }

    /// The frame's symbol, source file or module matches.
    pub fn frame_matches(&self, fr: &Frame) -> bool {
        fr.symbol().is_some_and(|s| self.matches(s.name()))
            || fr.location().is_some_and(|l| self.matches(&l.file))
            || fr.module().is_some_and(|m| self.matches(&m.path))
    }

    /// The indexes of the thread's matching frames.
    pub fn matching_frames(&self, t: &Thread) -> Vec<usize> {
        t.frames()
            .iter()
            .enumerate()
            .filter(|(_, fr)| self.frame_matches(fr))
            .map(|(i, _)| i)
            .collect()
    }

    /// The thread matches, by its own words or a frame.
    pub fn any_match(&self, t: &Thread) -> bool {
        self.thread_matches(t) || t.frames().iter().any(|fr| self.frame_matches(fr))
    }
}

/// How many threads match and how many frames in all, for the prompt's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchCount {
    pub threads: usize,
    pub frames: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smartcase_substring() {
        let p = Pattern::new("malloc").unwrap();
        assert!(p.matches("__libc_MALLOC_impl"));
        assert!(p.matches("malloc"));
        assert!(!p.matches("mallo"));
        let p = Pattern::new("Malloc").unwrap();
        assert!(
            !p.matches("malloc"),
            "a capital makes the search case-sensitive"
        );
        assert!(p.matches("xMalloc"));
        assert_eq!(Pattern::new(""), None);
        // Beyond ASCII, case is folded character by character.
        let p = Pattern::new("größe").unwrap();
        assert!(!p.matches("Max GRÖSSE") && p.matches("die GRÖßE"));
        assert_eq!(p.find_all("die GRÖßE"), vec![4..11]);
    }

    #[test]
    fn find_all_gives_byte_ranges_that_do_not_overlap() {
        let p = Pattern::new("aa").unwrap();
        assert_eq!(p.find_all("aaaXaa"), vec![0..2, 4..6]);
        // Ranges are in bytes of the original text, with multi-byte characters before.
        let p = Pattern::new("wait").unwrap();
        assert_eq!(p.find_all("← futex_WAIT"), vec![10..14]);
        assert_eq!(&"← futex_WAIT"[10..14], "WAIT");
        assert!(p.find_all("nothing").is_empty());
    }

    #[test]
    fn open_starts_afresh_and_the_filter_needs_a_text() {
        let mut s = Search::default();
        assert!(!s.toggle_filter(), "no text, no filter");
        s.open();
        s.push('m');
        s.push('c');
        assert!(s.is_editing() && s.is_shown());
        s.keep();
        assert!(!s.is_editing() && s.is_shown());
        assert!(s.toggle_filter() && s.filters());
        assert!(!s.toggle_filter());
        s.open();
        assert_eq!(s.text(), "");
        s.clear();
        assert!(!s.is_shown() && !s.filters());
    }
}
