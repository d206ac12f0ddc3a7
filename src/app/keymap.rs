//! The one keymap table: it dispatches keys, draws the footer and fills the help screen, so
//! the three can never disagree.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Back,
    Help,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    NextPane,
    PrevPane,
    Enter,
    Filter,
    Sort,
    InvertSort,
    ToggleKernel,
    SnapshotNow,
    TogglePause,
    Faster,
    Slower,
    ToggleMode,
    DiffView,
    GroupView,
    GoroutineView,
    OlderBase,
    NewerBase,
    OlderSnapshot,
    NewerSnapshot,
    SortThreads,
    Save,
    SaveHistory,
    Search,
    SearchNext,
    SearchPrev,
    FilterThreads,
    FollowWait,
    /// Back to the place the follow key (or the chain view's Enter) left.
    Return,
    /// Open the chain view, or close it.
    ChainView,
    ScrollLeft,
    ScrollRight,
    BriefFrames,
    /// Open the profile view, or close it.
    Profile,
    /// The profile's scope: the whole process or the thread selected when it opened.
    ProfileScope,
    /// The top-functions table's next sort column.
    ProfileSort,
    /// Save the profile (folded) in the current directory.
    SaveProfile,
    /// Save the profile at a path asked for (its extension picks the format).
    SaveProfileAs,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Every screen.
    Global,
    /// The process list.
    ProcessList,
    /// The inspector of one process (threads and frames).
    Inspector,
    /// The inspector on snapshots loaded from files (`load`): the inspector's bindings but
    /// the live ones (see [`live_only`]).
    Loaded,
    /// The profile view (`p`) of a live process.
    Profile,
}

/// A key: its code and whether Ctrl is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}
const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

/// One row of the keymap.
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in the footer and help.
    pub label: &'static str,
    pub command: Command,
    /// A few words for the footer.
    pub short: &'static str,
    /// A sentence for the help screen.
    pub help: &'static str,
    pub context: Context,
    /// Shown in the footer (the help screen shows all).
    pub footer: bool,
}

