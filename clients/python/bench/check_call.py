"""The latency of `warden.Token.check_call` from Python, per call, as an
orchestrator pays it: argument conversion, the monitor, the Verdict object.

    python clients/python/bench/check_call.py [--calls N]

Needs the `warden` package installed and the `warden` binary (WARDEN_BIN, or
target/release/warden, else target/debug/warden) to make a key and issue the
token. Each call is timed alone with perf_counter_ns (its own overhead, a few
tens of ns, is measured and subtracted); prints p50, p90, p99 per case.
docs/benchmarks.md gives the figures and the machine."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import warden

REPO = Path(__file__).resolve().parents[3]

SPEC = """spec "bench" {
  let payees = ["UK12345678901234567890"]
  allow call get_balance
  allow call send_money when recipient in payees and amount <= 1000
  allow call update_password
}
"""
PLAN = """plan "bench" {
  param amount: number where amount > 0 and amount <= 100
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = amount)
}
"""


def warden_bin() -> str:
    if "WARDEN_BIN" in os.environ:
        return os.environ["WARDEN_BIN"]
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "warden"
        if p.exists():
            return str(p)
    return "warden"


def issue() -> tuple[str, str]:
    w = warden_bin()
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([w, "keygen", "--out", d], check=True, capture_output=True)
        Path(d, "b.spec").write_text(SPEC)
        Path(d, "b.plan").write_text(PLAN)
        tok = subprocess.run([w, "issue", f"{d}/b.plan", "--spec", f"{d}/b.spec", "--key", f"{d}/warden.key"],
                             check=True, capture_output=True, text=True).stdout.strip()
        return tok, Path(d, "warden.pub").read_text().strip()


def percentiles(ns: list[int]) -> tuple[float, float, float]:
    q = statistics.quantiles(ns, n=100, method="inclusive")
    return q[49], q[89], q[98]


def measure(fn, calls: int) -> list[int]:
    clock = time.perf_counter_ns
    for _ in range(min(calls, 10_000)):
        fn()
    out = []
    for _ in range(calls):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200_000)
    a = ap.parse_args()
    tok, pub = issue()
    token = warden.Token.verify(tok, pub)
    payee = "UK12345678901234567890"
    token.check_call("send_money", recipient=payee, amount=40)  # binds the param
    overhead = statistics.median(measure(lambda: None, a.calls))
    cases = {
        "check_call(\"get_balance\") allowed": lambda: token.check_call("get_balance"),
        "check_call(\"send_money\", recipient, amount) allowed": lambda: token.check_call(
            "send_money", recipient=payee, amount=40),
        "check_call(\"update_password\", to) refused": lambda: token.check_call("update_password", to="x"),
    }
    print(f"{a.calls} calls per case; timer+lambda overhead {overhead:.0f} ns subtracted")
    for name, fn in cases.items():
        p50, p90, p99 = percentiles(measure(fn, a.calls))
        print(f"{name:55} p50 {(p50 - overhead) / 1000:6.2f} us  p90 {(p90 - overhead) / 1000:6.2f} us  "
              f"p99 {(p99 - overhead) / 1000:6.2f} us")


if __name__ == "__main__":
    main()
