#!/usr/bin/env bash
# Builds the test binaries of the given crates (default: enforcer) and runs them all
# inside one guest boot (scripts/guest/run.sh), as root, with BPF LSM in the kernel.
#
#   scripts/guest/test.sh [CRATE...] [--only TEST...]   (`make guest-test`)
#
# `--only escape ebpf_layers` keeps the test binaries of those names (what `make test`
# runs in the guest besides `guest_lsm`, which boots its own). Exits non-zero when any
# test binary fails or the guest cannot boot.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
crates=()
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) shift; only=("$@"); break ;;
    *) crates+=("$1"); shift ;;
  esac
done
[ ${#crates[@]} -gt 0 ] || crates=(enforcer)

pkgs=()
for c in "${crates[@]}"; do pkgs+=(-p "$c"); done
# The executables cargo built for the tests.
mapfile -t bins < <(bash "$root/scripts/test-binaries.sh" "${pkgs[@]}" | cut -f1)
if [ ${#only[@]} -gt 0 ]; then
  kept=()
  for b in "${bins[@]}"; do
    name=$(basename "$b")
    for o in "${only[@]}"; do
      # cargo names a test binary NAME-HASH.
      [[ "$name" =~ ^${o}-[0-9a-f]+$ ]] && kept+=("$b")
    done
  done
  bins=("${kept[@]}")
fi
if [ ${#bins[@]} -eq 0 ]; then
  # Show cargo's error.
  cargo test "${pkgs[@]}" --all-targets --no-run
  echo "guest-test: no test binaries built for ${crates[*]}" >&2
  exit 1
fi
echo "guest-test: running ${#bins[@]} test binaries in the guest" >&2
exec "$here/run.sh" --timeout 1200 -- "$here/run-tests.sh" "${bins[@]}"
