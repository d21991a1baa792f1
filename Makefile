# `make demo` and `make test` are the two commands the README opens with; like every
# target that builds, they run scripts/deps.sh first, which installs what a fresh
# Debian machine lacks and returns at once when nothing is missing.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps build lint bench fuzz guest-test install docs docs-screenshots

deps:
	@bash scripts/deps.sh

build: deps
	$(CARGO) build --workspace --bins

# The end-to-end demo (scripts/demo.sh): languages, verifier, token, a confined command,
# the gRPC service from the Python client.
demo: build
	@bash scripts/demo.sh

# Every test, as CI runs it (root): the workspace's tests; the same test binaries again
# as uid 65534, root tests listed as skipped; the escape and eBPF layer tests in the
# BPF LSM guest; the Python client against a real `warden serve`.
test: deps
	bash scripts/solver-free.sh
	$(CARGO) test --workspace --all-targets --no-fail-fast
	bash scripts/test-unprivileged.sh
	bash scripts/guest/test.sh enforcer --only escape ebpf_layers
	bash clients/python/run_tests.sh
	bash mcp/tests/py/run_tests.sh
	bash scripts/check-deploy.sh
	bash console/tests/browser/run.sh

# The console's screenshots in docs/console/ (docs/console.md), taken by the
# browser test's own code; `make test` writes them under target/ instead.
docs-screenshots: deps
	$(CARGO) build -p warden
	CONSOLE_SHOTS=$(CURDIR)/docs/console bash console/tests/browser/run.sh ConsoleTest.test_sign_in_see_live_approve_and_deny

# The host workspace, and the eBPF programs (their own workspace, for the bpf target).
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	bash scripts/solver-free.sh
	cd enforcer-ebpf && $(CARGO) fmt -- --check
	cd fuzz && $(CARGO) fmt -- --check
	cd clients/python/native && $(CARGO) fmt -- --check && $(CARGO) clippy --all-targets -- -D warnings
	cd enforcer-ebpf && $(CARGO) +nightly clippy --target bpfel-unknown-none -Z build-std=core --release -- -D warnings

# The warden binary, its man pages and its bash, zsh and fish completions, generated from
# the CLI definition. `make install PREFIX=~/.local`, `DESTDIR=` for packaging;
# INSTALL_PROFILE=dev installs the debug build.
PREFIX ?= /usr/local
INSTALL_PROFILE ?= release
INSTALL_BIN = target/$(if $(filter dev,$(INSTALL_PROFILE)),debug,$(INSTALL_PROFILE))/warden
install: deps
	$(CARGO) build --profile $(INSTALL_PROFILE) -p warden
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/warden
	$(INSTALL_BIN) man $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(INSTALL_BIN) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/warden
	$(INSTALL_BIN) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_warden
	$(INSTALL_BIN) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/warden.fish

# The book under docs/ (mdBook), into target/book. Its plan and spec blocks are tested by
# `cargo test -p warden --test docs`, part of make test.
docs:
	@command -v mdbook >/dev/null || $(CARGO) install mdbook --locked
	mdbook build docs

# Every criterion bench (docs/benchmarks.md gives the command behind each figure).
bench: deps
	$(CARGO) bench --workspace

# The enforcer's test binaries inside a QEMU guest whose kernel loads BPF LSM programs
# (some hypervisors refuse them, the development VM's among them). `make test` runs
# enforcer/tests/guest_lsm/ (which boots the same guest) and the escape and eBPF layer
# tests in one more boot.
guest-test: deps
	bash scripts/guest/test.sh enforcer

# Fuzz the parsers, token decoding and the verifier (nightly + cargo-fuzz, installed if
# missing). fuzz/seed.sh seeds the corpora from examples/, specs/ and tokens issued for the
# examples; fuzz/run.sh runs each target FUZZ_SECONDS and prints runs and crashes per target.
FUZZ_SECONDS ?= 60
fuzz: build
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	bash fuzz/seed.sh
	bash fuzz/run.sh $(FUZZ_SECONDS)
