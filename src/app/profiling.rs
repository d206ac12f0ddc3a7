//! What the app does with the profile view open: its keys (before the panes' own), the worker
//! told to sample while it is open and to stop when it closes, each snapshot counted, and
//! its save (`w` to the current directory, `W` to a path asked for).

use std::sync::Arc;

use super::inspector::profile::SAMPLE_INTERVAL;
use super::keymap::Command;
use super::{App, Effect, SavePrompt};
use crate::profile::Profile;
use crate::tracer::Process;

impl App {
    /// The profile view is open.
    pub fn profiling(&self) -> bool {
        self.inspector
            .as_ref()
            .is_some_and(|i| i.profile().is_some())
    }

    /// `p` in the inspector: opens the view and has the worker sample.
    pub(super) fn open_profile(&mut self) -> Vec<Effect> {
        let Some(i) = &mut self.inspector else {
            return Vec::new();
        };
        if self.refresh.offline() || i.profile().is_some() {
            return Vec::new();
        }
        i.toggle_profile();
        vec![Effect::SetProfiling(Some(SAMPLE_INTERVAL))]
    }

    /// The command `c` while the profile view is open; None when it is not open (the panes
    /// take the command).
    pub(super) fn profile_command(&mut self, c: Command) -> Option<Vec<Effect>> {
        let page = self.page_size();
        let name = self.profile_file_name();
        let i = self.inspector.as_mut()?;
        let view = i.profile_mut()?;
        let typing = view.search().is_editing();
        match c {
            Command::Enter if typing => view.keep_search(),
            Command::Back if view.back() => {}
            Command::Back | Command::Profile => {
                i.toggle_profile();
                return Some(vec![Effect::SetProfiling(None)]);
            }
            Command::Quit | Command::Help => return None,
            Command::TogglePause => {
                view.catch_up();
                return None;
            }
            Command::SaveProfile | Command::SaveProfileAs => {
                let profile = Arc::new(view.profile().clone());
                if profile.snapshots == 0 {
                    self.status_note = Some("no samples yet".into());
                } else if c == Command::SaveProfileAs {
                    self.save_prompt = Some(SavePrompt::for_profile(name, String::new(), profile));
                } else {
                    return Some(vec![Effect::SaveProfile {
                        profile: SavedProfile(profile),
                        name,
                        to: None,
                    }]);
                }
            }
            _ => self.status_note = view.command(c, page),
        }
        Some(Vec::new())
    }

    /// The mouse wheel in the profile view: the table's selection, or the flame graph's level.
    pub(super) fn profile_move(&mut self, m: super::Move) {
        let Some(view) = self.inspector.as_mut().and_then(|i| i.profile_mut()) else {
            return;
        };
        match m {
            super::Move::Up(n) => view.command(Command::PageUp, n),
            super::Move::Down(n) => view.command(Command::PageDown, n),
            super::Move::To(0) => view.command(Command::Top, 0),
            super::Move::To(_) => view.command(Command::Bottom, 0),
        };
    }

    /// A character typed into the profile view's search (`None`: Backspace); false when its
    /// search is not being typed.
    pub(super) fn profile_search_edit(&mut self, c: Option<char>) -> bool {
        let Some(view) = self.inspector.as_mut().and_then(|i| i.profile_mut()) else {
            return false;
        };
        if !view.search().is_editing() {
            return false;
        }
        view.search_edit(c);
        true
    }

    /// A snapshot of the inspected process counts in the open profile (a sample between
    /// refreshes, or a refresh).
    pub(super) fn profile_sample(&mut self, p: &Process) {
        if let Some(i) = &mut self.inspector
            && i.pid() == p.id()
            && let Some(view) = i.profile_mut()
        {
            view.add(p);
        }
    }

    /// The name a saved profile gets: the snapshot file's name for the newest snapshot, as
    /// folded stacks.
    fn profile_file_name(&self) -> String {
        use crate::tracer::schema::SnapshotDoc;
        use crate::tracer::snapfile;
        let newest = self.inspector.as_ref().and_then(|i| i.history().newest());
        let name = match newest {
            Some(p) => snapfile::default_file_name(&SnapshotDoc::from(p.as_ref())),
            None => "rstack-profile.json".to_string(),
        };
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        format!("{stem}.folded")
    }
}

/// A profile handed to the event loop to save (one is equal only to itself: effects are
/// compared in tests).
#[derive(Debug, Clone)]
pub struct SavedProfile(pub Arc<Profile>);

impl PartialEq for SavedProfile {
    fn eq(&self, other: &SavedProfile) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A save of a profile refused where it was asked: ask where, starting from `suggestion`.
#[derive(Debug, Clone)]
pub struct ProfileRefused {
    pub failed_dir: String,
    pub error: String,
    pub suggestion: String,
    pub profile: Arc<Profile>,
}

#[cfg(test)]
mod tests {
    use super::super::keymap::Context;
    use super::super::{Action, App, Effect};
    use super::*;
    use crate::tracer::diff::fixture::snapshot;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    const T0: u64 = 1_795_953_600_000;

