#!/usr/bin/env bash
# Batch `warden check` against one process per plan (docs/benchmarks.md):
# N generated plans (default 1000; a third rejected) under examples/banking.spec,
# checked once by `warden check --manifest` in one process and once by N
# `warden check PLAN --spec SPEC` processes; prints plans/s of each.
#   bash scripts/check_throughput.sh [N]      (WARDEN_BIN, default target/release/warden)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
bin=${WARDEN_BIN:-target/release/warden}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/accept" "$d/reject"
for i in $(seq 1 "$n"); do
  if (( i % 3 == 0 )); then
    printf 'plan "p%d" {\n  call send_money(recipient = "US133000000121212121212", amount = %d)\n}\n' "$i" $(( i % 900 + 1 )) > "$d/reject/p$i.plan"
  else
    printf 'plan "p%d" {\n  call get_balance()\n  call send_money(recipient = "GB29NWBK60161331926819", amount = %d)\n}\n' "$i" $(( i % 900 + 1 )) > "$d/accept/p$i.plan"
  fi
done
spec=$(pwd)/examples/banking.spec
printf 'spec = "%s"\n[[check]]\nplan = "accept"\nexpect = "accept"\n[[check]]\nplan = "reject"\nexpect = "reject"\n' "$spec" > "$d/checks.toml"
t0=$(date +%s.%N)
"$bin" check --manifest "$d/checks.toml" > "$d/batch.out"
t1=$(date +%s.%N)
tail -n 1 "$d/batch.out"
for f in "$d"/accept/*.plan "$d"/reject/*.plan; do
  "$bin" check "$f" --spec "$spec" > /dev/null || true
done
t2=$(date +%s.%N)
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
  printf "batch (one process): %d plans in %.2f s, %.0f plans/s\n", n, b - a, n / (b - a)
  printf "one process per plan: %d plans in %.2f s, %.0f plans/s\n", n, c - b, n / (c - b)
}'
