#!/usr/bin/env bash
# Issue #17's cost check: a 100-thread CPython process dumped with its Python frames
# (`rstack-tui dump`), without them (`dump --no-python`), and by `py-spy dump --native`, in
# one run, alternating the tools. Reports per tool the median [min-max] wall time and the
# longest time a busy Python thread was kept from running while the tool ran (the "stall",
# measured inside the target by that thread: its loop's largest gap between two clock reads,
# less the runqueue wait inside the gap, which is other tasks' preemption, not a stop).
#
# The target: 99 threads blocked 6 Python frames deep (33 in Event.wait, 33 in time.sleep,
# 33 in Lock.acquire) and one busy thread, the stallmeter, which holds the GIL. The target is
# pinned to the last CPU and the tools to the others (as ../shared/bench/compare.sh does), so
# a gap is a stop, not the tool's preemption of the target.
#
# The idle row runs no tool (sleep 0.05): the noise floor of the stall.
#
# Usage: scripts/bench-python.sh     env: PYTHON (default the newest pyenv 3.12, else
#   python3), PYSPY (default target/py-spy/bin/py-spy, else /tmp/pyspy-venv/bin/py-spy),
#   RUNS=9, RSTACK_TUI (default target/release/rstack-tui, built if missing).
# Every wait is bounded; the target is killed by pid on exit.
set -uo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-9}
PYTHON=${PYTHON:-$(ls -d "$HOME"/.pyenv/versions/3.12.*/bin/python3 2>/dev/null | tail -1)}
PYTHON=${PYTHON:-python3}
PYSPY=${PYSPY:-}
for p in target/py-spy/bin/py-spy /tmp/pyspy-venv/bin/py-spy; do
    [[ -z $PYSPY && -x $p ]] && PYSPY=$p
done
RSTACK_TUI=${RSTACK_TUI:-target/release/rstack-tui}
[[ -x $RSTACK_TUI ]] || cargo build --release --quiet || exit 1
WORK=$(mktemp -d /tmp/bench-python.XXXXXX)
TARGET_PID=""
cleanup() {
    [[ -n $TARGET_PID ]] && kill "$TARGET_PID" 2>/dev/null
    exec 3>&- 4<&- 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

LAST_CPU=$(($(nproc) - 1))
TOOL_CPUS=0
[[ $LAST_CPU -gt 1 ]] && TOOL_CPUS=0-$((LAST_CPU - 1))

cat >"$WORK/target.py" <<'EOF'
import sys, threading, time

ev = threading.Event()
lock = threading.Lock()
lock.acquire()
up = threading.Semaphore(0)

def block(kind):
    up.release()
    if kind == 0:
        ev.wait()
    elif kind == 1:
        time.sleep(3600)
    else:
        lock.acquire()

def deeper(kind, n):
    if n == 0:
        block(kind)
    else:
        deeper(kind, n - 1)

worst = 0
skip = False
def stallmeter():
    # As ../shared/bench/fixture.c's: a gap's runqueue wait (preemption by other tasks; a
    # ptrace-stopped thread is not runnable, so a stop never counts) is taken out of it.
    global worst, skip
    import os
    fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    waited = lambda: int(os.pread(fd, 128, 0).split()[1])
    clock = time.perf_counter_ns
    last, wait_last = clock(), waited()
    up.release()
    while True:
        now = clock()
        # The gap that spans the main thread's report (it took the GIL) is not a stall.
        if skip:
            skip = False
            wait_last = waited()
            last = clock()
            continue
        if now - last > 50_000:
            wait = waited()
            stopped = now - last - (wait - wait_last)
            if stopped > worst:
                worst = stopped
            wait_last = wait
            now = clock()
        last = now

for i in range(99):
    threading.Thread(target=deeper, args=(i % 3, 4), name=f"worker-{i}", daemon=True).start()
threading.Thread(target=stallmeter, name="stallmeter", daemon=True).start()
for _ in range(100):
    up.acquire()
print("ready", flush=True)
# Each line in: print the largest gap since the last line, in microseconds, and reset it.
for _ in sys.stdin:
    print(worst // 1000, flush=True)
    worst = 0
    skip = True
EOF

mkfifo "$WORK/in" "$WORK/out"
taskset -c "$LAST_CPU" "$PYTHON" "$WORK/target.py" <"$WORK/in" >"$WORK/out" &
TARGET_PID=$!
exec 3>"$WORK/in" 4<"$WORK/out"
read -r -t 30 line <&4 && [[ $line == ready ]] || { echo "the target did not start" >&2; exit 1; }
gap() { echo >&3; read -r -t 30 g <&4 || g=?; echo "$g"; }

declare -A WALL STALL
tools=(idle rstack-tui rstack-tui-no-python)
[[ -n $PYSPY ]] && tools+=(py-spy-native) || echo "no py-spy: set PYSPY, or pip install py-spy" >&2
run() {
    case $1 in
    idle) sleep 0.05 ;;
    rstack-tui) "$RSTACK_TUI" dump "$TARGET_PID" ;;
    rstack-tui-no-python) "$RSTACK_TUI" dump --no-python "$TARGET_PID" ;;
    py-spy-native) "$PYSPY" dump --native --pid "$TARGET_PID" ;;
    esac
}
# One untimed run each: the page cache and our line cache warm, as for the anchors.
for t in "${tools[@]}"; do
    taskset -c "$TOOL_CPUS" bash -c "$(declare -f run); RSTACK_TUI=$RSTACK_TUI PYSPY=$PYSPY TARGET_PID=$TARGET_PID run $t" >"$WORK/$t.out" 2>&1 ||
        { echo "$t failed: $(head -3 "$WORK/$t.out")" >&2; exit 1; }
done
echo "python: $("$PYTHON" -V 2>&1), py-spy: ${PYSPY:+$("$PYSPY" --version)}, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "frames: ours $(grep -c '\[py\]' "$WORK/rstack-tui.out") Python frames, py-spy $(grep -c ' (.*\.py:[0-9]*)$' "$WORK/py-spy-native.out" 2>/dev/null || echo 0)"
for ((r = 0; r < RUNS; r++)); do
    for t in "${tools[@]}"; do
        gap >/dev/null
        start=$EPOCHREALTIME
        taskset -c "$TOOL_CPUS" bash -c "$(declare -f run); RSTACK_TUI=$RSTACK_TUI PYSPY=$PYSPY TARGET_PID=$TARGET_PID run $t" >/dev/null 2>&1
        end=$EPOCHREALTIME
        WALL[$t]+="$(echo "($end - $start) * 1000" | bc -l) "
        STALL[$t]+="$(gap) "
    done
done
stats() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {printf "%.2f [%.2f-%.2f]", a[int((NR+1)/2)], a[1], a[NR]}'; }
printf '%-22s %-26s %s\n' tool "wall ms, median [min-max]" "busy thread's longest stall, ms"
for t in "${tools[@]}"; do
    stall_ms=$(for g in ${STALL[$t]}; do echo "$g / 1000" | bc -l; done | tr '\n' ' ')
    printf '%-22s %-26s %s\n' "$t" "$(echo "${WALL[$t]}" | stats)" "$(echo "$stall_ms" | stats)"
done
