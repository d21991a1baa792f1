"""The service path of `make demo`, narrated."""

import os
import signal
import subprocess
import sys
import tempfile

from service_fixture import APPROVER, SUBMITTER, write_config
from test_service import PLAN_APPROVE, SPEC
from warden_client import WardenClient, call_action, pb

WARDEN = os.environ.get("WARDEN_BIN", "warden")


def main():
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([WARDEN, "keygen", "--out", os.path.join(d, "keys")], check=True,
                       stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(d, "specs"))
        with open(os.path.join(d, "specs", "bank.spec"), "w") as f:
            f.write(SPEC)
        cfg = write_config(d)
        server = subprocess.Popen([WARDEN, "serve", "--config", cfg], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        target = server.stdout.readline().split()[-1]
        print(f"== warden serve on {target}")
        sub, appr = WardenClient(target, SUBMITTER), WardenClient(target, APPROVER)
        sub.wait_ready()
        print("== the orchestrator submits:\n" + PLAN_APPROVE)
        r = sub.submit(PLAN_APPROVE, "bank", "banking-assistant")
        print(f"verdict {pb.Verdict.Name(r.verdict)}; approval {r.approval_id}")
        for reason in r.approval_reasons:
            print(f"   {reason}")
        a = appr.approve(r.approval_id, "the bill is genuine")
        print(f"== alice approves: {pb.ApprovalState.Name(a.state)}, token {a.token_id}")
        for name, args in [("send_money", dict(recipient="UK12345678901234567890", amount=10)),
                           ("send_money", dict(recipient="US133000000121212121212", amount=10))]:
            c = sub.check(a.token, call_action(name, **args))
            print(f"== check {name}{args}: {'allowed' if c.allowed else 'refused: ' + c.reason}")
        appr.revoke(a.token_id, "demo over")
        print(f"== alice revokes {a.token_id}")
        try:
            sub.check(a.token, call_action("get_balance"))
        except Exception as e:  # grpc.RpcError
            print(f"== check after revocation: {e.code().name}: {e.details()}")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        out = subprocess.run([WARDEN, "audit", "verify", "--db", os.path.join(d, "warden.db"),
                              "--pub", os.path.join(d, "keys", "warden.pub")], capture_output=True, text=True)
        print("== " + out.stdout.strip())
        return out.returncode


if __name__ == "__main__":
    sys.exit(main())
