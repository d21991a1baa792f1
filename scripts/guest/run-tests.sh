#!/usr/bin/env bash
# Inside the guest: runs each test binary given, reports each, exits 1 if any failed.
set -uo pipefail
failed=()
for t in "$@"; do
  echo "=== $(basename "$t")"
  start=$(date +%s.%N)
  if "$t"; then r=ok; else r=FAILED; failed+=("$(basename "$t")"); fi
  awk -v n="$(basename "$t")" -v r="$r" -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "=== %s: %s (%.2fs)\n", n, r, b - a }'
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "guest-test: FAILED: ${failed[*]}"
  exit 1
fi
echo "guest-test: all $# test binaries passed"
