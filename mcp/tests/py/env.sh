# Sourced by mcp/tests/py/run_tests.sh and scripts/demo.sh: the third-party MCP
# software the gateway's tests run against, installed once (no download at
# test time): the official Python SDK (PyPI `mcp`) and Prometheus's Python
# client (its OpenMetrics parser reads the gateway's metrics) in a venv under the repo,
# and the official npm servers server-filesystem and server-everything in a
# cache directory (npm ci-style install of pinned versions).
MCP_PY_VERSION=2.3.0
PROMETHEUS_PY_VERSION=0.26.0
MCP_SERVERS_VERSION=2026.8.31
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
venv="$repo/.venv-mcp"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mcp, importlib.metadata as m; assert m.version('mcp') == '$MCP_PY_VERSION' and m.version('prometheus-client') == '$PROMETHEUS_PY_VERSION'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "mcp==$MCP_PY_VERSION" "prometheus-client==$PROMETHEUS_PY_VERSION"
fi
export MCP_NODE_DIR="${MCP_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warden/mcp-servers-$MCP_SERVERS_VERSION}"
if [ ! -e "$MCP_NODE_DIR/node_modules/@modelcontextprotocol/server-everything/package.json" ] \
   || [ ! -e "$MCP_NODE_DIR/node_modules/@modelcontextprotocol/server-filesystem/package.json" ]; then
  mkdir -p "$MCP_NODE_DIR"
  (cd "$MCP_NODE_DIR" && npm install --silent --no-audit --no-fund --prefix . \
     "@modelcontextprotocol/server-filesystem@$MCP_SERVERS_VERSION" \
     "@modelcontextprotocol/server-everything@$MCP_SERVERS_VERSION" >/dev/null)
fi
export WARDEN_BIN="${WARDEN_BIN:-$repo/target/debug/warden}"
if [ ! -x "$WARDEN_BIN" ]; then
  (cd "$repo" && cargo build -q -p warden)
fi
