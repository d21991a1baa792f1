#!/usr/bin/env bash
# The Python client test against a real `warden serve`, and the
# cross-language token test (pyseto verifies `warden issue` tokens); both
# part of `make test`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$here"
exec "$venv/bin/python" -m unittest -v test_service test_token
