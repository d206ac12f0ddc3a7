//! A process named on the command line: a number is a pid (or a thread id); anything else is
//! a name, matched exactly against each process's comm and the base name of its executable.

use crate::proclist::{ProcessInfo, ProcessLister};

/// What a command-line process argument names.
#[derive(Debug, Clone, PartialEq)]
pub enum Named {
    /// A number: a pid or thread id, whether or not it exists.
    Id(i64),
    /// The one process of that name.
    One(ProcessInfo),
    /// Several processes of that name, by pid.
    Several(Vec<ProcessInfo>),
    /// No process of that name.
    None,
}

/// Resolves `arg` against the processes running now (our own process excluded).
pub fn resolve(arg: &str) -> Named {
    if let Ok(n) = arg.parse::<i64>() {
        return Named::Id(n);
    }
    let me = std::process::id();
    let processes = ProcessLister::new().refresh();
    let mut found: Vec<ProcessInfo> = processes
        .into_iter()
        .filter(|p| p.pid != me && !p.kernel_thread && is_named(p, arg))
        .collect();
    match found.len() {
        0 => Named::None,
        1 => Named::One(found.remove(0)),
        _ => Named::Several(found),
    }
}

/// `p`'s comm or executable base name is `name`. The comm is cut to 15 bytes by the kernel,
/// so a longer name matches only through the executable.
fn is_named(p: &ProcessInfo, name: &str) -> bool {
    if p.name == name {
        return true;
    }
    std::fs::read_link(format!("/proc/{}/exe", p.pid)).is_ok_and(|exe| {
        let exe = exe.to_string_lossy();
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
        exe.rsplit('/').next() == Some(name)
    })
}

/// The candidates, one line each: pid, user, command (cut to `width` characters).
pub fn candidates_text(found: &[ProcessInfo], width: usize) -> String {
    let mut out = format!("{:>7}  {:<9} COMMAND\n", "PID", "USER");
    for p in found {
        let command: String = p.command.chars().take(width).collect();
        out += &format!("{:>7}  {:<9} {command}\n", p.pid, p.user);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_ids_and_unknown_names_match_nothing() {
        assert_eq!(resolve("123"), Named::Id(123));
        assert_eq!(resolve("-5"), Named::Id(-5));
        assert_eq!(resolve("no-such-process-name-here"), Named::None);
    }

    #[test]
    fn candidates_are_listed_with_pid_user_and_command() {
        let p = |pid, command: &str| ProcessInfo {
            pid,
            user: "alice".into(),
            state: 'S',
            threads: 1,
            cpu_percent: 0.0,
            rss_bytes: 0,
            name: "worker".into(),
            command: command.into(),
            kernel_thread: false,
        };
        assert_eq!(
            candidates_text(&[p(12, "worker --a"), p(345, "worker --b")], 8),
            "    PID  USER      COMMAND\n     12  alice     worker -\n    345  alice     worker -\n"
        );
    }
}
