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
	cargo test
