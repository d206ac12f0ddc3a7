#!/usr/bin/env bash
# Measures the real inspector in a terminal (tmux, 160x48) against a 1000-thread fixture, with
# about 2000 processes on the machine:
#   (a) CPU while inspecting with auto-refresh on (default 2 s interval), over 30 s
#   (b) CPU while inspecting with auto-refresh paused (Space), idle, over 30 s
#   (c) peak RSS (VmHWM) of the inspector at the end
#   (d) CPU on the process-list screen (Esc; it re-reads /proc every 2 s), over 30 s, and the
#       number of processes its status line shows
# Screen captures go to /tmp/bench-ui-process-view.txt and /tmp/bench-ui-process-list.txt.
#
# Usage: scripts/bench-ui.sh         (env: BENCH_SECS=30 measure window, BENCH_PROCS=2000
#                                     processes wanted on the machine)
# Every wait is bounded; everything started here is killed by pid (and the private tmux server
# by its socket) on exit, including on Ctrl-C.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${BENCH_SECS:-30}
WANT_PROCS=${BENCH_PROCS:-2000}
SOCK="rstack-bench-$$"
TMUX_CMD=(tmux -L "$SOCK" -f /dev/null)
WORK=$(mktemp -d /tmp/bench-ui.XXXXXX)
VIEW_CAPTURE=/tmp/bench-ui-process-view.txt
LIST_CAPTURE=/tmp/bench-ui-process-list.txt
HZ=$(getconf CLK_TCK)

FIXTURE_PID=""
INSPECTOR_PID=""
SLEEP_PIDS=()
TMUX_STARTED=""

