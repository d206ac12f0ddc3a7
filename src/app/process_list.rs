//! The process list screen's state: the last list read from `/proc`, the selection (by pid,
//! so it survives refreshes), the filter prompt, the sort column and the kernel-thread toggle.

use super::Move;
use super::filter::FilterPrompt;
use super::keymap::Command;
use crate::proclist::ProcessInfo;

/// Columns of the process list, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcColumn {
    Pid,
    User,
    State,
    Threads,
    Cpu,
    Rss,
    Command,
}

impl ProcColumn {
    pub const ALL: [ProcColumn; 7] = [
        ProcColumn::Pid,
        ProcColumn::User,
        ProcColumn::State,
        ProcColumn::Threads,
        ProcColumn::Cpu,
        ProcColumn::Rss,
        ProcColumn::Command,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ProcColumn::Pid => "PID",
            ProcColumn::User => "USER",
            ProcColumn::State => "S",
            ProcColumn::Threads => "THR",
            ProcColumn::Cpu => "CPU%",
            ProcColumn::Rss => "RSS",
            ProcColumn::Command => "COMMAND",
        }
    }

    fn next(self) -> ProcColumn {
        let i = ProcColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        ProcColumn::ALL[(i + 1) % ProcColumn::ALL.len()]
    }
}

/// The process list and how it is shown.
#[derive(Debug, Clone)]
pub struct ProcessList {
    processes: Vec<ProcessInfo>,
    selected_pid: Option<u32>,
    filter: FilterPrompt,
    sort: ProcColumn,
    sort_descending: bool,
    show_kernel: bool,
    /// The first row shown (the list scrolls to keep the selection in view).
    offset: usize,
}

impl Default for ProcessList {
    fn default() -> Self {
        ProcessList {
            processes: Vec::new(),
            selected_pid: None,
            filter: FilterPrompt::default(),
            sort: ProcColumn::Cpu,
            sort_descending: true,
            show_kernel: false,
            offset: 0,
        }
    }
}

impl ProcessList {
    /// Every process of the last list, shown or not.
    pub fn all(&self) -> &[ProcessInfo] {
        &self.processes
    }

    pub fn selected_pid(&self) -> Option<u32> {
        self.selected_pid
    }

    pub fn filter(&self) -> &FilterPrompt {
        &self.filter
    }

    pub fn sort(&self) -> ProcColumn {
        self.sort
    }

    pub fn sort_descending(&self) -> bool {
        self.sort_descending
    }

    /// Kernel threads are listed too.
    pub fn show_kernel(&self) -> bool {
        self.show_kernel
    }

    /// The first row shown.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The list as shown: filtered, kernel threads hidden unless asked, sorted.
    pub fn visible(&self) -> Vec<&ProcessInfo> {
        let matches = self.filter.matcher();
        let mut rows: Vec<&ProcessInfo> = self
            .processes
            .iter()
            .filter(|p| self.show_kernel || !p.kernel_thread)
            .filter(|p| matches(p))
            .collect();
        rows.sort_by(|a, b| {
            let ord = match self.sort {
                ProcColumn::Pid => a.pid.cmp(&b.pid),
                ProcColumn::User => a.user.cmp(&b.user),
                ProcColumn::State => a.state.cmp(&b.state),
                ProcColumn::Threads => a.threads.cmp(&b.threads),
                ProcColumn::Cpu => a.cpu_percent.total_cmp(&b.cpu_percent),
                ProcColumn::Rss => a.rss_bytes.cmp(&b.rss_bytes),
                ProcColumn::Command => a.command.cmp(&b.command),
            };
            let ord = if self.sort_descending {
                ord.reverse()
            } else {
                ord
            };
            ord.then(a.pid.cmp(&b.pid))
        });
        rows
    }

    /// Index of the selected process among `rows` (from [`ProcessList::visible`]).
    pub fn selected_index(&self, rows: &[&ProcessInfo]) -> Option<usize> {
        let pid = self.selected_pid?;
        rows.iter().position(|p| p.pid == pid)
    }

    /// The command line of `pid` in the last list, if listed.
    pub(super) fn command_of(&self, pid: u32) -> Option<String> {
        self.processes
            .iter()
            .find(|p| p.pid == pid)
            .map(|p| p.command.clone())
    }

    /// The pid Enter inspects: the selected process, else the first shown.
    pub(super) fn pid_to_inspect(&self) -> Option<u32> {
        let rows = self.visible();
        self.selected_index(&rows)
            .or((!rows.is_empty()).then_some(0))
            .map(|i| rows[i].pid)
    }

    pub(super) fn replace(&mut self, list: Vec<ProcessInfo>) {
        self.processes = list;
        self.keep_selection();
    }

    pub(super) fn select(&mut self, pid: u32) {
        self.selected_pid = Some(pid);
    }

    pub(super) fn filter_mut(&mut self) -> &mut FilterPrompt {
        &mut self.filter
    }

    /// After the list or what it shows changed: keep the selected pid if still shown, else
    /// select the first.
    pub(super) fn keep_selection(&mut self) {
        let rows = self.visible();
        if self.selected_index(&rows).is_none() {
            self.selected_pid = rows.first().map(|p| p.pid);
        }
    }

    pub(super) fn move_selection(&mut self, m: Move) {
        let rows = self.visible();
        if let Some(i) = m.apply(self.selected_index(&rows), rows.len()) {
            self.selected_pid = Some(rows[i].pid);
        }
    }

    /// The first row shown follows the selection, `height` rows shown.
    pub(super) fn follow_scroll(&mut self, height: usize) {
        let rows = self.visible();
        let selected = self.selected_index(&rows);
        self.offset = super::scroll::follow(self.offset, selected, rows.len(), height);
    }

    /// A click on the `row`th row on screen (below the first row shown).
    pub(super) fn click(&mut self, row: usize) {
        let pid = self.visible().get(self.offset + row).map(|p| p.pid);
        if pid.is_some() {
            self.selected_pid = pid;
        }
    }

    /// The filter prompt, the sort column and order, and the kernel-thread toggle.
    pub(super) fn command(&mut self, c: Command) {
        match c {
            Command::Filter => self.filter.open(),
            Command::Sort => {
                self.sort = self.sort.next();
                // Numbers read best largest first, text alphabetically.
                self.sort_descending = matches!(
                    self.sort,
                    ProcColumn::Cpu | ProcColumn::Rss | ProcColumn::Threads
                );
            }
            Command::InvertSort => self.sort_descending = !self.sort_descending,
            Command::ToggleKernel => {
                self.show_kernel = !self.show_kernel;
                self.keep_selection();
            }
            _ => {}
        }
    }
}
