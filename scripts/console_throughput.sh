#!/usr/bin/env bash
# SubmitPlan throughput of `warden serve` with the approval console enabled
# (nobody signed in) and without it, interleaved in one run so that the load
# of the machine falls on both alike: ROUNDS rounds of (off, on), each a
# fresh store and SECONDS_EACH seconds of `warden load` with CLIENTS clients;
# odd rounds run off first, even rounds on first, so order effects cancel.
# SIDE_BY_SIDE=1 runs both servers and both loads at the same time instead,
# so that whatever else the machine does falls on both at once.
# Prints each run and the ratio of the medians (on / off).
#   WARDEN_BIN=target/release/warden bash scripts/console_throughput.sh
set -euo pipefail
WARDEN=${WARDEN_BIN:-target/release/warden}
ROUNDS=${ROUNDS:-6}
SECONDS_EACH=${SECONDS_EACH:-10}
CLIENTS=${CLIENTS:-50}
SECRET=submitter-secret-for-load-0001

d=$(mktemp -d)
servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$d"; }
trap cleanup EXIT
"$WARDEN" keygen --out "$d/keys" >/dev/null
mkdir "$d/specs"
cat > "$d/specs/bank.spec" <<'SPEC'
spec "bank" {
  allow call get_balance
  approve call send_money when amount <= 1000
}
SPEC
cat > "$d/plan.plan" <<'PLAN'
plan "balance" {
  agent "bot"
  call get_balance()
}
PLAN

# Starts a server (mode round); sets $pid and $addr.
start() {
  local mode=$1 round=$2 cfg="$d/$1-$2.toml" line
  {
    printf 'listen = "127.0.0.1:0"\ndb = "%s-%s.db"\nspecs = "specs"\nkey = "keys/warden.key"\nreload_poll_ms = 0\n' "$mode" "$round"
    if [ "$mode" = on ]; then printf '[console]\nlisten = "127.0.0.1:0"\n'; fi
    printf '[[credentials]]\nname = "orch"\nrole = "submitter"\nsecret = "%s"\n' "$SECRET"
    printf '[[credentials]]\nname = "alice"\nrole = "approver"\nsecret = "approver-secret-for-load-01"\n'
  } > "$cfg"
  "$WARDEN" serve --config "$cfg" >"$d/$mode-$round.out" 2>"$d/$mode-$round.log" &
  pid=$!
  servers+=("$pid")
  until [ -s "$d/$mode-$round.out" ]; do sleep 0.05; done
  read -r line < "$d/$mode-$round.out"
  addr=${line##* }
  if [ "$mode" = on ]; then
    until grep -q "^console listening on " "$d/$mode-$round.out"; do sleep 0.05; done
  fi
}

stop() { # pid
  kill "$1"
  while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
}

load() { # addr -> plans per second
  "$WARDEN" load --endpoint "http://$1" --secret "$SECRET" --plan "$d/plan.plan" --spec bank \
    --agent bot --clients "$CLIENTS" --seconds "$SECONDS_EACH" --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["errors"]==0, r; print("%.1f" % r["plans_per_second"])'
}

run() { # mode round -> plans per second
  start "$1" "$2"
  load "$addr"
  stop "$pid"
}

side_by_side() { # round -> "off on"
  start off "$1"; local p_off=$pid a_off=$addr
  start on "$1"; local p_on=$pid a_on=$addr
  load "$a_off" > "$d/off-$1.pps" & local l1=$!
  load "$a_on" > "$d/on-$1.pps" & local l2=$!
  wait "$l1" "$l2"
  stop "$p_off"; stop "$p_on"
  echo "$(cat "$d/off-$1.pps") $(cat "$d/on-$1.pps")"
}

off=(); on=()
for r in $(seq 1 "$ROUNDS"); do
  if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then read -r a b < <(side_by_side "$r")
  elif [ $((r % 2)) -eq 1 ]; then a=$(run off "$r"); b=$(run on "$r")
  else b=$(run on "$r"); a=$(run off "$r"); fi
  off+=("$a"); on+=("$b")
  echo "round $r: console off $a plans/s, console on $b plans/s"
done
python3 - "${off[*]}" "${on[*]}" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
mo, mn = statistics.median(off), statistics.median(on)
print(f"median: console off {mo:.1f} plans/s, console on {mn:.1f} plans/s, on/off = {mn / mo:.3f}")
PY
