# The two commands of the README. Both install missing system packages first.
#   make run [ARGS="..."]       build and run rstack-tui (no ARGS: the interactive inspector)
#   make test                   formatting, lints, docs and the whole test suite
#   make static                 one statically linked binary to copy to a box (path printed)
ARGS ?=

.PHONY: deps run test static
deps:
	bash scripts/deps.sh

run: deps
	cargo run --release --quiet -- $(ARGS)

test: deps
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	# The API docs must build without a warning (broken or private intra-doc links).
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
	# Source-line lookups are remembered between runs; keep the tests' out of ~/.cache.
	d=$$(mktemp -d) && XDG_CACHE_HOME=$$d cargo test; s=$$?; rm -rf "$$d"; exit $$s

static: deps
	bash scripts/static.sh
