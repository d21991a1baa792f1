"""`warden.Client` and `warden.aio.Client` against a real `warden serve`:
submit (accept, approve, reject with counterexamples), approve, revoke,
check an action, stream audit events, and the typed exceptions; tokens the
service issues verified and checked in process by `warden.Token`."""

from __future__ import annotations

import asyncio

import pytest

import service_fixture as sf
import warden
from warden import actions

ACCEPT = """plan "look" {
  agent "banking-assistant"
  param amount: number where amount > 0 and amount <= 50
  read "/srv/data/statement.txt"
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = amount)
}
"""
APPROVE = """plan "big" {
  agent "banking-assistant"
  call send_money(recipient = "UK12345678901234567890", amount = 500)
}
"""
REJECT = """plan "steal" {
  agent "banking-assistant"
  call update_password(user = "admin")
}
"""
PAYEE = "UK12345678901234567890"


@pytest.fixture(scope="module")
def endpoints(service):
    endpoint, d = service
    return endpoint, (d / "keys" / "warden.pub").read_text().strip()


def test_submit_verify_check_in_process_and_on_the_service(endpoints):
    endpoint, pub = endpoints
    with warden.Client(endpoint, sf.SUBMITTER) as c:
        c.wait_ready()
        s = c.submit_plan(ACCEPT, "bank", "banking-assistant")
        assert s.verdict is warden.PlanVerdict.ACCEPT, s.counterexamples
        assert s.token and s.token_id and s.envelope["calls"]
        token = warden.Token.verify(s.token, pub)
        assert token.id == s.token_id
        # In process and on the service, the same verdicts (separate runs).
        for name, args in [("get_balance", {}), ("send_money", {"recipient": PAYEE, "amount": 20}),
                           ("send_money", {"recipient": PAYEE, "amount": 21}),
                           ("send_money", {"recipient": PAYEE, "amount": 20}),
                           ("update_password", {"user": "x"})]:
            local = token.check_call(name, **args)
            remote = c.check_call(s.token, name, **args)
            assert local.allowed == remote.allowed, (name, args, local, remote)
        assert c.check_action(s.token, actions.read("/srv/data/statement.txt"))
        assert not c.check_action(s.token, actions.write("/etc/passwd"))


ASSUME = """plan "bill" {
  agent "banking-assistant"
  let bill = call read_bill(file = "b.txt") where bill.amount > 0 and bill.amount <= 50
  call send_money(recipient = "UK12345678901234567890", amount = bill.amount)
}
"""


def test_a_result_that_fails_its_assumption_stops_the_run_on_the_service(endpoints):
    endpoint, _ = endpoints
    with warden.Client(endpoint, sf.SUBMITTER) as c:
        c.wait_ready()
        s = c.submit_plan(ASSUME, "bank", "banking-assistant")
        assert s.verdict is warden.PlanVerdict.ACCEPT, s.counterexamples
        assert c.check_call(s.token, "read_bill", file="b.txt")
        assert c.check_result(s.token, "read_bill", {"amount": 30})
        assert c.check_call(s.token, "send_money", recipient=PAYEE, amount=actions.from_call(30, "read_bill"))
        no = c.check_result(s.token, "read_bill", {"amount": 75})
        assert not no and "bill.amount > 0 and bill.amount <= 50" in no.reason, no
        later = c.check_call(s.token, "send_money", recipient=PAYEE, amount=actions.from_call(30, "read_bill"))
        assert not later and "stopped" in later.reason, later


