# The two commands the README opens with. Each installs what is missing first.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps build lint bench fuzz

deps:
	@bash scripts/deps.sh

build: deps
	$(CARGO) build --workspace --bins

demo: build
	@bash scripts/demo.sh

test: deps
	$(CARGO) test --workspace --all-targets --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: deps
	$(CARGO) bench --workspace
