"""The check_call bench (bench/check_call.py, figures in docs/benchmarks.md)
still runs: a few hundred calls, its output read back. No time is asserted."""

import re
import subprocess
import sys

from conftest import WARDEN, HERE


def test_the_bench_runs():
    p = subprocess.run([sys.executable, str(HERE.parent / "bench" / "check_call.py"), "--calls", "300"],
                       capture_output=True, text=True, env={"WARDEN_BIN": WARDEN, "PATH": "/usr/bin:/bin"},
                       timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if " p50 " in line]
    assert len(rows) == 3, p.stdout
    assert all(re.search(r"p50 +-?\d+\.\d\d us +p90 .* p99 ", r) for r in rows)
