"""Fixtures of the `warden` package's tests: the `warden` binary (WARDEN_BIN,
built by run_tests.sh), a key pair, and tokens it issues for real plans."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# reference.py (the independent evaluator) sits beside the tests' directory.
sys.path.insert(0, str(HERE.parent))

WARDEN = os.environ.get("WARDEN_BIN", str(REPO / "target" / "debug" / "warden"))


def warden(*args: str, check: bool = True, cwd: str | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([WARDEN, *args], capture_output=True, text=True, cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"warden {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


class Keys:
    def __init__(self, d: Path) -> None:
        warden("keygen", "--out", str(d))
        self.dir = d
        self.secret = d / "warden.key"
        self.public_file = d / "warden.pub"
        self.public = self.public_file.read_text().strip()

    def issue(self, plan: str, spec: str, workdir: Path, name: str = "p") -> str:
        (workdir / f"{name}.plan").write_text(plan)
        (workdir / f"{name}.spec").write_text(spec)
        out = warden("issue", str(workdir / f"{name}.plan"), "--spec", str(workdir / f"{name}.spec"),
                     "--key", str(self.secret))
        return out.stdout.strip()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory):
    """A running `warden serve`: (endpoint, service directory)."""
    import service_fixture as sf

    d = tmp_path_factory.mktemp("service")
    sf.make_service_dir(str(d), {"bank": SERVICE_SPEC})
    log = open(d / "serve.log", "w+")
    server, endpoint = sf.start_server(str(d), log)
    yield endpoint, d
    sf.stop_server(server)
    log.close()


SERVICE_SPEC = """spec "bank" {
  max ttl 30m
  let payees = ["UK12345678901234567890"]
  allow read under "/srv/data/"
  allow call get_balance, read_bill
  allow call send_money when recipient in payees and amount <= 100
  approve call send_money when recipient in payees and amount > 100 and amount <= 1000
  deny call update_password
  at most 2 call send_money
}
"""
