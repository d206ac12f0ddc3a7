#!/usr/bin/env bash
# Long run of the mutation fuzzer of tests/hostile.rs over our ELF/DWARF parsers (symbols,
# unwind-table discovery, build-id/debuglink/MiniDebugInfo, addr2line lines), with libc, its
# debug file and rstack-tui itself added as seeds; then the snapshot-loader fuzz test.
# Debug profile on purpose: overflow checks turn silent wrap-arounds into findings.
#   scripts/fuzz.sh [EXECUTIONS] [SEED-HEX]     (default 200000, a fixed seed)
# Findings (panics, hangs) are saved under target/tmp/hostile/fuzz-findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
execs=${1:-200000}
seed=${2:-0e1ff022d3adb33f}
RSTACK_FUZZ_EXECS=$execs RSTACK_FUZZ_SEED=$seed RSTACK_FUZZ_BIG=1 \
    cargo test --test hostile fuzz_elf_and_dwarf_parsers -- --nocapture 2>&1 |
    grep -E '^fuzz:|panicked|findings|panic |hang|test result'
cargo test --test snapfile mutated_documents_never_panic -- --nocapture 2>&1 |
    grep -E '^fuzz:|panicked|test result'
