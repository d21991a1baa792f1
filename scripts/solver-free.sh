#!/usr/bin/env bash
# The crates an orchestrator or the enforcer links must not link the solver:
# fails when `cargo tree` of warden-core, planlang, token, transparency or
# enforcer (normal,
# build and dev dependencies: their tests build without the solver too)
# names z3, and the Python extension (clients/python/native) likewise. Run by
# `make lint` and `make test`.
# With arguments, checks those crates instead (`scripts/solver-free.sh
# verifier` fails: it is the crate that links the solver).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
status=0
crates=("$@")
[ ${#crates[@]} -gt 0 ] || crates=(warden-core planlang token transparency enforcer)
for crate in "${crates[@]}"; do
  tree=$("$CARGO" tree -e normal,build,dev -p "$crate" --prefix none)
  if [ -z "$tree" ]; then
    echo "solver-free: cargo tree -p $crate printed nothing" >&2
    status=1
  elif grep -qi 'z3' <<<"$tree"; then
    echo "solver-free: $crate depends on the solver:" >&2
    "$CARGO" tree -e normal,build -p "$crate" -i z3-sys >&2 || true
    status=1
  else
    echo "solver-free: $crate ok ($(wc -l <<<"$tree") dependency lines, no z3)"
  fi
done
# The Python package's extension (its own workspace, clients/python/native):
# checked only when no crate was named.
if [ $# -eq 0 ]; then
  tree=$("$CARGO" tree -e normal,build --manifest-path clients/python/native/Cargo.toml --prefix none)
  if [ -z "$tree" ] || grep -qi 'z3' <<<"$tree"; then
    echo "solver-free: clients/python/native depends on the solver (or cargo tree printed nothing)" >&2
    status=1
  else
    echo "solver-free: clients/python/native ok ($(wc -l <<<"$tree") dependency lines, no z3)"
  fi
fi
exit $status
