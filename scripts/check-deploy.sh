#!/usr/bin/env bash
# `make test`'s check of deploy/: renders every overlay with `kubectl
# kustomize` and validates what it renders offline against the Kubernetes
# schemas that the PyPI package kubernetes-validate bundles (strict: an
# unknown field fails), for the oldest Kubernetes the manifests need (1.27:
# gRPC probes) and the newest it bundles. The specs shipped in
# deploy/base/specs are linted and their tests run. A manifest with a wrong
# field must fail the same validation, or the check itself is broken.
# scripts/deps.sh installs kubectl and the validator's venv.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
validate="$repo/.venv-deploy/bin/kubernetes-validate"
warden="${WARDEN_BIN:-$repo/target/debug/warden}"
versions=(1.27.0 1.37.0)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$validate" ] || { echo "deploy: $validate is missing: run scripts/deps.sh" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "deploy: kubectl is missing: run scripts/deps.sh" >&2; exit 1; }

check() { # FILE: valid for every version, or the validator's findings and exit 1
  local v
  for v in "${versions[@]}"; do
    "$validate" --strict --quiet -k "$v" "$1" || return 1
  done
}

# The validator must refuse a wrong field.
cat > "$tmp/broken.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replica: 1
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: c
          image: c
YAML
if check "$tmp/broken.yaml" >/dev/null 2>&1; then
  echo "deploy: the validator accepted a Deployment with an unknown field: the check is broken" >&2
  exit 1
fi

passed=0
failed=0
for overlay in "$repo"/deploy/overlays/*/; do
  name=$(basename "$overlay")
  out="$tmp/$name.yaml"
  # kustomize v5 warns on `bases` (kept for kustomize v2.0): only shown on failure.
  if ! kubectl kustomize "$overlay" >"$out" 2>"$tmp/$name.err"; then
    echo "deploy: kubectl kustomize deploy/overlays/$name failed:" >&2
    cat "$tmp/$name.err" >&2
    failed=$((failed + 1))
    continue
  fi
  if check "$out"; then
    echo "deploy: overlays/$name: $(grep -c '^kind:' "$out") objects, valid for Kubernetes ${versions[*]}"
    passed=$((passed + 1))
  else
    echo "deploy: overlays/$name does not validate" >&2
    failed=$((failed + 1))
  fi
done

if [ ! -x "$warden" ]; then
  (cd "$repo" && cargo build -q -p warden)
fi
for spec in "$repo"/deploy/base/specs/*.spec; do
  if "$warden" lint "$spec" >/dev/null && "$warden" test "$spec" >/dev/null; then
    passed=$((passed + 1))
  else
    echo "deploy: $spec: warden lint or warden test failed" >&2
    "$warden" lint "$spec" >&2 || true
    failed=$((failed + 1))
  fi
done
echo "deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
