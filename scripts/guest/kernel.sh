#!/usr/bin/env bash
# Resolves, downloads and caches the guest kernel for the BPF LSM harness.
#
#   scripts/guest/kernel.sh            prints the cached kernel directory (downloads it on first use)
#
# The kernel is a stock Debian one, built with CONFIG_BPF_LSM=y, BTF and 9p as modules:
# `linux-image-6.12.N+deb12-amd64-unsigned` (Landlock ABI 6, so the enforcer's own
# Landlock tests run in the guest too), else `linux-image-6.1.0-N-amd64-unsigned`.
# Security updates rename the package, so the name is resolved from apt's package
# lists each time: the highest version that apt can download. Set
# WARDEN_GUEST_KERNEL_PKG to pin one, or WARDEN_GUEST_KERNEL_PATTERN (a regex).
#
# Only what the guest needs is kept under .guest/kernel/<version>/: vmlinuz, the
# modules that mount the host root over 9p (listed in load order in `modules.load`,
# computed from modules.dep), and the kernel config.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${WARDEN_GUEST_CACHE:-$root/.guest}/kernel"
patterns=("${WARDEN_GUEST_KERNEL_PATTERN:-^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned\$}")
[ -n "${WARDEN_GUEST_KERNEL_PATTERN:-}" ] || patterns+=('^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')
# The modules that mount a 9p share over virtio; their dependencies come from modules.dep.
wanted_modules=(virtio_pci 9pnet_virtio 9p)

say() { printf 'guest: %s\n' "$*" >&2; }
die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

# Every package matching the patterns, the preferred pattern first, highest version first.
candidates() {
  local p
  for p in "${patterns[@]}"; do
    apt-cache search --names-only "$p" 2>/dev/null | awk '{print $1}' | sort -rV
  done
}

resolve_package() {
  if [ -n "${WARDEN_GUEST_KERNEL_PKG:-}" ]; then
    echo "$WARDEN_GUEST_KERNEL_PKG"
    return
  fi
  local list
  list=$(candidates)
  if [ -z "$list" ]; then
    say "no package matches ${patterns[*]} in apt's lists; running apt-get update"
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >&2 || true; else sudo apt-get update -qq >&2 || true; fi
    list=$(candidates)
  fi
  local p
  for p in $list; do
    # A package that apt lists but has no candidate version cannot be downloaded.
    local policy
    policy=$(apt-cache policy "$p" 2>/dev/null || true)
    if grep -q 'Candidate: [0-9]' <<<"$policy"; then
      echo "$p"
      return
    fi
  done
  return 1
}

# The modules to insmod, dependencies first, from a modules.dep file; a wanted
# module the kernel has built in (modules.builtin) needs no loading.
load_order() {
  local dep_file=$1
  shift
  local builtin
  builtin=$(sed -e 's|.*/||' -e 's|\.ko.*||' "$(dirname "$dep_file")/modules.builtin" 2>/dev/null | tr '\n' ' ')
  awk -v want="$*" -v builtin=" $builtin " '
    {
      mod = $1; sub(/:$/, "", mod)
      name = mod; sub(/.*\//, "", name); sub(/\.ko(\.[a-z]+)?$/, "", name)
      path[name] = mod
      deps[mod] = ""
      for (i = 2; i <= NF; i++) deps[mod] = deps[mod] " " $i
    }
    function visit(m,   n, i, d) {
      if (m in seen) return
      seen[m] = 1
      n = split(deps[m], d, " ")
      # modules.dep lists the deepest dependency last; load from the end.
      for (i = n; i >= 1; i--) visit(d[i])
      print m
    }
    END {
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) {
        if (!(w[i] in path)) {
          if (index(builtin, " " w[i] " ") > 0) continue
          print "guest: error: the kernel has no module " w[i] > "/dev/stderr"; exit 1
        }
        visit(path[w[i]])
      }
    }' "$dep_file"
}

fetch_kernel() {
  local pkg=$1 dest=$2
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  say "downloading $pkg (once; cached in $dest)"
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err") ||
    die "apt-get download $pkg failed: $(tail -n 3 "$tmp/apt.err")"
  dpkg -x "$tmp"/*.deb "$tmp/x"
  local kdir kver
  kdir=$(find "$tmp/x/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  [ -n "$kdir" ] || die "$pkg holds no /lib/modules/<version>"
  kver=$(basename "$kdir")
  # The .deb ships no modules.dep (depmod runs at install time): build it.
  busybox depmod -b "$tmp/x" "$kver"
  local stage="$dest.partial"
  rm -rf "$stage"
  mkdir -p "$stage/modules"
  cp "$tmp/x/boot/vmlinuz-$kver" "$stage/vmlinuz"
  cp "$tmp/x/boot/config-$kver" "$stage/config"
  cp "$kdir/modules.dep" "$stage/modules.dep"
  local m order
  order=$(load_order "$kdir/modules.dep" "${wanted_modules[@]}") ||
    die "$pkg lacks the 9p/virtio modules the guest needs"
  : >"$stage/modules.load"
  for m in $order; do
    local base
    base=$(basename "$m")
    case "$base" in
      *.ko.xz) xz -dc "$kdir/$m" >"$stage/modules/${base%.xz}"; base=${base%.xz} ;;
      *.ko.zst) zstd -qdc "$kdir/$m" >"$stage/modules/${base%.zst}"; base=${base%.zst} ;;
      *.ko.gz) gzip -dc "$kdir/$m" >"$stage/modules/${base%.gz}"; base=${base%.gz} ;;
      *) cp "$kdir/$m" "$stage/modules/$base" ;;
    esac
    echo "$base" >>"$stage/modules.load"
  done
  grep -q '^CONFIG_BPF_LSM=y' "$stage/config" || die "$pkg is not built with CONFIG_BPF_LSM=y"
  echo "$pkg" >"$stage/package"
  echo "$kver" >"$stage/version"
  rm -rf "$dest"
  mv "$stage" "$dest"
}

main() {
  command -v busybox >/dev/null || die "busybox is missing: apt-get install busybox-static (or run scripts/deps.sh)"
  mkdir -p "$cache"
  local pkg
  if ! pkg=$(resolve_package); then
    # Offline or no apt lists: fall back to the newest kernel already cached.
    local cached
    cached=$(find "$cache" -mindepth 2 -maxdepth 2 -name package 2>/dev/null | sort -V | tail -n 1)
    [ -n "$cached" ] || die "no package matches ${patterns[*]} and nothing is cached in $cache"
    say "apt offers no package matching ${patterns[*]}; using the cached $(cat "$cached")"
    dirname "$cached"
    return
  fi
  local dest="$cache/$pkg"
  if [ ! -f "$dest/package" ]; then
    fetch_kernel "$pkg" "$dest"
  fi
  echo "$dest"
}

main "$@"
