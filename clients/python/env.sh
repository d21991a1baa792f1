# Sourced by run_tests.sh and demo.sh: a venv with grpcio, grpcio-tools,
# pyseto (an independent PASETO library, for test_token.py) and jsonschema
# (test_token_schema.py validates tokens against docs/token.schema.json) under the repo
# (installed from PyPI if missing), and stubs regenerated from
# proto/warden.proto into clients/python/_gen/.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv="$repo/.venv-py"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import grpc, grpc_tools, pyseto, jsonschema' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q grpcio grpcio-tools pyseto jsonschema
fi
mkdir -p "$here/_gen"
"$venv/bin/python" -m grpc_tools.protoc -I "$repo/proto" \
  --python_out="$here/_gen" --grpc_python_out="$here/_gen" "$repo/proto/warden.proto"
export WARDEN_BIN="${WARDEN_BIN:-$repo/target/debug/warden}"
if [ ! -x "$WARDEN_BIN" ]; then
  (cd "$repo" && cargo build -q -p warden)
fi
