#!/usr/bin/env bash
# The Python client test against a real `warden serve`, the
# cross-language token test (pyseto verifies `warden issue` tokens) and the
# schema test (tokens' claims against docs/token.schema.json, calls checked
# by the documented semantics); all part of `make test`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$here"
exec "$venv/bin/python" -m unittest -v test_service test_token test_token_schema
