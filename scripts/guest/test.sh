#!/usr/bin/env bash
# Builds the test binaries of the given crates (default: enforcer) and runs them all
# inside one guest boot (scripts/guest/run.sh), as root, with BPF LSM in the kernel.
#
#   scripts/guest/test.sh [CRATE...] [--only TEST...]   (`make guest-test`)
#
# A CRATE is named by its directory (enforcer).
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
# The executables cargo built for the tests of those crates, taken from the
# workspace's build (`cargo test -p CRATE` alone resolves other features and
# builds every dependency a second time, in time and in disk).
bins=()
while IFS=$'\t' read -r exe dir _; do
  for c in "${crates[@]}"; do
    [ "$(basename "$dir")" = "$c" ] && bins+=("$exe")
  done
done < <(bash "$root/scripts/test-binaries.sh" --workspace)
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
