#!/usr/bin/env bash
# The service path of `make demo`: start `warden serve`, submit a plan that
# needs approval, approve it, check tool calls against the token, revoke it,
# and verify the audit log.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$here"
exec "$venv/bin/python" demo.py
