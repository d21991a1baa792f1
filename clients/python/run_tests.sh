#!/usr/bin/env bash
# The Python tests, all part of `make test`:
# - against a real `warden serve` with generated stubs (test_service), the
#   cross-language token test (pyseto verifies `warden issue` tokens) and the
#   schema test (claims against docs/token.schema.json, calls checked by
#   reference.py), and an audit proof checked with hashlib and `cryptography`
#   only (test_audit_proof); unittest, in the venv of env.sh;
# - the `warden` package: `pip install ./clients/python` (maturin builds the
#   PyO3 extension) into a fresh virtualenv, then its pytest suite (tests/:
#   Token, the hypothesis property test against reference.py, the sync and
#   asyncio clients against `warden serve`, the example orchestrator) and the
#   CI pieces (tests/test_ci.py: `warden test --format junit|json`, batch
#   `warden check`, the pre-commit hooks through `pre-commit try-repo`, the
#   GitHub Action validated by check-jsonschema).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$here"
"$venv/bin/python" -m unittest -v test_service test_token test_token_schema test_audit_proof
# The service part of `make demo` (demo.py), so a change that breaks it fails here.
"$venv/bin/python" demo.py > /dev/null

# A fresh virtualenv each run; pip's cache and the extension's cargo target
# directory are kept, so a second run rebuilds nothing.
pkgvenv="$repo/target/python-package-venv"
rm -rf "$pkgvenv"
python3 -m venv "$pkgvenv"
export CARGO_TARGET_DIR="$repo/target/python-native"
"$pkgvenv/bin/pip" install -q --upgrade pip
"$pkgvenv/bin/pip" install -q "$here[test]" pre-commit check-jsonschema junitparser
cd "$here"
# Not the source tree's python/warden: the installed package.
exec "$pkgvenv/bin/python" -m pytest -p no:cacheprovider -q tests
