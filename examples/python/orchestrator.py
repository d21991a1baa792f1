"""A short orchestrator loop with the `warden` package (docs/python.md).

It submits the agent's plan to the Warden service, waits for a human when
the spec asks for one, verifies the token it gets once, offline, against the
service's public key, then checks each tool call the agent proposes in
process (no network round trip per call) and runs only the allowed ones.
Refusals are reported; the exit code is 0 when every call was allowed, 1
when one was refused, 2 when no token was issued.

    python orchestrator.py --endpoint 127.0.0.1:50051 --spec bank \\
        --agent banking-assistant --plan pay.plan --public-key keys/warden.pub \\
        --calls calls.jsonl          # one {"tool": ..., "args": {...}} a line

The bearer secret is read from WARDEN_SECRET.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import warden


def obtain_token(client: warden.Client, plan: str, spec: str, agent: str, patience: float) -> str | None:
    s = client.submit_plan(plan, spec, agent)
    if s.verdict is warden.PlanVerdict.REJECT:
        for c in s.counterexamples:
            witnesses = ", ".join(f"{k} = {v}" for k, v in c.witnesses.items())
            print(f"plan refused at {c.step_location}: {c.message} {witnesses}", file=sys.stderr)
        return None
    if s.verdict is warden.PlanVerdict.APPROVE:
        print(f"waiting for a human to approve {s.approval_id}: {', '.join(s.approval_reasons)}", file=sys.stderr)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            a = client.get_approval(s.approval_id)
            if a.state is warden.ApprovalState.APPROVED:
                return a.token
            if a.state is warden.ApprovalState.DENIED:
                print(f"denied by {a.decided_by}: {a.decision_reason}", file=sys.stderr)
                return None
            time.sleep(1)
        return None
    return s.token


def run_tool(tool: str, args: dict) -> None:
    """Where the real tool would run."""
    print(f"ran {tool}({', '.join(f'{k}={v!r}' for k, v in args.items())})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="127.0.0.1:50051")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--public-key", required=True, help="the service's warden.pub (or its PASERK text)")
    ap.add_argument("--calls", required=True, help="the agent's tool calls, JSON lines")
    ap.add_argument("--patience", type=float, default=600)
    a = ap.parse_args()

    with open(a.plan) as f:
        plan = f.read()
    with warden.Client(a.endpoint, os.environ["WARDEN_SECRET"]) as client:
        text = obtain_token(client, plan, a.spec, a.agent, a.patience)
    if text is None:
        return 2
    token = warden.Token.verify(text, [a.public_key])
    print(f"token {token.id} for {token.agent}, valid until {time.strftime('%H:%M:%S', time.gmtime(token.expires_at))} UTC")

    refused = 0
    with open(a.calls) as f:
        for line in f:
            if not line.strip():
                continue
            call = json.loads(line)
            verdict = token.check_call(call["tool"], **call.get("args", {}))
            if verdict:
                run_tool(call["tool"], call.get("args", {}))
            else:
                refused += 1
                rule = f" (rule at {verdict.rule})" if verdict.rule else ""
                print(f"refused {call['tool']}: {verdict.kind}: {verdict.reason}{rule}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
