#!/usr/bin/env bash
# The end-to-end demo (`make demo`): the languages, the verifier, a capability
# token, a command confined to the token's envelope (one permitted and one
# refused operation), and the gRPC service path.
set -euo pipefail
cd "$(dirname "$0")/.."
warden=target/debug/warden
section() { printf '\n\033[1m== %s\033[0m\n\n' "$*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ───────────────────────── the languages ─────────────────────────
section "The languages: load every example spec and plan (names resolved, types checked)"
for f in specs/*.spec specs/common/*.spec examples/*.spec examples/*.plan examples/run/*; do
    printf '%-34s ' "$f"
    "$warden" parse "$f"
done

section "The canonical style: 'warden fmt --check' (what CI runs) and one formatted plan"
"$warden" fmt --check specs/*.spec specs/common/*.spec examples/*.spec examples/*.plan examples/run/*
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

# ───────────────────────── the verifier ─────────────────────────
section "The verifier: the banking plan against its spec (exit 0: accept)"
"$warden" check examples/pay-bill.plan --spec examples/banking.spec

section "A plan that exfiltrates: every refusal with the rule, the step and a witness (exit 1: reject)"
status=0
"$warden" check examples/exfiltrate.plan --spec specs/coding-agent.spec || status=$?
echo "exit code: $status"
[ "$status" -eq 1 ]

section "The specs' own test blocks ('warden test', what CI runs)"
"$warden" test specs/ examples/run/demo.spec

# ───────────────────────── tokens and the enforcer ─────────────────────────
section "A capability token: keygen, issue (stdout: only the token), inspect (verified)"
"$warden" keygen --out "$work/keys"
"$warden" issue examples/run/demo.plan --spec examples/run/demo.spec --key "$work/keys/warden.key" > "$work/run.tok"
"$warden" inspect "$work/run.tok" --pub "$work/keys/warden.pub"

section "The enforcement layers this machine has ('warden doctor')"
"$warden" doctor

section "A confined command: reading the notes is permitted, reading /etc/hostname is refused by the kernel"
mkdir -p /tmp/warden-demo/in /tmp/warden-demo/out
echo "the notes the agent may read" > /tmp/warden-demo/in/notes.txt
"$warden" exec --token "$work/run.tok" --pub "$work/keys/warden.pub" --events "$work/events.jsonl" -- \
    /bin/sh -c 'cat /tmp/warden-demo/in/notes.txt; cat /etc/hostname || echo "(refused, as the envelope says)"'
if [ "$(id -u)" = 0 ]; then
    echo "The refusal, as the run's event stream recorded it (--events, JSON lines written during the run):"
    grep -m 1 '"syscall_refused".*"path":"/etc/hostname"' "$work/events.jsonl" || echo "(no refusal event)"

    section "warden learn: observe a command (nothing refused) and propose plan steps that cover it"
    "$warden" learn --quiet --name copy-notes -- \
        /bin/sh -c 'cat /tmp/warden-demo/in/notes.txt > /tmp/warden-demo/out/copy.txt'
fi

section "The proven envelope is the enforced one: 'write \"/tmp/warden-demo/out/*.tmp\"' needs BPF LSM"
"$warden" issue examples/run/suffix.plan --spec examples/run/suffix.spec --key "$work/keys/warden.key" > "$work/suffix.tok"
"$warden" inspect "$work/suffix.tok" --pub "$work/keys/warden.pub" | sed -n '/^enforcement/,$p'
status=0
"$warden" exec --token "$work/suffix.tok" --pub "$work/keys/warden.pub" -- /bin/sh -c 'echo > /tmp/warden-demo/out/x.tmp' || status=$?
echo "exit code: $status (2 where the kernel lacks BPF LSM: refused before the command starts)"
echo "The BPF LSM layer: 'make test' boots a QEMU guest whose kernel loads it (enforcer/tests/guest_lsm);"
echo "on this machine: $("$warden" doctor | grep '^bpf-lsm' | tr -s ' ')"

# ───────────────────────── the MCP gateway ─────────────────────────
section "The MCP gateway: an agent's tool calls through 'warden mcp' (one allowed, one refused)"
bash mcp/tests/py/demo.sh

# ───────────────────────── the service ─────────────────────────
section "The service: warden serve, submit, approve, check, revoke, audit verify (Python client over gRPC)"
bash clients/python/demo.sh
