#!/usr/bin/env bash
# Issue #18's overhead check: what sampling costs the target. A C process with one busy worker
# (counting loop iterations: its throughput; it is also the stallmeter, measuring its own
# stops) and parked threads, sampled at 20/s with 1000 threads in all and at 100/s with 100,
# by `rstack-tui record` and by `perf record -g` at the same rate; and a CPython process of
# the same shape (its worker counting in pure Python) by `rstack-tui record` and `py-spy
# record`. Windows with and without a tool alternate (RUNS rounds); per tool the median over
# the rounds of its throughput against the same round's idle window, the worker's gaps (C),
# and what `record` reports of its own stops and rate.
#
# The worker measures its stops as ../shared/bench/fixture.c's stallmeter does: it reads
# CLOCK_MONOTONIC after each unit of work and takes the runqueue wait (from its schedstat) out
# of every gap, so preemption by other tasks is not counted, a ptrace stop is (and so is a
# hypervisor's pause of the virtual CPU: the idle rows show how much of that there is). The
# target is pinned to the last CPU, where the worker is the only running thread, and the
# tools to the others, so a tool's own CPU time is not taken from the worker.
#
# Usage: scripts/bench-record.sh     env: RUNS=15, WINDOW=2 (seconds measured per window),
#   WARM=2 (seconds a tool runs before its window), SETS="c1000 c100 py1000 py100",
#   PYTHON (default the newest pyenv 3.12, else python3), PYSPY (default
#   target/py-spy/bin/py-spy, else /tmp/pyspy-venv/bin/py-spy), PERF (default perf),
#   RSTACK_TUI (default target/release/rstack-tui, built if missing).
# Every wait is bounded; targets and tools are killed by pid on exit.
set -uo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
WINDOW=${WINDOW:-2}
SETS=${SETS:-c1000 c100 py1000 py100}
WARM=${WARM:-2}
PYTHON=${PYTHON:-$(ls -d "$HOME"/.pyenv/versions/3.12.*/bin/python3 2>/dev/null | tail -1)}
PYTHON=${PYTHON:-python3}
PYSPY=${PYSPY:-}
for p in target/py-spy/bin/py-spy /tmp/pyspy-venv/bin/py-spy; do
    [[ -z $PYSPY && -x $p ]] && PYSPY=$p