def test_approve_reject_revoke_and_errors(endpoints):
    endpoint, pub = endpoints
    with warden.Client(endpoint, sf.SUBMITTER) as sub, warden.Client(endpoint, sf.APPROVER) as appr:
        s = sub.submit_plan(APPROVE, "bank", "banking-assistant")
        assert s.verdict is warden.PlanVerdict.APPROVE and s.token is None
        assert s.approval_id and s.approval_reasons
        with pytest.raises(warden.PermissionDenied):
            sub.approve(s.approval_id, "me")
        with pytest.raises(warden.InvalidArgument):
            appr.approve(s.approval_id, "")
        a = appr.approve(s.approval_id, "the invoice is genuine")
        assert a.state is warden.ApprovalState.APPROVED and a.decided_by == "alice"
        assert sub.get_approval(s.approval_id).token == a.token
        with pytest.raises(warden.FailedPrecondition):
            appr.deny(s.approval_id, "too late")
        assert warden.Token.verify(a.token, pub).check_call("send_money", recipient=PAYEE, amount=500)

        r = sub.submit_plan(REJECT, "bank", "banking-assistant")
        assert r.verdict is warden.PlanVerdict.REJECT and r.token is None
        ce = r.counterexamples[0]
        assert ce.message and ce.step_location.line == 3 and "update_password" in ce.step

        rv = appr.revoke(a.token_id, "rotated")
        assert rv.token_id == a.token_id and not rv.already_revoked
        assert appr.revoke(a.token_id, "again").already_revoked
        with pytest.raises(warden.PermissionDenied, match="revoked"):
            sub.check_call(a.token, "get_balance")

        with pytest.raises(warden.NotFound):
            sub.submit_plan(ACCEPT, "nope", "banking-assistant")
        with pytest.raises(warden.InvalidArgument, match="parse"):
            sub.submit_plan("plan {{ oops", "bank", "banking-assistant")
        with pytest.raises(warden.NotFound):
            appr.approve("apr_nope", "why")
        with pytest.raises(warden.PermissionDenied):
            sub.reload()
    with warden.Client(endpoint, "not-a-configured-secret") as bad:
        with pytest.raises(warden.Unauthenticated) as e:
            bad.submit_plan(ACCEPT, "bank", "banking-assistant")
        assert isinstance(e.value, warden.ServiceError) and isinstance(e.value, warden.WardenError)
    with pytest.raises(ValueError):
        warden.Client(endpoint, "")


def test_events_stream(endpoints):
    endpoint, _ = endpoints
    with warden.Client(endpoint, sf.SUBMITTER) as sub, warden.Client(endpoint, sf.APPROVER) as appr:
        sub.submit_plan(ACCEPT, "bank", "banking-assistant")
        stream = appr.events(replay=True, kinds=["submission"])
        # The service is shared by the session's tests: other submissions
        # may come first in the log.
        first = next(e for e in stream if e.body.get("agent") == "banking-assistant")
        stream.close()
        assert first.kind == "submission" and first.body["agent"] == "banking-assistant"
        assert first.seq > 0 and len(first.hash) == 64
        with pytest.raises(warden.PermissionDenied):
            next(sub.events(replay=True))


def test_unreachable_service_is_unavailable():
    with warden.Client("127.0.0.1:1", sf.SUBMITTER, timeout=2) as c:
        with pytest.raises(warden.Unavailable):
            c.submit_plan(ACCEPT, "bank", "a")


async def test_asyncio_client(endpoints):
    endpoint, pub = endpoints
    async with warden.aio.Client(endpoint, sf.SUBMITTER) as sub, warden.aio.Client(endpoint, sf.APPROVER) as appr:
        await sub.wait_ready()
        # Concurrent submissions on one channel.
        subs = await asyncio.gather(*[sub.submit_plan(ACCEPT, "bank", "banking-assistant") for _ in range(4)])
        assert {s.verdict for s in subs} == {warden.PlanVerdict.ACCEPT}
        assert len({s.token_id for s in subs}) == 4
        s = subs[0]
        assert await sub.check_call(s.token, "send_money", recipient=PAYEE, amount=30)
        assert not await sub.check_call(s.token, "send_money", recipient=PAYEE, amount=31)
        await appr.revoke(s.token_id, "done")
        with pytest.raises(warden.PermissionDenied):
            await sub.check_call(s.token, "get_balance")
        with pytest.raises(warden.TokenRevoked):
            warden.Token.verify(s.token, pub, revocations=warden.Revocations([s.token_id]))
        events = appr.events(replay=True, kinds=["revocation"])
        ev = await events.__anext__()
        await events.aclose()
        assert ev.kind == "revocation"
        with pytest.raises(warden.InvalidArgument):
            await sub.check_call("garbage", "get_balance")