log() { printf '[bench-ui] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

cleanup() {
    trap - EXIT INT TERM HUP
    if [[ -n $INSPECTOR_PID ]] && kill -0 "$INSPECTOR_PID" 2>/dev/null; then
        kill -TERM "$INSPECTOR_PID" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$INSPECTOR_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$INSPECTOR_PID" 2>/dev/null
    fi
    [[ -n $TMUX_STARTED ]] && "${TMUX_CMD[@]}" kill-server 2>/dev/null
    if [[ -n $FIXTURE_PID ]]; then
        kill -KILL "$FIXTURE_PID" 2>/dev/null
        wait "$FIXTURE_PID" 2>/dev/null
    fi
    if ((${#SLEEP_PIDS[@]} > 0)); then
        kill -KILL "${SLEEP_PIDS[@]}" 2>/dev/null
        wait "${SLEEP_PIDS[@]}" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Waits up to $1 seconds (in 0.2 s steps) for the command "${@:2}" to succeed.
wait_for() {
    local limit=$1
    shift
    local tries=$((limit * 5))
    for ((i = 0; i < tries; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

screen() { "${TMUX_CMD[@]}" capture-pane -p -t bench 2>/dev/null; }
screen_has() { screen | grep -qF -- "$1"; }
screen_lacks() { ! screen | grep -qF -- "$1"; }
screen_matches() { screen | grep -qE -- "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat, counted
# after the ")" that ends the command name).
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || return 1
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# Percent of one core used by pid $1 over $2 seconds.
measure_cpu() {
    local pid=$1 secs=$2 t0 t1 c0 c1
    c0=$(cpu_ticks "$pid") || die "inspector $pid is gone"
    t0=$(date +%s.%N)
    sleep "$secs"
    c1=$(cpu_ticks "$pid") || die "inspector $pid is gone"
    t1=$(date +%s.%N)
    awk -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.2f", c / hz / (t1 - t0) * 100 }'
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# --- build ---------------------------------------------------------------------------------
log "building release"
timeout 1800 cargo build --release --quiet || die "cargo build --release failed"
INSPECTOR_BIN="$ROOT/target/release/rstack-tui"
FIXTURE_BIN="$WORK/rsfixture"
log "building the fixture"
timeout 600 "${RUSTC:-rustc}" -O -g --edition 2021 --crate-name threads_fixture \
    tests/fixtures/threads.rs -o "$FIXTURE_BIN" || die "building the fixture failed"
command -v tmux >/dev/null || die "tmux is needed (scripts/deps.sh installs it)"

# --- ~2000 processes -----------------------------------------------------------------------
count_procs() { find /proc -maxdepth 1 -name '[0-9]*' | wc -l; }
now=$(count_procs)
pid_max=$(cat /proc/sys/kernel/pid_max)
threads_now=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
nproc_limit=$(ulimit -u)
[[ $nproc_limit == unlimited ]] && nproc_limit=$pid_max
# Leave room for the fixture's 1001 threads, the inspector, tmux and a margin.
room=$(((pid_max < nproc_limit ? pid_max : nproc_limit) - threads_now - 1001 - 500))
n_sleeps=$((WANT_PROCS - now - 3))
((n_sleeps > room)) && n_sleeps=$room
((n_sleeps < 0)) && n_sleeps=0
log "$now processes now (pid_max $pid_max, ulimit -u $(ulimit -u)); starting $n_sleeps sleeps"
for ((i = 0; i < n_sleeps; i++)); do
    sleep 600 </dev/null >/dev/null 2>&1 &
    SLEEP_PIDS+=("$!")
done

# --- the fixture ---------------------------------------------------------------------------
"$FIXTURE_BIN" park 1000 </dev/null >"$WORK/fixture.out" 2>&1 &
FIXTURE_PID=$!
wait_for 60 grep -qx ready "$WORK/fixture.out" || die "the fixture did not print ready in 60 s"
log "fixture $FIXTURE_PID ready ($(ls "/proc/$FIXTURE_PID/task" | wc -l) threads)"

# --- the inspector in tmux -----------------------------------------------------------------
TMUX_STARTED=1
"${TMUX_CMD[@]}" new-session -d -s bench -x 160 -y 48 \
    "exec '$INSPECTOR_BIN' $FIXTURE_PID" || die "tmux new-session failed"
INSPECTOR_PID=$("${TMUX_CMD[@]}" display-message -p -t bench '#{pane_pid}')
[[ -n $INSPECTOR_PID ]] || die "no pane pid"
t_start=$(date +%s.%N)
wait_for 120 screen_has "worker-" || {
    screen >&2
    die "the inspector did not show the threads in 120 s"
}
t_shown=$(date +%s.%N)
[[ $(readlink "/proc/$INSPECTOR_PID/exe") == "$INSPECTOR_BIN" ]] ||
    die "pane pid $INSPECTOR_PID is not the inspector"
first_ms=$(awk -v a="$t_start" -v b="$t_shown" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
startup_cpu=$(awk -v c="$(cpu_ticks "$INSPECTOR_PID")" -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')
log "inspector $INSPECTOR_PID shows the threads after ${first_ms} ms (${startup_cpu} s CPU so far)"

# (a) auto-refresh on
log "(a) auto-refresh on: measuring ${SECS} s"
cpu_auto=$(measure_cpu "$INSPECTOR_PID" "$SECS")
screen >"$VIEW_CAPTURE"
took=$(grep -o 'took [0-9.]* ms' "$VIEW_CAPTURE" | head -1)
rss_auto=$(status_kb "$INSPECTOR_PID" VmRSS)

# (b) paused, idle
"${TMUX_CMD[@]}" send-keys -t bench Space
wait_for 30 screen_has "paused" || die "the status line does not say paused"
wait_for 30 screen_lacks "tracing…" || die "a snapshot is still running after 30 s"
sleep 1
log "(b) paused: measuring ${SECS} s"
cpu_paused=$(measure_cpu "$INSPECTOR_PID" "$SECS")

# (d) the process list
"${TMUX_CMD[@]}" send-keys -t bench Escape
wait_for 30 screen_matches '^ *[0-9]+ processes' ||
    die "the process list did not appear"
sleep 2
log "(d) process list: measuring ${SECS} s"
cpu_list=$(measure_cpu "$INSPECTOR_PID" "$SECS")
screen >"$LIST_CAPTURE"
shown_procs=$(grep -oE '^ *[0-9]+ processes' "$LIST_CAPTURE" | grep -oE '[0-9]+' | tail -1)

# (c) peak RSS
hwm=$(status_kb "$INSPECTOR_PID" VmHWM)
rss_end=$(status_kb "$INSPECTOR_PID" VmRSS)

# Quit with q and check the inspector ends by itself.
"${TMUX_CMD[@]}" send-keys -t bench q
if wait_for 10 gone "$INSPECTOR_PID"; then
    quit="quit with q"
    INSPECTOR_PID=""
else
    quit="did NOT quit on q within 10 s (killed)"
fi

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
cat <<EOF

inspector at 160x48 on a 1000-thread fixture (pid $FIXTURE_PID); $((${#SLEEP_PIDS[@]})) sleeps started;
first screen with threads after ${first_ms} ms (${startup_cpu} s CPU); last snapshot: ${took:-?}

| measurement | value |
|---|---|
| CPU, process view, auto-refresh 2 s (${SECS} s) | ${cpu_auto} % of a core |
| CPU, process view, paused, idle (${SECS} s) | ${cpu_paused} % of a core |
| CPU, process list, refresh 2 s (${SECS} s) | ${cpu_list} % of a core |
| processes shown in the status line | ${shown_procs:-?} |
| peak RSS (VmHWM) | $(mb "$hwm") |
| RSS in the process view / at the end | $(mb "$rss_auto") / $(mb "$rss_end") |

screens: $VIEW_CAPTURE, $LIST_CAPTURE; inspector $quit
EOF
