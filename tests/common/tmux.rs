//! A tmux server of a test's own (its own socket) with one pane, to drive the real inspector
//! as a person would and read its screen; the server is killed when dropped.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::gone;

/// The longest any single wait may take.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(10);

static SERVERS: AtomicUsize = AtomicUsize::new(0);

/// One tmux server of our own (its own socket), with one session of one pane; the server is
/// killed when dropped.
pub struct Tmux {
    socket: String,
    socket_path: Option<String>,
}

impl Tmux {
    /// Runs `argv` directly in a `width`x`height` pane (no shell: the pane pid is the
    /// program's). The pane stays, dead, after the program exits.
    pub fn exec(width: u16, height: u16, argv: &[&str]) -> Tmux {
        let socket = format!(
            "rstack-e2e-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        let mut tmux = Tmux {
            socket,
            socket_path: None,
        };
        let (w, h) = (width.to_string(), height.to_string());
        let mut args = vec![
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "default-terminal",
            "xterm-256color",
            ";",
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "-e",
            "NO_COLOR=1",
            "--",
        ];
        args.extend_from_slice(argv);
        let out = tmux.run(&args);
        assert!(
            out.status.success(),
            "starting tmux failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux.socket_path = Some(tmux.format("#{socket_path}"));
        tmux
    }

    /// Runs `command` (shell syntax) in a pane through `sh`, which then prints
    /// `EXITED rc=<code>` and the terminal's line discipline flags (`TTY: isig icanon echo`
    /// when the terminal is back in cooked mode) and stays, so the screen can be read.
    pub fn shell(width: u16, height: u16, command: &str) -> Tmux {
        let script = format!(
            "{command}; echo EXITED rc=$?; \
             printf 'TTY: %s\\n' \"$(stty -a | tr ' ' '\\n' | grep -Ex -- '-?(isig|icanon|echo)' | tr '\\n' ' ')\"; \
             exec sleep 600"
        );
        Tmux::exec(width, height, &["sh", "-c", &script])
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-u", "-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .output()
            .unwrap_or_else(|e| panic!("running tmux (install it: scripts/deps.sh): {e}"))
    }

    /// Runs a tmux command that must succeed; returns its stdout.
    pub fn cmd(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `j`, ...), in order.
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Types text, character by character.
    pub fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-l", text]);
    }

    /// The visible screen as text.
    pub fn capture(&self) -> String {
        self.cmd(&["capture-pane", "-p"])
    }

    /// A tmux format expanded for the pane.
    pub fn format(&self, format: &str) -> String {
        self.cmd(&["display-message", "-p", format])
            .trim_end()
            .to_string()
    }

    pub fn flag(&self, name: &str) -> bool {
        self.format(&format!("#{{{name}}}")) == "1"
    }

    pub fn alternate_on(&self) -> bool {
        self.flag("alternate_on")
    }

    pub fn pane_pid(&self) -> u32 {
        self.format("#{pane_pid}").parse().expect("pane pid")
    }

    /// Waits (bounded) until the screen contains `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    /// Waits (bounded) until `cond` holds for the screen; returns that screen. On timeout,
    /// panics with the last screen.
    pub fn wait_screen(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.capture();
            if cond(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Asserts the terminal modes the inspector changes are back to normal: main screen, no
    /// mouse reporting.
    pub fn assert_terminal_restored(&self) {
        let modes = self.format(
            "alternate_on=#{alternate_on} mouse_any=#{mouse_any_flag} \
             mouse_all=#{mouse_all_flag} mouse_button=#{mouse_button_flag} \
             mouse_sgr=#{mouse_sgr_flag}",
        );
        assert!(
            !self.alternate_on() && !modes.contains("=1"),
            "terminal not restored: {modes}; the screen:\n{}",
            self.capture()
        );
    }

    /// How the pane's program (`pid`, exited) ended, as tmux saw it: (exit status, signal);
    /// one of them is empty.
    pub fn exit_status(&self, pid: u32) -> (String, String) {
        let server: i32 = self.format("#{pid}").parse().expect("tmux server pid");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let how = self.format("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}");
            let mut parts = how.split('|').map(str::to_string);
            let (dead, status, signal) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            if dead == "1" && (!status.is_empty() || !signal.is_empty()) {
                return (status, signal);
            }
            assert!(
                Instant::now() < deadline,
                "tmux never saw {pid} exit ({how}); the screen:\n{}",
                self.capture()
            );
            // When a pane's terminal closes, tmux (built with libutempter) runs the utempter
            // helper with SIGCHLD set to SIG_DFL until it returns; a SIGCHLD arriving then is
            // discarded and the pane's program is never reaped (a tmux race, not ours). Our
            // own server: remind it to reap.
            if gone(pid) {
                let _ = kill(Pid::from_raw(server), Signal::SIGCHLD);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits (bounded) until the program `pid` run in the pane has exited; on timeout, panics
    /// with the screen.
    pub fn wait_exited(&self, pid: u32) {
        let deadline = Instant::now() + DEADLINE;
        while !gone(pid) {
            assert!(
                Instant::now() < deadline,
                "the inspector did not quit; the screen:\n{}",
                self.capture()
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn kill_server(&self) {
        let _ = self.run(&["kill-server"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.kill_server();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Kills (SIGKILL) an inspector we started if it still runs when dropped, so a failing test
/// leaves nothing behind (after `kill-server` it is nobody's child).
pub struct Reaper(pub u32);

impl Drop for Reaper {
    fn drop(&mut self) {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.0)).unwrap_or_default();
        if comm.trim() == "rstack-tui" && !gone(self.0) {
            let _ = kill(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
        }
    }
}
