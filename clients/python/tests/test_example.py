"""examples/python/orchestrator.py against a real `warden serve`: the
allowed calls run, the refused ones are reported with their kind and rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import service_fixture as sf
from conftest import REPO

PLAN = """plan "pay" {
  agent "banking-assistant"
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = 40)
}
"""


def test_the_example_orchestrator(service, tmp_path):
    endpoint, d = service
    (tmp_path / "pay.plan").write_text(PLAN)
    calls = [
        {"tool": "get_balance"},
        {"tool": "send_money", "args": {"recipient": "UK12345678901234567890", "amount": 40}},
        {"tool": "send_money", "args": {"recipient": "US133000000121212121212", "amount": 40}},
        {"tool": "send_money", "args": {"recipient": "UK12345678901234567890", "amount": 40}},
        {"tool": "send_money", "args": {"recipient": "UK12345678901234567890", "amount": 40}},
    ]
    (tmp_path / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    p = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "orchestrator.py"), "--endpoint", endpoint,
         "--spec", "bank", "--agent", "banking-assistant", "--plan", str(tmp_path / "pay.plan"),
         "--public-key", str(d / "keys" / "warden.pub"), "--calls", str(tmp_path / "calls.jsonl")],
        capture_output=True, text=True, env={**os.environ, "WARDEN_SECRET": sf.SUBMITTER}, timeout=120,
    )
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("token ") and "banking-assistant" in lines[0]
    assert lines[1] == "ran get_balance()"
    assert lines[2] == "ran send_money(recipient='UK12345678901234567890', amount=40)"
    assert lines[3].startswith("refused send_money: envelope: ")
    assert lines[4] == lines[2]
    assert lines[5].startswith("refused send_money: limit: ") and "(rule at " in lines[5]
    assert len(lines) == 6
