#!/usr/bin/env bash
# The end-to-end demo. Grows with each part of Warden.
set -euo pipefail
cd "$(dirname "$0")/.."
warden=target/debug/warden
section() { printf '\n== %s\n\n' "$*"; }

# ───────────────────────── the languages (issue 2) ─────────────────────────
section "The languages: load every example spec and plan (names resolved, types checked)"
for f in specs/*.spec specs/common/*.spec examples/*.spec examples/*.plan; do
    printf '%-34s ' "$f"
    "$warden" parse "$f"
done

section "The canonical style: 'warden fmt --check' (what CI runs) and one formatted plan"
"$warden" fmt --check specs/*.spec specs/common/*.spec examples/*.spec examples/*.plan
echo "every file is in canonical style"
echo
"$warden" fmt --stdout examples/pay-bill.plan

section "A plan as JSON, for orchestrators ('warden parse --json', first lines)"
"$warden" parse --json examples/pay-bill.plan | head -n 24

section "A deliberate error: typos in a plan (exit code 2: bad input)"
status=0
"$warden" parse examples/errors/typo.plan || status=$?
echo "exit code: $status"
[ "$status" -eq 2 ]

section "A misspelled keyword"
status=0
"$warden" parse examples/errors/syntax.plan || status=$?
echo "exit code: $status"
[ "$status" -eq 2 ]

section "The service: warden serve, submit, approve, check, revoke, audit verify (Python client over gRPC)"
bash clients/python/demo.sh
# ───────────────────────── the BPF LSM layer (issue 8) ─────────────────────────
section "The BPF LSM layer on this machine ('warden doctor'); 'make test' also runs it for real in a QEMU guest (enforcer/tests/guest_lsm)"
"$warden" doctor | grep '^bpf-lsm'
section "A capability token: keygen, issue (stdout: only the token), inspect (verified)"
keys=$(mktemp -d)
"$warden" keygen --out "$keys/keys"
"$warden" issue examples/pay-bill.plan --spec examples/banking.spec --key "$keys/keys/warden.key" > "$keys/run.tok"
"$warden" inspect "$keys/run.tok" --pub "$keys/keys/warden.pub"
rm -rf "$keys"
