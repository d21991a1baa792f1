#!/usr/bin/env bash
# `warden mcp` against real MCP software (part of `make test`): the official
# Python SDK as the agent, the official npm servers behind the gateway.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$here"
exec "$venv/bin/python" -m unittest -v test_gateway "$@"
