# The two commands of the README. Both install missing system packages first.
#   make run ARGS="dump 1234"   build and run rstack-tui with ARGS
#   make test                   formatting, lints and the whole test suite
ARGS ?= --help

.PHONY: deps run test
deps:
	bash scripts/deps.sh

run: deps
	cargo run --release --quiet -- $(ARGS)

test: deps
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	cargo test
