#!/usr/bin/env bash
# Refreshes the screen captures in assets/ (the README shows them) from the real binary in a
# private tmux server: the demo's process, diff and group views at 80x24, and the process view
# of a 1000-thread fixture and the process list (filtered to it) at 160x48. Text captures
# (`capture-pane -p`), so they diff in review.
#
# Usage: scripts/captures.sh   (builds the release binary first; needs tmux and gcc)
# Every wait is bounded; what it starts is killed by pid, the tmux server by its socket.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=$(pwd)/target/release/rstack-tui
SOCK="rstack-captures-$$"
TMUX_CMD=(tmux -L "$SOCK" -f /dev/null)
WORK=$(mktemp -d /tmp/captures.XXXXXX)
FIXTURE_PID=""

cleanup() {
    "${TMUX_CMD[@]}" kill-server 2>/dev/null || true
    [[ -n $FIXTURE_PID ]] && kill "$FIXTURE_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM HUP

# wait_for TEXT: polls the pane (up to 20 s) until TEXT shows.
wait_for() {
    for _ in $(seq 200); do
        if "${TMUX_CMD[@]}" capture-pane -p | grep -qF -- "$1"; then
            return 0
        fi
        sleep 0.1
    done
    echo "captures.sh: timed out waiting for '$1'" >&2
    "${TMUX_CMD[@]}" capture-pane -p >&2
    exit 1
}

# wait_for_new_snapshot: waits until the status line's "taken" time changes.
wait_for_new_snapshot() {
    local before
    before=$("${TMUX_CMD[@]}" capture-pane -p | grep -o 'taken [0-9:]*' || true)
    for _ in $(seq 200); do
        now=$("${TMUX_CMD[@]}" capture-pane -p | grep -o 'taken [0-9:]*' || true)
        [[ -n $now && $now != "$before" ]] && return 0
        sleep 0.1
    done
    echo "captures.sh: no new snapshot" >&2
    exit 1
}

capture() { "${TMUX_CMD[@]}" capture-pane -p >"assets/$1"; }

cargo build --release --quiet

# The demo at 80x24: the process view, then the diff and group views after three snapshots.
"${TMUX_CMD[@]}" new-session -d -x 80 -y 24 "$BIN demo"
wait_for "deadlock-a"
wait_for_new_snapshot
wait_for_new_snapshot
capture process-view-80x24.txt
"${TMUX_CMD[@]}" send-keys d
wait_for "Diff "
# The busy thread selected (found with the search, which Esc then clears).
"${TMUX_CMD[@]}" send-keys / b u s y Enter Escape
wait_for 'Stack of'
wait_for '"busy"'
capture diff-view-80x24.txt
"${TMUX_CMD[@]}" send-keys c
wait_for "Groups"
capture group-view-80x24.txt
"${TMUX_CMD[@]}" send-keys q
"${TMUX_CMD[@]}" kill-server 2>/dev/null || true

# A 1000-thread fixture, then the process list, at 160x48.
gcc -O2 -g -pthread /work/shared/bench/fixture.c -o "$WORK/fixture" 2>/dev/null ||
    gcc -O2 -g -pthread tests/fixtures/threads.c -o "$WORK/fixture"
"$WORK/fixture" 1000 20 >"$WORK/ready" &
FIXTURE_PID=$!
for _ in $(seq 200); do grep -q ready "$WORK/ready" && break; sleep 0.1; done
"${TMUX_CMD[@]}" new-session -d -x 160 -y 48 "$BIN $FIXTURE_PID"
wait_for "worker-"
wait_for_new_snapshot
capture process-view-1000-threads-160x48.txt
"${TMUX_CMD[@]}" send-keys q
"${TMUX_CMD[@]}" kill-server 2>/dev/null || true
"${TMUX_CMD[@]}" new-session -d -x 160 -y 48 "$BIN"
wait_for "Processes ("
wait_for "processes"
# Filtered to the fixture, so the capture does not list this machine's own processes.
"${TMUX_CMD[@]}" send-keys / f i x t u r e Enter
wait_for "filter: fixture"
capture process-list-160x48.txt
"${TMUX_CMD[@]}" send-keys q
echo "captures.sh: assets/ refreshed"
