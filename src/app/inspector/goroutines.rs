//! The goroutine view's selection (a Go process): the selected goroutine, by its id, so it
//! survives refreshes.

use crate::tracer::Goroutine;

/// The selected goroutine's id.
#[derive(Debug, Clone, Default)]
pub struct GoroutinesPane {
    selected: Option<u64>,
}

impl GoroutinesPane {
    /// The selected goroutine in `list`: the first when none is selected yet, or the selected
    /// one is gone.
    pub fn selected<'a>(&self, list: &'a [Goroutine]) -> Option<&'a Goroutine> {
        self.selected
            .and_then(|id| list.iter().find(|g| g.id() == id))
            .or(list.first())
    }

    /// Selects goroutine `id`: true if the selection changed.
    pub(super) fn select(&mut self, id: u64) -> bool {
        let changed = self.selected != Some(id);
        self.selected = Some(id);
        changed
    }
}
