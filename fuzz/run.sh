#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each from its seeded
# corpus, goes on to the next target after a crash, and prints runs and
# crashes per target. `make fuzz FUZZ_SECONDS=600` calls it after fuzz/seed.sh.
#
#   bash fuzz/run.sh SECONDS [TARGET...]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_plan parse_spec token_decode token_claims verify_plans)
logs=fuzz/logs
mkdir -p "$logs"
summary=()
failed=0
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s" >&2
  # libFuzzer writes crash-, leak-, timeout- and oom- files for failures and
  # slow-unit- files for inputs slower than -report_slow_units (10 s): only
  # the first are crashes; slow units are counted apart.
  before=$(find "fuzz/artifacts/$t" -type f ! -name 'slow-unit-*' 2>/dev/null | wc -l)
  slow_before=$(find "fuzz/artifacts/$t" -type f -name 'slow-unit-*' 2>/dev/null | wc -l)
  cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$logs/$t.log" 2>&1
  status=$?
  after=$(find "fuzz/artifacts/$t" -type f ! -name 'slow-unit-*' 2>/dev/null | wc -l)
  slow_after=$(find "fuzz/artifacts/$t" -type f -name 'slow-unit-*' 2>/dev/null | wc -l)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -n 1)
  crashes=$((after - before))
  slow=$((slow_after - slow_before))
  summary+=("$(printf '%-13s %10s runs  %d crashes  %d slow units  exit %d  (%s)' "$t" "${runs:-?}" "$crashes" "$slow" "$status" "$logs/$t.log")")
  if [ "$status" -ne 0 ]; then
    failed=1
    grep -E 'panicked|ERROR|SUMMARY|artifact' "$logs/$t.log" | head -n 12 >&2
  fi
done
printf '%s\n' "fuzz: ${seconds}s per target" "${summary[@]}"
exit "$failed"
