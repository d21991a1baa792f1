#!/usr/bin/env bash
# The MCP part of `make demo`: keys, a token for examples/mcp/copy-note.plan,
# and the Python SDK driving the filesystem server through `warden mcp`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf /tmp/warden-demo/mcp
mkdir -p /tmp/warden-demo/mcp/in /tmp/warden-demo/mcp/out
echo "pay the plumber 120 EUR" > /tmp/warden-demo/mcp/in/note.txt
"$WARDEN_BIN" keygen --out "$work" >/dev/null
"$WARDEN_BIN" issue "$repo/examples/mcp/copy-note.plan" --spec "$repo/examples/mcp/files.spec" \
    --key "$work/warden.key" > "$work/run.tok"
"$venv/bin/python" "$here/demo.py" "$work/run.tok" "$work/warden.pub" "$work/mcp.db"
echo
echo "The gateway's audit log (warden audit show --db):"
"$WARDEN_BIN" audit show --db "$work/mcp.db" --kind enforcement
