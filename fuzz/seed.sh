#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/TARGET/, not committed: libFuzzer adds
# what it finds there) from the repository's examples and specs, and from
# tokens `warden issue` signs for them with a throwaway key. Run by
# `make fuzz`; safe to run again (existing files are kept).
#
#   parse_plan    every plan under examples/ (the broken ones included)
#   parse_spec    every spec under specs/ and examples/
#   token_decode  tokens issued for the example plans
#   token_claims  their claims JSON (the signed payload without the signature)
#   verify_plans  a few byte strings (its input only steers a generator)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
corpus=fuzz/corpus
warden=${WARDEN:-target/debug/warden}
mkdir -p "$corpus"/{parse_plan,parse_spec,token_decode,token_claims,verify_plans}

seed() { # seed TARGET FILE...: each file under its path's name
  local target=$1 f
  shift
  for f in "$@"; do cp -n "$f" "$corpus/$target/${f//\//_}"; done
}
seed parse_plan examples/*.plan examples/run/*.plan examples/errors/*.plan
seed parse_spec specs/*.spec specs/common/*.spec examples/*.spec examples/run/*.spec examples/errors/*.spec

keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
"$warden" keygen --out "$keys" >/dev/null
for pair in pay-bill.plan:banking.spec run/demo.plan:run/demo.spec run/suffix.plan:run/suffix.spec; do
  plan=examples/${pair%%:*} spec=examples/${pair##*:}
  name=$(basename "$plan" .plan)
  "$warden" issue "$plan" --spec "$spec" --key "$keys/warden.key" > "$keys/$name.tok"
  cp -n "$keys/$name.tok" "$corpus/token_decode/$name.tok"
  # The payload: base64url(claims JSON || 64-byte signature), third field.
  python3 - "$keys/$name.tok" "$corpus/token_claims/$name.json" <<'PY'
import base64, sys
body = open(sys.argv[1]).read().strip().split(".")[2]
raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
with open(sys.argv[2], "wb") as f:
    f.write(raw[:-64])
PY
done

i=0
for s in "" "0" "random plans against random specs" "$(printf '\x01\x02\x03\xff\xfe\x10\x20\x40\x80')"; do
  printf '%s' "$s" > "$corpus/verify_plans/seed-$i"
  i=$((i + 1))
done
for t in parse_plan parse_spec token_decode token_claims verify_plans; do
  printf 'fuzz/seed.sh: %-13s %3d inputs\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
