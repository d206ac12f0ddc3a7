//! Wording shared by the text output (`dump`, `diff`) and the inspector's panes: what a thread
//! waits on and for which lock, deadlock cycles, the frame worth showing, why a stack ends,
//! clock times and file names. It reads tracer values only, so `dump` and `ui` can both use it
//! without depending on each other.

pub mod brief;
mod chains;
mod frames;
mod notes;
mod waits;

pub use chains::{
    chain_heading, chain_lines, chain_short, link_object, link_text, listed_chains, party_label,
    party_state, wait_cycle_brief, wait_cycle_text, write_chain,
};
pub use frames::{frame_symbol, frame_width, interesting_frame, stack_end_gist};
pub use notes::{
    line_cache_refused, no_permission_text, shown_thread_name, thread_selected_text, unguarded_text,
};
pub use waits::{capture_note, cycle_text, goroutine_state, lock_text, owner_text, waiting_on};

use std::time::SystemTime;

use crate::text::inert;

/// The file name of a path: what is left after the last `/`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// "14:03:07": the time of day, UTC, of `t`.
pub fn clock(t: SystemTime) -> String {
    let s = crate::tracer::schema::rfc3339(t);
    // rfc3339 is "YYYY-MM-DDTHH:MM:SS.mmmZ": the time of day is at a fixed place.
    s.get(11..19).unwrap_or_default().to_string()
}

/// `s` made inert and in double quotes, with `"` and `\` escaped: a thread's or a command's
/// name in the text output.
pub fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in inert(s).chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn basename_clock_and_quotes() {
        assert_eq!(basename("/usr/lib/libc.so.6"), "libc.so.6");
        assert_eq!(basename("[vdso]"), "[vdso]");
        assert_eq!(basename("dir/"), "");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_953_600_123 + 3_723_000);
        assert_eq!(clock(t), "13:02:03");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
