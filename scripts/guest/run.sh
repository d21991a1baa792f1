#!/usr/bin/env bash
# Runs a command inside a QEMU guest whose kernel loads BPF LSM programs.
#
#   scripts/guest/run.sh [options] -- COMMAND [ARGS...]
#
#   --timeout SECS   power the guest off after SECS seconds (default 600; exit 124)
#   --env NAME=VALUE set a variable for the command (repeatable)
#   --smp N          virtual CPUs (default 2)
#   --mem MIB        guest memory (default 1024)
#   --verbose        copy the serial console to stderr as the guest runs
#
# The guest runs a stock Debian kernel (scripts/guest/kernel.sh) under TCG with
# `lsm=lockdown,yama,landlock,bpf`, mounts this machine's root file system read-only
# over 9p and chroots into it, so the project's own glibc binaries run unchanged, in
# the current directory. /tmp, /run and /var/tmp are fresh tmpfs; proc, sysfs,
# cgroup2, bpffs, tracefs and securityfs are mounted. The command's output is printed
# here, and the script exits with the command's status.
#
# It fails (exit 125, with the reason and the tail of the console) when QEMU is
# missing, the guest does not boot, or its kernel does not list `bpf` among its LSMs:
# never a silent skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${WARDEN_GUEST_CACHE:-$root/.guest}"

say() { printf 'guest: %s\n' "$*" >&2; }
die() { printf 'guest: error: %s\n' "$*" >&2; exit 125; }
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

timeout_s=600
smp=2
mem=1024
verbose=0
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --env) envs+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
    --smp) smp=${2:?--smp needs a count}; shift 2 ;;
    --mem) mem=${2:?--mem needs MiB}; shift 2 ;;
    --verbose|-v) verbose=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) printf 'guest: unknown option %s\n' "$1" >&2; usage ;;
  esac