/// The keymap. Order is the order of the footer and of the help screen.
pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[k('q'), ctrl('c')],
        label: "q",
        command: Command::Quit,
        short: "quit",
        help: "Quit (every traced thread is detached first)",
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[k('?'), code(KeyCode::F(1))],
        label: "?",
        command: Command::Help,
        short: "help",
        help: "Show or hide this help",
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        command: Command::Back,
        short: "back",
        help: "Back one level: close help or the frame detail, clear the search or the filter, leave the diff, group, goroutine or chain view, then the process for the list (its history is kept for going back in)",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        command: Command::Enter,
        short: "inspect",
        help: "Inspect the selected process",
        context: Context::ProcessList,
        footer: true,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        command: Command::Enter,
        short: "frame",
        help: "Frame detail: whole symbol, inlining, file:line, module, source",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Left)],
        label: "←",
        command: Command::ScrollLeft,
        short: "left",
        help: "Scroll the stack's symbols left",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Right)],
        label: "→",
        command: Command::ScrollRight,
        short: "right",
        help: "Scroll the stack's symbols right, to a long symbol's tail",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('/')],
        label: "/",
        command: Command::Filter,
        short: "filter",
        help: "Filter by name, command line, user or pid as you type (Enter keeps it, Esc clears it)",
        context: Context::ProcessList,
        footer: true,
    },
    Binding {
        keys: &[k('s')],
        label: "s",
        command: Command::Sort,
        short: "sort",
        help: "Sort by the next column",
        context: Context::ProcessList,
        footer: true,
    },
    Binding {
        keys: &[k('I')],
        label: "I",
        command: Command::InvertSort,
        short: "invert",
        help: "Invert the sort order",
        context: Context::ProcessList,
        footer: false,
    },
    Binding {
        keys: &[k('K')],
        label: "K",
        command: Command::ToggleKernel,
        short: "kthreads",
        help: "Show or hide kernel threads",
        context: Context::ProcessList,
        footer: false,
    },
    Binding {
        keys: &[k('r')],
        label: "r",
        command: Command::SnapshotNow,
        short: "snap",
        help: "Take a snapshot now",
        context: Context::Inspector,
        footer: true,
    },
    Binding {
        keys: &[k(' ')],
        label: "Space",
        command: Command::TogglePause,
        short: "pause",
        help: "Pause or resume auto-refresh",
        context: Context::Inspector,
        footer: true,
    },
    Binding {
        keys: &[k('+'), k('=')],
        label: "+",
        command: Command::Slower,
        short: "slower",
        help: "Refresh less often (interval up to 60 s)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('-')],
        label: "-",
        command: Command::Faster,
        short: "faster",
        help: "Refresh more often (interval down to 0.5 s)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('m')],
        label: "m",
        command: Command::ToggleMode,
        short: "mode",
        help: "Switch between rolling (one thread stopped at a time) and consistent snapshot mode",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('d')],
        label: "d",
        command: Command::DiffView,
        short: "diff",
        help: "Diff view: what changed between two snapshots (new, exited, changed, unchanged threads)",
        context: Context::Inspector,
        footer: true,
    },
    Binding {
        keys: &[k('c')],
        label: "c",
        command: Command::GroupView,
        short: "group",
        help: "Group view: threads with identical stacks collapsed into one row, largest first",
        context: Context::Inspector,
        footer: true,
    },
    Binding {
        keys: &[k('o')],
        label: "o",
        command: Command::GoroutineView,
        short: "goroutines",
        help: "Goroutine view: a Go process's goroutines and their stacks",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('[')],
        label: "[",
        command: Command::OlderBase,
        short: "older",
        help: "Diff against an older snapshot of the history",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k(']')],
        label: "]",
        command: Command::NewerBase,
        short: "newer",
        help: "Diff against a newer snapshot of the history",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('<')],
        label: "<",
        command: Command::OlderSnapshot,
        short: "earlier",
        help: "View an older snapshot of the history (its stacks, groups and diff; the title says which)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('>')],
        label: ">",
        command: Command::NewerSnapshot,
        short: "later",
        help: "View a newer snapshot; past the newest, back to live",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('s')],
        label: "s",
        command: Command::SortThreads,
        short: "sort",
        help: "Sort threads: by id, by how long their stack has not changed (longest first), by CPU",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('w')],
        label: "w",
        command: Command::Save,
        short: "save",
        help: "Save the current snapshot as JSON (same schema as dump --json) in the current directory",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('W')],
        label: "W",
        command: Command::SaveHistory,
        short: "save all",
        help: "Save the whole snapshot history as one JSON file",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('b')],
        label: "b",
        command: Command::BriefFrames,
        short: "brief",
        help: "Brief stacks: hide the interpreter's frames between Python frames, or show the whole stack",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('p')],
        label: "p",
        command: Command::Profile,
        short: "profile",
        help: "Profile view: sample the process (20 Hz) while it is open: top functions and a flame graph",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('/')],
        label: "/",
        command: Command::Search,
        short: "search",
        help: "Search stacks (symbols, files, modules), thread names and waits as you type (Enter keeps)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('n')],
        label: "n",
        command: Command::SearchNext,
        short: "next",
        help: "Next match of the search (thread and frame)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('N')],
        label: "N",
        command: Command::SearchPrev,
        short: "prev",
        help: "Previous match of the search",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('f'), k('\\')],
        label: "f/\\",
        command: Command::FilterThreads,
        short: "filter",
        help: "Filter the threads list to the search's matches, or show all again",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('H')],
        label: "H",
        command: Command::FollowWait,
        short: "follow",
        help: "Follow the wait to its holder, here or in another process, or along the deadlock cycle",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Backspace)],
        label: "Bksp",
        command: Command::Return,
        short: "return",
        help: "Return to where H or the chain view's Enter came from (process, view, thread, scroll)",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('C')],
        label: "C",
        command: Command::ChainView,
        short: "chains",
        help: "Chain view: the wait chains, longest first, root blocker first; Enter follows a link",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        label: "Tab",
        command: Command::NextPane,
        short: "pane",
        help: "Focus the next pane (Shift-Tab: the previous one)",
        context: Context::Inspector,
        footer: true,
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        label: "S-Tab",
        command: Command::PrevPane,
        short: "pane",
        help: "Focus the previous pane",
        context: Context::Inspector,
        footer: false,
    },
    Binding {
        keys: &[k('p')],
        label: "p",
        command: Command::Profile,
        short: "close",
        help: "Close the profile view (sampling stops; the refresh goes back to its interval)",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Tab), code(KeyCode::BackTab)],
        label: "Tab",
        command: Command::NextPane,
        short: "view",
        help: "Switch between the top-functions table and the flame graph",
        context: Context::Profile,
        footer: true,
    },
    Binding {
        keys: &[k('s')],
        label: "s",
        command: Command::ProfileSort,
        short: "sort",
        help: "Sort the table by the next column: self, total, on-CPU, off-CPU, name",
        context: Context::Profile,
        footer: true,
    },
    Binding {
        keys: &[k('t')],
        label: "t",
        command: Command::ProfileScope,
        short: "thread",
        help: "Profile of the whole process, or of the thread selected when the view opened",
        context: Context::Profile,
        footer: true,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        command: Command::Enter,
        short: "zoom",
        help: "Flame graph: zoom into the selected frame (its subtree fills the width; Esc zooms out); table: the function in the flame graph",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Left), k('h')],
        label: "\u{2190}/h",
        command: Command::ScrollLeft,
        short: "left",
        help: "Flame graph: the frame to the left (the previous sibling)",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::Right), k('l')],
        label: "\u{2192}/l",
        command: Command::ScrollRight,
        short: "right",
        help: "Flame graph: the frame to the right (the next sibling)",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[k('/')],
        label: "/",
        command: Command::Search,
        short: "search",
        help: "Search function names: matches are marked, the footer gives their share of the samples",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[k('n')],
        label: "n",
        command: Command::SearchNext,
        short: "next",
        help: "Next match of the search",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[k('N')],
        label: "N",
        command: Command::SearchPrev,
        short: "prev",
        help: "Previous match of the search",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[k(' ')],
        label: "Space",
        command: Command::TogglePause,
        short: "pause",
        help: "Pause or resume sampling",
        context: Context::Profile,
        footer: true,
    },
    Binding {
        keys: &[k('w')],
        label: "w",
        command: Command::SaveProfile,
        short: "save",
        help: "Save the profile as folded stacks (flamegraph.pl, inferno) in the current directory",
        context: Context::Profile,
        footer: true,
    },
    Binding {
        keys: &[k('W')],
        label: "W",
        command: Command::SaveProfileAs,
        short: "save as",
        help: "Save the profile at a path asked for: .pb.gz is pprof, .speedscope.json speedscope, else folded",
        context: Context::Profile,
        footer: false,
    },
    Binding {
        keys: &[k('k'), code(KeyCode::Up)],
        label: "k/↑",
        command: Command::Up,
        short: "up",
        help: "Move up",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[k('j'), code(KeyCode::Down)],
        label: "j/↓",
        command: Command::Down,
        short: "down",
        help: "Move down",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[k('g'), code(KeyCode::Home)],
        label: "g/Home",
        command: Command::Top,
        short: "top",
        help: "Go to the first row",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[k('G'), code(KeyCode::End)],
        label: "G/End",
        command: Command::Bottom,
        short: "bottom",
        help: "Go to the last row",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        label: "PgUp",
        command: Command::PageUp,
        short: "page up",
        help: "Up one page",
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        label: "PgDn",
        command: Command::PageDown,
        short: "page down",
        help: "Down one page",
        context: Context::Global,
        footer: false,
    },
];

