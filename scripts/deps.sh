#!/usr/bin/env bash
# Installs what Warden needs on a fresh Debian machine, skipping what is already there.
# Idempotent; safe to run before every `make` target. Needs root (or sudo) for apt and /opt.
set -euo pipefail

Z3_VERSION=5.4.0.0          # the PyPI wheel z3-solver; z3-sys 0.14 links its libz3.so
Z3_PREFIX=/opt/warden-z3    # .cargo/config.toml points the build here
BPF_LINKER_VERSION=0.10.4   # the last release that builds with rustc's own LLVM here
KUBERNETES_VALIDATE_VERSION=1.37.0  # PyPI; its schemas go up to Kubernetes 1.37

say() { printf '\033[1mdeps:\033[0m %s\n' "$*" >&2; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# chromium and chromium-driver: the console's browser test (Selenium cannot download a driver here).
apt_pkgs=(protobuf-compiler pkg-config qemu-system-x86 busybox-static python3-venv openssl chromium chromium-driver)
# postgresql: the fleet's tests (warden/tests/fleet.rs, service's postgres store tests)
# initdb and start a real server from its binaries (/usr/lib/postgresql/*/bin); the
# package's own cluster is not used.
apt_pkgs+=(postgresql)
# kubectl renders deploy/'s overlays (`kubectl kustomize`): the one installed,
# else Debian's (kubernetes-client, kubectl 1.20 with kustomize v2.0).
command -v kubectl >/dev/null 2>&1 || apt_pkgs+=(kubernetes-client)
# node and npm: the official MCP servers `warden mcp` is tested against
# (mcp/tests/py/env.sh installs them, pinned, into ~/.cache/warden).
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubernetes-validate (PyPI, bundles the Kubernetes schemas: validates
# offline) in a venv of the checkout, for scripts/check-deploy.sh.
deploy_venv="$(cd "$(dirname "$0")/.." && pwd)/.venv-deploy"
if [ ! -x "$deploy_venv/bin/kubernetes-validate" ]; then
  say "kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $deploy_venv"
  python3 -m venv "$deploy_venv"
  "$deploy_venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

if [ ! -e "$Z3_PREFIX/lib/libz3.so" ]; then
  say "z3 $Z3_VERSION (libz3.so from the z3-solver wheel) into $Z3_PREFIX"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps -d "$tmp" "z3-solver==$Z3_VERSION"
  python3 -m zipfile -e "$tmp"/z3_solver-*.whl "$tmp/wheel"
  sudo_ mkdir -p "$Z3_PREFIX/lib" "$Z3_PREFIX/include"
  sudo_ cp -a "$tmp"/wheel/z3/lib/libz3.so* "$Z3_PREFIX/lib/"
  sudo_ cp -a "$tmp"/wheel/z3/include/. "$Z3_PREFIX/include/"
  echo "$Z3_PREFIX/lib" | sudo_ tee /etc/ld.so.conf.d/warden-z3.conf >/dev/null
  sudo_ ldconfig
  rm -rf "$tmp"
fi

if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
  say "rust-src for the nightly toolchain (builds the eBPF programs)"
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
  rustup component add rust-src --toolchain nightly
fi

if ! command -v bpf-linker >/dev/null 2>&1; then
  say "bpf-linker $BPF_LINKER_VERSION"
  cargo install bpf-linker --version "$BPF_LINKER_VERSION" --locked --quiet
fi
