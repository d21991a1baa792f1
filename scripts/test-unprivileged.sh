#!/usr/bin/env bash
# The unprivileged step of `make test`: every test binary `cargo test --workspace
# --all-targets` built, run again as an unprivileged uid (65534 unless
# WARDEN_TEST_UID says otherwise) with `setpriv`. A test that needs root says so
# and returns: it appends one line to $WARDEN_SKIP_LOG (see
# enforcer/tests/support/root.rs), which this script prints with a count at the end.
# Every other test must pass.
#
# Run as root, it drops to the uid for each binary; run as any other user, it
# runs them as that user. When the checkout sits below a directory the uid
# cannot enter (a `mktemp -d` directory, root's home), the binaries run in a
# private mount namespace where each such directory is replaced by a 0755 tmpfs
# holding only the checkout, bound at the same path: every path compiled into
# the binaries stays valid and nothing else is exposed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
uid=${WARDEN_TEST_UID:-65534}
say() { printf '\033[1mtest-unprivileged:\033[0m %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
  as_user() { setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all -- "$@"; }
else
  uid=$(id -u)
  as_user() { "$@"; }
fi

# The test executables cargo built (nothing is rebuilt after `cargo test`),
# with the package directory each runs in, as `cargo test` runs it; listed
# before entering the namespace below, where cargo itself may be hidden.
if [ -n "${WARDEN_UNPRIV_BINS:-}" ]; then
  mapfile -t bins < "$WARDEN_UNPRIV_BINS"
else
  mapfile -t bins < <(bash "$root/scripts/test-binaries.sh" --workspace)
fi
[ ${#bins[@]} -gt 0 ] || { say "no test binaries: run 'cargo test --workspace --all-targets --no-run' first"; exit 1; }

# Inside the namespace (see below): make the checkout reachable, then run.
if [ "${WARDEN_UNPRIV_NS:-}" = 1 ]; then
  stage=$(mktemp -d)
  mount --bind "$root" "$stage"
  # The topmost ancestor the uid cannot enter becomes a tmpfs with the path to
  # the checkout in it; deeper unreachable ancestors are inside that tmpfs.
  dir=""
  IFS=/ read -ra parts <<< "${root#/}"
  for p in "${parts[@]:0:${#parts[@]}-1}"; do
    dir="$dir/$p"
    if ! as_user test -x "$dir"; then
      mount -t tmpfs -o mode=0755,size=1m warden-unprivileged "$dir"
      mkdir -p -m 0755 "$root"
      break
    fi
  done
  mount --bind "$stage" "$root"
  umount -l "$stage" 2>/dev/null || true
  rmdir "$stage" 2>/dev/null || true
elif [ "$(id -u)" -eq 0 ] && ! as_user test -r "$root/Cargo.toml"; then
  say "uid $uid cannot reach $root: running in a private mount namespace that can"
  list=$(mktemp)
  printf '%s\n' "${bins[@]}" > "$list"
  status=0
  unshare --mount --propagation private env WARDEN_UNPRIV_NS=1 WARDEN_UNPRIV_BINS="$list" \
    bash "$0" "$@" || status=$?
  rm -f "$list"
  exit "$status"
fi
as_user test -r "$root/Cargo.toml" || {
  say "uid $uid cannot read $root/Cargo.toml (is the checkout itself mode 0700?)"
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir -m 0700 "$work/home" && chown "$uid:$uid" "$work/home"
skips="$work/skipped"
: > "$skips" && chown "$uid:$uid" "$skips" && chmod 0600 "$skips"

say "running ${#bins[@]} test binaries as uid $uid"
failed=()
for entry in "${bins[@]}"; do
  IFS=$'\t' read -r exe dir kind name <<< "$entry"
  label="${dir#"$root"/} $kind $name"
  # libtest's terse output for test harnesses; benches and harness-less
  # tests take no options in test mode.
  args=()
  [ "$kind" = bench ] || [ "$name" = guest_lsm ] || args=(-q)
  printf '\n== %s (%s)\n' "$label" "${exe#"$root"/}"
  if ! (cd "$dir" && as_user env HOME="$work/home" WARDEN_SKIP_LOG="$skips" "$exe" "${args[@]}"); then
    failed+=("$label")
  fi
done

echo
n=$(grep -c . "$skips" || true)
if [ "$n" -gt 0 ]; then
  say "skipped, needing root ($n):"
  sort "$skips" | sed 's/^/  /' >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED as uid $uid: ${failed[*]}"
  exit 1
fi
say "${#bins[@]} test binaries passed as uid $uid; $n tests skipped because they need root"