/// Whether a binding of `context` is active on a screen of `screen` context (loaded
/// snapshots take the inspector's bindings; [`binding_active`] drops the live ones).
pub fn active(context: Context, screen: Context) -> bool {
    context == Context::Global
        || context == screen
        || (screen == Context::Loaded && context == Context::Inspector)
}

/// Commands that act on live tracing only: nothing to do on loaded snapshots.
pub fn live_only(c: Command) -> bool {
    matches!(
        c,
        Command::SnapshotNow
            | Command::TogglePause
            | Command::Faster
            | Command::Slower
            | Command::ToggleMode
            | Command::Profile
    )
}

/// Whether binding `b` acts on a screen of `screen` context.
pub fn binding_active(b: &Binding, screen: Context) -> bool {
    active(b.context, screen) && !(screen == Context::Loaded && live_only(b.command))
}

/// Whether binding `b` shows in the footer on `screen`: stepping through snapshots is what
/// loaded snapshots are for, so it shows there (live, the footer has no room for it); the
/// brief form only where there are interpreter threads (`python`).
fn in_footer(b: &Binding, screen: Context, python: bool) -> bool {
    b.footer
        || (screen == Context::Loaded
            && matches!(b.command, Command::OlderSnapshot | Command::NewerSnapshot))
        || (python && b.command == Command::BriefFrames)
}

/// The command a key press means on `screen`.
pub fn lookup(screen: Context, key: KeyEvent) -> Option<Command> {
    let pressed = Key {
        code: key.code,
        ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
    };
    KEYMAP
        .iter()
        .filter(|b| binding_active(b, screen))
        .find(|b| b.keys.contains(&pressed))
        .map(|b| b.command)
}

/// The binding of a command (its first, if several contexts bind it).
pub fn binding(command: Command) -> Option<&'static Binding> {
    KEYMAP.iter().find(|b| b.command == command)
}

