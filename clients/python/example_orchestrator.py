"""An example orchestrator: submit the agent's plan, wait for a human if the
spec asks for one, then check every tool call against the token before
running it.

    python example_orchestrator.py --target 127.0.0.1:50051 --secret S \
        --spec banking --agent banking-assistant --plan pay.plan
"""

import argparse
import sys
import time

import grpc

from warden_client import WardenClient, call_action, pb


def obtain_token(client, plan, spec, agent, poll=1.0, patience=600):
    resp = client.submit(plan, spec, agent)
    if resp.verdict == pb.VERDICT_REJECT:
        for c in resp.counterexamples:
            where = c.step_location
            print(f"refused: {c.message} ({where.file}:{where.line}:{where.column})", file=sys.stderr)
            for w in c.witnesses:
                print(f"    {w.name} = {w.value}", file=sys.stderr)
        return None
    if resp.verdict == pb.VERDICT_APPROVE:
        print(f"waiting for a human to approve {resp.approval_id}: {list(resp.approval_reasons)}", file=sys.stderr)
        deadline = time.time() + patience
        while time.time() < deadline:
            a = client.get_approval(resp.approval_id)
            if a.state == pb.APPROVAL_STATE_APPROVED:
                return a.token
            if a.state == pb.APPROVAL_STATE_DENIED:
                print(f"denied by {a.decided_by}: {a.decision_reason}", file=sys.stderr)
                return None
            time.sleep(poll)
        return None
    return resp.token


def run_tool(client, token, name, **args):
    """Checks a tool call against the token; only an allowed call runs."""
    try:
        r = client.check(token, call_action(name, **args))
    except grpc.RpcError as e:
        print(f"{name}: token refused ({e.code().name}: {e.details()})", file=sys.stderr)
        return False
    if not r.allowed:
        print(f"{name}: refused: {r.reason}", file=sys.stderr)
        return False
    print(f"{name}({args}) allowed; running it")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--plan", required=True)
    args = ap.parse_args()
    client = WardenClient(args.target, args.secret)
    with open(args.plan) as f:
        plan = f.read()
    token = obtain_token(client, plan, args.spec, args.agent)
    if token is None:
        return 1
    run_tool(client, token, "get_balance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
