# The two commands of the README. Both install missing system packages first.
#   make run [ARGS="..."]       build and run rstack-tui (no ARGS: the interactive inspector)
#   make test                   formatting, lints and the whole test suite
ARGS ?=

.PHONY: deps run test
deps:
	bash scripts/deps.sh

run: deps
	cargo run --release --quiet -- $(ARGS)

test: deps
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	# Source-line lookups are remembered between runs; keep the tests' out of ~/.cache.
	d=$$(mktemp -d) && XDG_CACHE_HOME=$$d cargo test; s=$$?; rm -rf "$$d"; exit $$s