    fn snap(at: u64) -> Arc<Process> {
        Arc::new(snapshot(
            T0 + at,
            &[
                (1, "main", 0, &["spin", "main"]),
                (2, "w", 0, &["read", "w"]),
            ],
        ))
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        match app.key_action(KeyEvent::from(code)) {
            Some(a) => app.update(a),
            None => Vec::new(),
        }
    }

    #[test]
    fn p_samples_while_open_and_esc_stops_it() {
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Snapshot(snap(0)));
        assert_eq!(
            press(&mut app, KeyCode::Char('p')),
            [Effect::SetProfiling(Some(SAMPLE_INTERVAL))]
        );
        assert_eq!(app.context(), Context::Profile);
        // Samples and refreshes both count; only refreshes go to the history.
        app.update(Action::Sample(snap(50)));
        app.update(Action::Sample(snap(100)));
        app.update(Action::Snapshot(snap(150)));
        let i = app.inspector().unwrap();
        let view = i.profile().unwrap();
        assert_eq!((view.profile().snapshots, view.tree().samples), (3, 6));
        assert_eq!(i.history().len(), 2);
        // s sorts the table here, not the threads; Space still pauses.
        let threads_sort = app.inspector().unwrap().thread_sort();
        press(&mut app, KeyCode::Char('s'));
        let i = app.inspector().unwrap();
        assert_eq!(
            i.profile().unwrap().sort(),
            super::super::inspector::profile::SortColumn::Total
        );
        assert_eq!(i.thread_sort(), threads_sort);
        assert_eq!(
            press(&mut app, KeyCode::Char(' ')),
            [Effect::SetPaused(true)]
        );
        // The search is typed: `p` is text, not the close key.
        press(&mut app, KeyCode::Char('/'));
        press(&mut app, KeyCode::Char('p'));
        assert!(app.profiling());
        assert_eq!(
            app.inspector().unwrap().profile().unwrap().search().text(),
            "p"
        );
        press(&mut app, KeyCode::Esc);
        assert_eq!(press(&mut app, KeyCode::Esc), [Effect::SetProfiling(None)]);
        assert_eq!(app.context(), Context::Inspector);
        // Reopened, the wheel moves the table's selection, a click selects nothing under it.
        press(&mut app, KeyCode::Char('p'));
        app.update(Action::Sample(snap(175)));
        app.update(Action::Scroll(3));
        let at = |app: &App| app.inspector().unwrap().profile().unwrap().table_index();
        assert_eq!(at(&app), Some(3));
        let tid = app.inspector().unwrap().selected_tid();
        app.update(Action::ClickRow {
            pane: Some(super::super::Pane::Threads),
            row: 1,
        });
        assert_eq!(
            (at(&app), app.inspector().unwrap().selected_tid()),
            (Some(3), tid)
        );
        press(&mut app, KeyCode::Char('p'));
        // Samples after closing count nowhere.
        app.update(Action::Sample(snap(200)));
        assert!(app.inspector().unwrap().profile().is_none());
    }

    #[test]
    fn w_saves_the_profile_and_a_refusal_asks_where() {
        let mut app = App::new();
        app.update(Action::Inspect(4242));
        app.update(Action::Snapshot(snap(0)));
        press(&mut app, KeyCode::Char('p'));
        assert!(press(&mut app, KeyCode::Char('w')).is_empty());
        assert_eq!(app.status_note(), Some("no samples yet"));
        app.update(Action::Sample(snap(50)));
        let saved = match press(&mut app, KeyCode::Char('w')).as_slice() {
            [
                Effect::SaveProfile {
                    profile,
                    name,
                    to: None,
                },
            ] => {
                assert!(
                    name.starts_with("rstack-4242-app-") && name.ends_with("Z.folded"),
                    "{name}"
                );
                profile.0.clone()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(saved.snapshots, 1);
        app.update(Action::SaveProfileRefused(ProfileRefused {
            failed_dir: "/srv".into(),
            error: "Permission denied (os error 13)".into(),
            suggestion: "/tmp/x.folded".into(),
            profile: saved,
        }));
        assert_eq!(app.save_prompt().map(|p| p.path()), Some("/tmp/x.folded"));
        for _ in 0.."folded".len() {
            press(&mut app, KeyCode::Backspace);
        }
        for c in "pb.gz".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        match press(&mut app, KeyCode::Enter).as_slice() {
            [Effect::SaveProfile { to: Some(to), .. }] => {
                assert_eq!(to.to_str(), Some("/tmp/x.pb.gz"))
            }
            other => panic!("{other:?}"),
        }
        // W asks first, with no failure to tell.
        press(&mut app, KeyCode::Char('W'));
        let p = app.save_prompt().unwrap();
        assert!(p.failed().is_empty() && p.path().ends_with(".folded"));
    }

    #[test]
    fn loaded_snapshots_have_no_profile_view() {
        let mut app = App::new();
        app.update(Action::OpenOffline(vec![snap(0), snap(1000)]));
        assert!(press(&mut app, KeyCode::Char('p')).is_empty());
        assert!(!app.profiling());
    }
}