done
PERF=${PERF:-$(command -v perf)}
RSTACK_TUI=${RSTACK_TUI:-target/release/rstack-tui}
[[ -x $RSTACK_TUI ]] || cargo build --release --quiet || exit 1
WORK=$(mktemp -d /tmp/bench-record.XXXXXX)
TARGET_PID=""
TOOL_PID=""
cleanup() {
    [[ -n $TOOL_PID ]] && kill "$TOOL_PID" 2>/dev/null
    [[ -n $TARGET_PID ]] && kill "$TARGET_PID" 2>/dev/null
    exec 3>&- 4<&- 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

LAST_CPU=$(($(nproc) - 1))
TOOL_CPUS=0
[[ $LAST_CPU -gt 1 ]] && TOOL_CPUS=0-$((LAST_CPU - 1))

cat >"$WORK/target.c" <<'EOF'
/* target THREADS: one worker counting iterations, THREADS-2 threads parked 8 frames deep, and
 * main. The worker is its own stallmeter: it reads CLOCK_MONOTONIC after every unit of work
 * and takes the runqueue wait (from its schedstat) out of every gap over 20 us, so what is
 * left of a gap is time it was kept from running by other means than the scheduler: a ptrace
 * stop (or the hypervisor). It is the only thread of its CPU. Each line on stdin: "t_ns
 * iterations stopped_us over" (the longest stop since the last line, and how many stops
 * were longer than 0.2 ms). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t iterations, worst, over, reset;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static _Atomic int up;
static volatile uint64_t sink;

static uint64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noipa)) void park(int depth)
{
    if (depth > 0) {
        park(depth - 1);
        return;
    }
    up++;
    pthread_mutex_lock(&mu);
    for (;;)
        pthread_cond_wait(&never, &mu);
}

static void *parked(void *arg) { (void)arg; park(8); return NULL; }

__attribute__((noipa)) void work_unit(void)
{
    for (int i = 0; i < 200; i++)
        sink += (uint64_t)i * i;
}

static uint64_t runqueue_wait(int fd)
{
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long run, wait;
    return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? wait : 0;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "worker");
    int fd = open("/proc/thread-self/schedstat", O_RDONLY);
    uint64_t last = now(), waited = runqueue_wait(fd);
    up++;
    for (;;) {
        work_unit();
        iterations++;
        uint64_t t = now();
        if (reset) {
            reset = 0;
            waited = runqueue_wait(fd);
            last = now();
            continue;
        }
        if (t - last > 20000) {
            uint64_t w = runqueue_wait(fd), stopped = t - last - (w - waited);
            if (w - waited < t - last && stopped > worst)
                worst = stopped;
            if (w - waited < t - last && stopped > 200000)
                over++;
            waited = w;
            t = now();
        }
        last = t;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 100;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t t;
    if (pthread_create(&t, &attr, worker, NULL))
        return 1;
    for (int i = 0; i < threads - 2; i++)
        if (pthread_create(&t, &attr, parked, NULL))
            return 1;
    while (up < threads - 1)
        usleep(1000);
    printf("ready\n");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        printf("%llu %llu %.1f %llu\n", (unsigned long long)now(),
               (unsigned long long)iterations, worst / 1000.0, (unsigned long long)over);
        fflush(stdout);
        worst = 0;
        over = 0;
        reset = 1;
    }
    return 0;
}
EOF
gcc -O1 -g -pthread -o "$WORK/target" "$WORK/target.c" || exit 1

cat >"$WORK/target.py" <<'EOF'
# target.py THREADS: one worker counting loop iterations in Python, THREADS-2 threads parked 6
# frames deep in Event.wait, and main. Each line on stdin: "t_ns iterations 0".
import sys, threading, time

ev = threading.Event()
up = threading.Semaphore(0)
count = 0

def park(n):
    if n == 0:
        up.release()
        ev.wait()
    else:
        park(n - 1)

def work():
    global count
    up.release()
    while True:
        x = 0
        for i in range(50):
            x += i * i
        count += 1

threads = int(sys.argv[1])
threading.Thread(target=work, name="worker", daemon=True).start()
for i in range(threads - 2):
    threading.Thread(target=park, args=(5,), name=f"parked-{i}", daemon=True).start()
for _ in range(threads - 1):
    up.acquire()
print("ready", flush=True)
for _ in sys.stdin:
    print(time.monotonic_ns(), count, 0, 0, flush=True)
EOF

# start_target KIND THREADS: the target pinned to the last CPU, its pipes on fds 3 and 4.
start_target() {
    rm -f "$WORK/in" "$WORK/out"
    mkfifo "$WORK/in" "$WORK/out"
    if [[ $1 == c ]]; then
        taskset -c "$LAST_CPU" "$WORK/target" "$2" <"$WORK/in" >"$WORK/out" &
    else
        taskset -c "$LAST_CPU" "$PYTHON" "$WORK/target.py" "$2" <"$WORK/in" >"$WORK/out" &
    fi
    TARGET_PID=$!
    exec 3>"$WORK/in" 4<"$WORK/out"
    read -r -t 60 line <&4 && [[ $line == ready ]] || { echo "the target did not start" >&2; exit 1; }
}
stop_target() {
    kill "$TARGET_PID" 2>/dev/null
    wait "$TARGET_PID" 2>/dev/null
    TARGET_PID=""
    exec 3>&- 4<&-
}
report() { echo >&3; read -r -t 30 r <&4 || r="0 0 ? ?"; echo "$r"; }

# tool NAME RATE SECONDS: runs NAME on the target in the background (TOOL_PID), pinned to the
# tool CPUs, its stderr in $WORK/NAME.err.
tool() {
    local out=$WORK/$1.out
    case $1 in
    rstack-tui) taskset -c "$TOOL_CPUS" "$RSTACK_TUI" record "$TARGET_PID" --rate "$2" --duration "$3" -o "$out.folded" ;;
    perf) taskset -c "$TOOL_CPUS" "$PERF" record -q -g -F "$2" -p "$TARGET_PID" -o "$out" -- sleep "$3" ;;
    py-spy) taskset -c "$TOOL_CPUS" "$PYSPY" record --rate "$2" --duration "$(printf %.0f "$3")" --pid "$TARGET_PID" --format raw -o "$out" ;;
    esac >/dev/null 2>"$WORK/$1.err" &
    TOOL_PID=$!
}

stats() { tr ' ' '\n' | grep -v '^[?]*$' | sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.2f", a[int((NR+1)/2)]; else printf "?"}'; }
# quartiles: "q1-q3" of the numbers
quartiles() { tr ' ' '\n' | grep -v '^[?]*$' | sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.1f..%.1f", a[int((NR+3)/4)], a[int((3*NR+3)/4)]; else printf "?"}'; }
max() { tr ' ' '\n' | grep -v '^[?]*$' | sort -g | tail -1; }

# bench KIND THREADS RATE TOOLS...: RUNS rounds of an idle window and one per tool. A tool's
# loss is the median over the rounds of its window's throughput against the idle window of
# the same round (the machine's drift cancels out), with the quartiles of those losses; the
# idle row gives the noise: each idle window against the next round's.
bench() {
    local kind=$1 threads=$2 rate=$3
    shift 3
    local tools=(idle "$@")
    declare -A TPUT LOSS STOP OVER OWN SHARE RATE_SEEN
    start_target "$kind" "$threads"
    local prev_idle=""
    for ((r = 0; r < RUNS; r++)); do
        local idle=""
        for t in "${tools[@]}"; do
            if [[ $t != idle ]]; then
                tool "$t" "$rate" "$(echo "$WARM + $WINDOW + 1" | bc)"
                sleep "$WARM"
            fi
            read -r t0 i0 _ _ < <(report)
            sleep "$WINDOW"
            read -r t1 i1 stop over < <(report)
            local tput
            tput=$(echo "($i1 - $i0) * 1000000000 / ($t1 - $t0)" | bc)
            TPUT[$t]+="$tput "
            STOP[$t]+="$stop "
            OVER[$t]+="$over "
            if [[ $t == idle ]]; then
                idle=$tput
                [[ -n $prev_idle ]] && LOSS[$t]+="$(echo "scale=3; 100 * ($prev_idle - $tput) / $prev_idle" | bc) "
                prev_idle=$tput
            else
                LOSS[$t]+="$(echo "scale=3; 100 * ($idle - $tput) / $idle" | bc) "
                timeout 30 tail --pid="$TOOL_PID" -f /dev/null
                wait "$TOOL_PID" 2>/dev/null
                TOOL_PID=""
                if [[ $t == rstack-tui ]]; then
                    OWN[$t]+="$(grep -o 'longest stop [0-9.]* ms' "$WORK/$t.err" | awk '{print $3}') "
                    SHARE[$t]+="$(grep -o 'stopped [0-9.]*% of the time' "$WORK/$t.err" | grep -o '[0-9.]*') "
                    RATE_SEEN[$t]+="$(grep -o 'snapshots at [0-9.]*/s' "$WORK/$t.err" | grep -o '[0-9.]*/' | tr -d /) "
                fi
            fi
        done
    done
    stop_target
    for t in "${tools[@]}"; do
        local stall="-" own="-" share="-" rate_seen="-"
        if [[ $kind == c ]]; then
            stall="$(echo "${STOP[$t]}" | stats) us [$(echo "${STOP[$t]}" | max)]; $(echo "${OVER[$t]}" | stats)"
        fi
        [[ -n ${OWN[$t]:-} ]] && own="$(echo "${OWN[$t]}" | max) ms"
        [[ -n ${SHARE[$t]:-} ]] && share="$(echo "${SHARE[$t]}" | max)%"
        [[ -n ${RATE_SEEN[$t]:-} ]] && rate_seen=$(echo "${RATE_SEEN[$t]}" | tr ' ' '\n' | grep -v '^$' | sort -g | head -1)
        printf '| %s %d threads | %d/s | %s | %.0f | %s%% [%s] | %s | %s | %s | %s |\n' "$kind" "$threads" "$rate" "$t" \
            "$(echo "${TPUT[$t]}" | stats)" "$(echo "${LOSS[$t]:-}" | stats)" "$(echo "${LOSS[$t]:-}" | quartiles)" \
            "$stall" "$own" "$share" "$rate_seen"
    done
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; target on CPU $LAST_CPU, tools on $TOOL_CPUS"
echo "tools: $("$RSTACK_TUI" --version), $("$PERF" --version 2>&1), ${PYSPY:+$("$PYSPY" --version)}, $("$PYTHON" -V 2>&1)"
echo "RUNS=$RUNS WINDOW=${WINDOW}s WARM=${WARM}s"
echo
echo "| target | rate | tool | worker throughput (iter/s, median) | loss vs the round's idle window, median [quartiles] | worker's longest gap per window, median [max]; gaps over 0.2 ms per window, median | longest stop record measured (max) | most a thread was stopped (record, max) | lowest rate record achieved |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
perf_tool=()
[[ -n $PERF ]] && perf_tool=(perf)
pyspy_tool=()
[[ -n $PYSPY ]] && pyspy_tool=(py-spy)
for set in $SETS; do
    case $set in
    c1000) bench c 1000 20 rstack-tui "${perf_tool[@]}" ;;
    c100) bench c 100 100 rstack-tui "${perf_tool[@]}" ;;
    py1000) bench py 1000 20 rstack-tui "${pyspy_tool[@]}" ;;
    py100) bench py 100 100 rstack-tui "${pyspy_tool[@]}" ;;
    *) echo "unknown set $set (c1000 c100 py1000 py100)" >&2 ;;
    esac
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
