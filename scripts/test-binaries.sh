#!/usr/bin/env bash
# Prints the test executables `cargo test ARGS --all-targets --no-run` builds,
# one a line: EXECUTABLE <tab> PACKAGE DIRECTORY <tab> TARGET KIND <tab> TARGET
# NAME, sorted by package, kind and name. Used by scripts/test-unprivileged.sh
# and scripts/guest/test.sh.
set -euo pipefail
cargo test "$@" --all-targets --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        fields = [m["executable"], os.path.dirname(m["manifest_path"]), m["target"]["kind"][0], m["target"]["name"]]
        print("\t".join(fields))
' | sort -t$'\t' -k2,2 -k3,3 -k4,4
