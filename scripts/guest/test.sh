#!/usr/bin/env bash
# Builds the test binaries of the given crates (default: enforcer) and runs them all
# inside one guest boot (scripts/guest/run.sh), as root, with BPF LSM in the kernel.
#
#   scripts/guest/test.sh [CRATE...]      (`make guest-test`)
#
# Exits non-zero when any test binary fails or the guest cannot boot.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(enforcer)

pkgs=()
for c in "${crates[@]}"; do pkgs+=(-p "$c"); done
# The executables cargo built for the tests, from its JSON messages.
mapfile -t bins < <(
  cargo test "${pkgs[@]}" --all-targets --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])
'
)
if [ ${#bins[@]} -eq 0 ]; then
  # Show cargo's error.
  cargo test "${pkgs[@]}" --all-targets --no-run
  echo "guest-test: no test binaries built for ${crates[*]}" >&2
  exit 1
fi
echo "guest-test: running ${#bins[@]} test binaries in the guest" >&2
exec "$here/run.sh" --timeout 1200 -- "$here/run-tests.sh" "${bins[@]}"
