#!/usr/bin/env bash
# Builds rstack-tui as one statically linked, non-PIE executable to copy to a box that has no
# libunwind (or any library) installed, and prints its path. glibc's libc.a (libc6-dev),
# libunwind.a with its ptrace part (libunwind-dev) and liblzma.a (liblzma-dev) are linked in:
# PKG_CONFIG_ALL_STATIC makes pkg-config name them for static linking. Non-PIE, because
# Debian's libunwind.a is not built with -fPIC (a static-pie link fails on R_X86_64_64
# relocations against its local symbols). Used by `make static` and tests/static_binary.rs.
set -euo pipefail
target="$(uname -m)-unknown-linux-gnu"
PKG_CONFIG_ALL_STATIC=1 \
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    "${CARGO:-cargo}" build --release --quiet --target "$target" --bin rstack-tui >&2
echo "${CARGO_TARGET_DIR:-target}/$target/release/rstack-tui"