/// The footer's bindings on `screen`, for a process with interpreter threads when `python`:
/// (label, short description).
pub fn footer(screen: Context, python: bool) -> impl Iterator<Item = (&'static str, &'static str)> {
    KEYMAP
        .iter()
        .filter(move |b| in_footer(b, screen, python) && binding_active(b, screen))
        .map(|b| (b.label, b.short))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

    #[test]
    fn every_command_has_a_key_and_no_key_is_bound_twice_in_one_context() {
        for screen in [
            Context::ProcessList,
            Context::Inspector,
            Context::Loaded,
            Context::Profile,
        ] {
            let mut seen = Vec::new();
            for b in KEYMAP.iter().filter(|b| active(b.context, screen)) {
                for key in b.keys {
                    assert!(!seen.contains(key), "{key:?} bound twice on {screen:?}");
                    seen.push(*key);
                }
            }
        }
    }

    #[test]
    fn lookup_respects_context_and_ctrl() {
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(lookup(Context::ProcessList, key('s')), Some(Command::Sort));
        assert_eq!(
            lookup(Context::Inspector, key('s')),
            Some(Command::SortThreads)
        );
        assert_eq!(lookup(Context::ProcessList, key('d')), None);
        assert_eq!(
            lookup(Context::Inspector, key('r')),
            Some(Command::SnapshotNow)
        );
        // Loaded snapshots: the inspector's keys but the live ones.
        assert_eq!(lookup(Context::Loaded, key('r')), None);
        assert_eq!(lookup(Context::Loaded, key(' ')), None);
        assert_eq!(
            lookup(Context::Loaded, key('<')),
            Some(Command::OlderSnapshot)
        );
        assert_eq!(lookup(Context::Loaded, key('d')), Some(Command::DiffView));
        // Reading a frame works offline too: its detail, the symbols' scroll.
        let code = |c| KeyEvent::new(c, KeyModifiers::NONE);
        for (c, command) in [
            (KeyCode::Enter, Command::Enter),
            (KeyCode::Left, Command::ScrollLeft),
            (KeyCode::Right, Command::ScrollRight),
        ] {
            for screen in [Context::Inspector, Context::Loaded] {
                assert_eq!(
                    lookup(screen, code(c)),
                    Some(command),
                    "{c:?} on {screen:?}"
                );
            }
        }
        assert_eq!(
            lookup(
                Context::ProcessList,
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Command::Quit)
        );
        assert_eq!(lookup(Context::ProcessList, key('c')), None);
        // The profile view: its own keys; the panes' keys mean nothing there, and theirs
        // keep their meaning in the process view.
        for (c, command) in [
            ('s', Some(Command::ProfileSort)),
            ('t', Some(Command::ProfileScope)),
            ('w', Some(Command::SaveProfile)),
            ('W', Some(Command::SaveProfileAs)),
            ('p', Some(Command::Profile)),
            ('h', Some(Command::ScrollLeft)),
            ('/', Some(Command::Search)),
            ('j', Some(Command::Down)),
            ('d', None),
            ('H', None),
            ('r', None),
        ] {
            assert_eq!(lookup(Context::Profile, key(c)), command, "{c}");
        }
        for (c, command) in [
            ('s', Some(Command::SortThreads)),
            ('w', Some(Command::Save)),
            ('p', Some(Command::Profile)),
            ('t', None),
            ('h', None),
        ] {
            assert_eq!(lookup(Context::Inspector, key(c)), command, "{c}");
        }
        assert_eq!(lookup(Context::Loaded, key('p')), None, "live only");
    }

    #[test]
    fn the_loaded_footer_offers_nothing_live_and_the_stepping_keys() {
        let labels = |c, py| footer(c, py).map(|(l, _)| l).collect::<Vec<_>>();
        assert_eq!(
            labels(Context::Loaded, false),
            ["q", "?", "d", "c", "<", ">", "Tab"]
        );
        assert_eq!(
            labels(Context::Inspector, false),
            ["q", "?", "r", "Space", "d", "c", "Tab"]
        );
        // An interpreter's process: the brief form's key too, live and loaded.
        assert_eq!(
            labels(Context::Inspector, true),
            ["q", "?", "r", "Space", "d", "c", "b", "Tab"]
        );
        assert_eq!(
            labels(Context::Loaded, true),
            ["q", "?", "d", "c", "<", ">", "b", "Tab"]
        );
        // The profile view's own keys; Tab switches its table and flame graph.
        assert_eq!(
            labels(Context::Profile, false),
            ["q", "?", "Tab", "s", "t", "Space", "w"]
        );
        assert_eq!(
            labels(Context::ProcessList, true),
            ["q", "?", "Enter", "/", "s"]
        );
    }
}
