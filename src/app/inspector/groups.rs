//! The group view's selection: the selected group of identical stacks, by its stack, so it
//! survives refreshes although the groups are re-derived and re-ordered with each snapshot.

use crate::tracer::group::Group;

/// The selected group's stack (its key).
#[derive(Debug, Clone, Default)]
pub struct GroupsPane {
    selected: Option<Vec<String>>,
}

impl GroupsPane {
    /// The selected group's key, if one was selected.
    pub fn selected_key(&self) -> Option<&[String]> {
        self.selected.as_deref()
    }

    /// The selected group's index in `groups`, if it is still there.
    pub fn selected_index(&self, groups: &[Group]) -> Option<usize> {
        let key = self.selected_key()?;
        groups.iter().position(|g| g.key == key)
    }

    /// The selected group in `groups`, else the first.
    pub fn selected<'a>(&self, groups: &'a [Group]) -> Option<&'a Group> {
        self.selected_index(groups)
            .and_then(|i| groups.get(i))
            .or(groups.first())
    }

    /// Selects the group of `key`: true if the selection changed.
    pub(super) fn select(&mut self, key: &[String]) -> bool {
        let changed = self.selected_key() != Some(key);
        self.selected = Some(key.to_vec());
        changed
    }
}
