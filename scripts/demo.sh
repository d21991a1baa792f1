#!/usr/bin/env bash
# The end-to-end demo. Grows with each part of Warden.
set -euo pipefail
cd "$(dirname "$0")/.."
warden=target/debug/warden
echo "Warden demo: (the languages, the verifier, tokens and the enforcer are being built)"
"$warden" || true

# The service path: start, submit, approve, check, revoke, verify the audit log.
bash clients/python/demo.sh
