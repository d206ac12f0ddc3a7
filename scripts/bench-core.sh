#!/usr/bin/env bash
# Issue #20's speed check: a core of the 1000-thread bench fixture (../shared/bench/fixture.c,
# THREADS parked workers DEPTH frames deep), written by gcore, read by `rstack-tui dump --core`,
# `gdb -batch -ex 'thread apply all bt'` and `eu-stack --core`, alternating, RUNS times each;
# per tool the median [min-max] wall time and how many threads its output names.
#
# Usage: scripts/bench-core.sh [THREADS] [DEPTH]   (default 1000 20)   env: RUNS=5,
#   RSTACK_TUI (default target/release/rstack-tui, built if missing).
# The fixture is killed by pid on exit; the core is written in a temporary directory.
set -uo pipefail

cd "$(dirname "$0")/.."
THREADS=${1:-1000}
DEPTH=${2:-20}
RUNS=${RUNS:-5}
RSTACK_TUI=${RSTACK_TUI:-target/release/rstack-tui}
[[ -x $RSTACK_TUI ]] || cargo build --release --quiet || exit 1
WORK=$(mktemp -d /tmp/bench-core.XXXXXX)
FIX_PID=""
cleanup() {
    [[ -n $FIX_PID ]] && kill "$FIX_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

gcc -O2 -g -pthread -o "$WORK/fixture" ../shared/bench/fixture.c || exit 1
mkfifo "$WORK/out"
"$WORK/fixture" "$THREADS" "$DEPTH" >"$WORK/out" 2>/dev/null &
FIX_PID=$!
exec 3<"$WORK/out"
read -r -t 60 line <&3 || { echo "the fixture never said ready" >&2; exit 1; }
[[ $line == ready* ]] || { echo "unexpected first line: $line" >&2; exit 1; }
gcore -o "$WORK/core" "$FIX_PID" >/dev/null 2>&1 || { echo "gcore failed" >&2; exit 1; }
CORE=$WORK/core.$FIX_PID
kill "$FIX_PID"; FIX_PID=""
echo "core: $(du -h "$CORE" | cut -f1), $THREADS threads + 2, depth $DEPTH; load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A times counts
run() { # tool
    local start end out
    start=$EPOCHREALTIME
    case $1 in
        rstack-tui) out=$("$RSTACK_TUI" dump --core "$CORE" 2>/dev/null) ;;
        gdb) out=$(gdb -batch -nx "$WORK/fixture" "$CORE" -ex 'set pagination off' \
            -ex 'thread apply all bt' 2>/dev/null) ;;
        eu-stack) out=$(eu-stack --core "$CORE" --executable "$WORK/fixture" 2>/dev/null) ;;
    esac
    end=$EPOCHREALTIME
    times[$1]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) * 1000 }') "
    case $1 in
        rstack-tui) counts[$1]=$(grep -c '^Thread ' <<<"$out") ;;
        gdb) counts[$1]=$(grep -c '^Thread ' <<<"$out") ;;
        eu-stack) counts[$1]=$(grep -c '^TID ' <<<"$out") ;;
    esac
}
for ((i = 0; i < RUNS; i++)); do
    for tool in rstack-tui gdb eu-stack; do run "$tool"; done
done
echo
echo "| tool | wall (ms), median [min-max] of $RUNS | threads named |"
echo "| --- | --- | --- |"
for tool in rstack-tui gdb eu-stack; do
    read -r -a t <<<"${times[$tool]}"
    sorted=$(printf '%s\n' "${t[@]}" | sort -g)
    med=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
    printf '| %s | %.1f [%.1f-%.1f] | %s |\n' "$tool" "$med" "$(head -1 <<<"$sorted")" \
        "$(tail -1 <<<"$sorted")" "${counts[$tool]}"
done