done
[ $# -gt 0 ] || usage
case "$timeout_s" in ''|*[!0-9]*) die "--timeout wants whole seconds, got '$timeout_s'" ;; esac
for e in ${envs[@]+"${envs[@]}"}; do
  [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$e'"
done

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || die "qemu-system-x86_64 is missing: install it with 'apt-get install qemu-system-x86' (or run scripts/deps.sh)"
command -v busybox >/dev/null || die "busybox is missing: install it with 'apt-get install busybox-static' (or run scripts/deps.sh)"
[ "$(id -u)" -eq 0 ] || say "not root: the 9p share of / will only expose what this user can read"

kdir=$("$here/kernel.sh") || die "could not provide a guest kernel (scripts/guest/kernel.sh)"
kver=$(cat "$kdir/version")

# The initramfs: a static busybox, the modules in load order and /init. Rebuilt when
# any of them changes.
busybox=$(command -v busybox)
key=$( (cat "$here/init" "$kdir/modules.load"; echo "$kver"; sha256sum "$busybox") | sha256sum | cut -c1-16)
initrd="$cache/initramfs-$kver-$key.cpio.gz"
if [ ! -f "$initrd" ]; then
  file "$(readlink -f "$busybox")" | grep -q 'statically linked' ||
    die "$busybox is not statically linked: install busybox-static"
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,dev,proc,sys,modules,newroot,results}
  cp "$(readlink -f "$busybox")" "$stage/bin/busybox"
  cp "$here/init" "$stage/init"
  chmod 0755 "$stage/init" "$stage/bin/busybox"
  cp "$kdir"/modules/*.ko "$stage/modules/"
  cp "$kdir/modules.load" "$stage/modules.load"
  (cd "$stage" && find . -mindepth 1 | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.partial"
  mv "$initrd.partial" "$initrd"
  rm -rf "$stage"
fi

# The results share: the command to run goes in, output and status come out.
share=$(mktemp -d "${TMPDIR:-/tmp}/warden-guest.XXXXXX")
qpid=
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill "$qpid" 2>/dev/null || true; fi
  rm -rf "$share"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo '# written by scripts/guest/run.sh'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  echo 'export HOME=/tmp TMPDIR=/tmp WARDEN_IN_GUEST=1'
  for v in RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS; do
    [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  for e in ${envs[@]+"${envs[@]}"}; do
    printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
  done
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$share/cmd.sh"
# The guest's init keeps this directory visible when it lies under /tmp or /run.
printf '%s\n' "$PWD" >"$share/cwd"

# QEMU's TCG runs in one host thread (`thread=single`): with a thread per vCPU
# (MTTCG, QEMU 7.2) a guest kernel that patches its own text while the other vCPU
# runs it (static keys, toggled as the tests attach and detach eBPF programs) was
# seen to die once in CI with a fatal exception in syscall_exit_to_user_mode_prepare.
boot() {
  rm -f "$share"/{booted,boot-seconds,lsm,error,output.log,status,end-seconds}
  set +e
  timeout -k 10 "$timeout_s" "$qemu" \
    -accel tcg,thread=single -cpu max -smp "$smp" -m "$mem" \
    -nodefaults -no-reboot -display none -monitor none -serial stdio \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 lsm=lockdown,yama,landlock,bpf" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$share,mount_tag=results,security_model=none,multidevs=remap" \
    </dev/null >"$console" 2>&1 &
  qpid=$!
  if [ "$verbose" -eq 1 ]; then
    tail -n +1 -f --pid="$qpid" "$console" >&2 &
  fi
  wait "$qpid"
  qstatus=$?
  qpid=
  set -e
}

console="$share/console.log"
start=$(date +%s.%N)
boot
# A guest kernel that panicked before the command finished is an emulator or kernel
# fault, not a result: its whole report is shown, kept beside the results, and the
# guest boots once more. A second panic fails the run.
if [ ! -f "$share/status" ] && grep -q 'Kernel panic' "$console" 2>/dev/null; then
  kept="${TMPDIR:-/tmp}/warden-guest-panic-$(date +%Y%m%d-%H%M%S)-$$.log"
  cp "$console" "$kept"
  say "the guest kernel $kver panicked before the command finished; its report (all of it in $kept):"
  awk '/cut here|BUG:|Oops|general protection|invalid opcode|Kernel panic/ { on = 1 } on' "$console" | head -n 80 | sed 's/^/  | /' >&2
  say "booting the guest once more"
  boot
fi
end=$(date +%s.%N)

console_tail() {
  if [ -s "$console" ]; then tail -n 25 "$console" | sed 's/^/  | /' >&2; else say "(the console is empty)"; fi
}

if [ ! -f "$share/booted" ]; then
  [ "$qstatus" -eq 124 ] && say "QEMU was stopped after ${timeout_s}s"
  say "the guest did not boot (QEMU exit $qstatus; kernel $kver). Console tail:"
  console_tail
  [ -f "$share/error" ] && die "$(cat "$share/error")"
  die "the guest did not boot"
fi
if [ -f "$share/error" ]; then
  console_tail
  die "the guest failed before running the command: $(cat "$share/error")"
fi
if ! grep -qw bpf "$share/lsm" 2>/dev/null; then
  die "the guest kernel $kver does not list bpf among its LSMs ($(cat "$share/lsm" 2>/dev/null || echo 'no securityfs'))"
fi

cat "$share/output.log" 2>/dev/null || true

if [ ! -f "$share/status" ]; then
  if [ "$qstatus" -eq 124 ]; then
    say "the command did not finish within ${timeout_s}s (--timeout); console tail:"
    console_tail
    exit 124
  fi
  say "the guest stopped before the command finished (QEMU exit $qstatus). Console tail:"
  console_tail
  die "no exit status from the guest"
fi

status=$(cat "$share/status")
boot=$(cat "$share/boot-seconds")
ran=$(awk -v a="$boot" -v b="$(cat "$share/end-seconds")" 'BEGIN { printf "%.2f", b - a }')
total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
say "kernel $kver (LSMs $(cat "$share/lsm")): booted in ${boot}s, command ${ran}s, total ${total}s wall, exit $status"
exit "$status"
