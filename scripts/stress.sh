#!/usr/bin/env bash
# The "never harm the target" stress run (issue #7): tests/harm.rs at full counts. The checker
# fixture is traced TRACES times in each of 6 modes (rolling, rolling with blocked threads
# stopped too, snapshot, and those three with PTRACE_ATTACH), and `rstack-tui dump` is
# SIGKILLed KILLS times per mode at seeded random moments; every run must leave the checker
# running, untraced, and without a single error (EINTR, early wakeup, lost/duplicated/reordered
# byte, lost signal).
#
#   scripts/stress.sh                 1000 traces and 100 kills per mode (a few minutes)
#   TRACES=50 KILLS=20 scripts/stress.sh
#   SEED=1234 scripts/stress.sh       replay the kill moments of an earlier run
#
# Bounded by LIMIT seconds (default 3600). Exit status: that of the tests (124 on timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
traces=${TRACES:-1000}
kills=${KILLS:-100}
limit=${LIMIT:-3600}
export RSTACK_HARM_TRACES=$traces RSTACK_HARM_KILLS=$kills
[[ -n ${SEED:-} ]] && export RSTACK_HARM_SEED=$SEED

cargo test --quiet --test harm --no-run
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date +%s)
status=0
# One test at a time: the counts are meant to be the only load on the target.
timeout "$limit" cargo test --test harm -- --nocapture --test-threads=1 >"$log" 2>&1 || status=$?
elapsed=$(($(date +%s) - started))

# With one test at a time, a test's own lines follow "test NAME ... " on the same line.
grep -oE '(seed [0-9]+|harm [a-z]+:|test result:|thread .* panicked) .*' "$log" || true
if [[ $status -ne 0 ]]; then
    echo "stress: FAILED (status $status) after ${elapsed} s; full log:" >&2
    cat "$log" >&2
    exit "$status"
fi
# The number before LABEL on the "harm TEST:" line.
field() { grep -oE "harm $1: .*" "$log" | grep -oE "[0-9]+ $2" | head -n1 | cut -d' ' -f1; }
snapshots=$(field traces 'snapshots taken')
killed=$(field kills 'kills \(')
survived=$(field kills 'while the dump ran')
stopped=$(field stopped 'kills of')
bytes_t=$(field traces 'bytes checked')
bytes_k=$(field kills 'bytes checked')
errors_t=$(field traces 'errors')
errors_k=$(field kills 'errors')
echo "stress: ${elapsed} s; snapshots taken: ${snapshots}; kills: ${killed} (survived while the dump ran: ${survived}) + ${stopped} of a stopped target; bytes checked: $((bytes_t + bytes_k)); errors: $((errors_t + errors_k))"
