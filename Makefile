# The two commands the README opens with. Each installs what is missing first.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps build lint bench fuzz guest-test docs-screenshots

deps:
	@bash scripts/deps.sh

build: deps
	$(CARGO) build --workspace --bins

demo: build
	@bash scripts/demo.sh

test: deps
	$(CARGO) test --workspace --all-targets --no-fail-fast
	bash scripts/guest/test.sh enforcer --only escape ebpf_layers
	bash clients/python/run_tests.sh
	bash console/tests/browser/run.sh

# The console's screenshots in docs/console/ (docs/console.md), taken by the
# browser test's own code; `make test` writes them under target/ instead.
docs-screenshots: deps
	$(CARGO) build -p warden
	CONSOLE_SHOTS=$(CURDIR)/docs/console bash console/tests/browser/run.sh ConsoleTest.test_sign_in_see_live_approve_and_deny

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: deps
	$(CARGO) bench --workspace

# The enforcer's test binaries inside a QEMU guest whose kernel loads BPF LSM programs
# (this machine's hypervisor refuses them). `make test` runs enforcer/tests/guest_lsm/
# (which boots the same guest) and the escape and eBPF layer tests in one more boot.
guest-test: deps
	bash scripts/guest/test.sh enforcer

# Fuzz the plan and spec parsers (nightly + cargo-fuzz; see README). FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	$(CARGO) +nightly fuzz run --fuzz-dir fuzz parse_plan fuzz/corpus/parse_plan -- -max_total_time=$(FUZZ_SECONDS)
	$(CARGO) +nightly fuzz run --fuzz-dir fuzz parse_spec fuzz/corpus/parse_spec -- -max_total_time=$(FUZZ_SECONDS)
