"""The independent client that keeps the API honest: starts a real
`warden serve` and drives submit -> approve -> check -> revoke through grpcio,
with the error cases the API promises."""

import json
import os
import signal
import tempfile
import unittest

import grpc

from warden_client import WardenClient, call_action, pb, read_action, write_action

SPEC = """spec "bank" {
  max ttl 30m
  let payees = ["UK12345678901234567890"]
  allow read under "/srv/data/"
  allow call get_balance
  approve call send_money when recipient in payees and amount <= 1000
  deny call update_password
}
"""

PLAN_APPROVE = """plan "pay" {
  agent "banking-assistant"
  ttl 10m
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = 10)
}
"""

PLAN_ACCEPT = """plan "look" {
  agent "banking-assistant"
  read "/srv/data/statement.txt"
  call get_balance()
}
"""

PLAN_REJECT = """plan "steal" {
  agent "banking-assistant"
  call update_password(user = "admin")
}
"""

from service_fixture import ADMIN, APPROVER, SUBMITTER, make_service_dir, start_server, stop_server


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        make_service_dir(d, {"bank": SPEC})
        cls.log = open(os.path.join(d, "serve.log"), "w+")
        cls.server, cls.target = start_server(d, cls.log)
        cls.sub = WardenClient(cls.target, SUBMITTER)
        cls.appr = WardenClient(cls.target, APPROVER)
        cls.admin = WardenClient(cls.target, ADMIN)
        cls.sub.wait_ready()

    @classmethod
    def tearDownClass(cls):
        for c in (cls.sub, cls.appr, cls.admin):
            c.close()
        stop_server(cls.server)
        cls.log.close()
        cls.tmp.cleanup()

    def assertCode(self, code, fn, *args):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception

    def test_1_submit_approve_check_revoke(self):
        r = self.sub.submit(PLAN_APPROVE, "bank", "banking-assistant")
        self.assertEqual(r.verdict, pb.VERDICT_APPROVE)
        self.assertTrue(r.approval_id)
        self.assertFalse(r.token)
        self.assertGreater(r.audit_seq, 0)

        a = self.sub.get_approval(r.approval_id)
        self.assertEqual(a.state, pb.APPROVAL_STATE_PENDING)
        self.assertEqual(a.agent, "banking-assistant")

        # A submitter cannot approve its own plan.
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.sub.approve, r.approval_id, "me")
        # A reason is required.
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.appr.approve, r.approval_id, "")

        a = self.appr.approve(r.approval_id, "the bill is genuine")
        self.assertEqual(a.state, pb.APPROVAL_STATE_APPROVED)
        self.assertEqual(a.decided_by, "alice")
        self.assertTrue(a.token.startswith("v4.public."))
        # Deciding twice is refused.
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.appr.deny, r.approval_id, "too late")
        # The submitter polls and gets the token.
        polled = self.sub.get_approval(r.approval_id)
        self.assertEqual(polled.token, a.token)

        ok = self.sub.check(a.token, call_action("send_money", recipient="UK12345678901234567890", amount=10))
        self.assertTrue(ok.allowed, ok.reason)
        self.assertEqual(ok.token_id, a.token_id)
        no = self.sub.check(a.token, call_action("send_money", recipient="US999", amount=10))
        self.assertFalse(no.allowed)
        self.assertTrue(no.reason)
        no = self.sub.check(a.token, write_action("/etc/passwd"))
        self.assertFalse(no.allowed)

        # Only approvers revoke.
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.sub.revoke, a.token_id, "x")
        rv = self.appr.revoke(a.token_id, "rotated")
        self.assertFalse(rv.already_revoked)
        self.assertTrue(self.appr.revoke(a.token_id, "again").already_revoked)
        e = self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.sub.check, a.token,
                            call_action("get_balance"))
        self.assertIn("revoked", e.details())

    def test_2_accept_and_reject(self):
        r = self.sub.submit(PLAN_ACCEPT, "bank", "banking-assistant")
        self.assertEqual(r.verdict, pb.VERDICT_ACCEPT)
        self.assertTrue(r.token.startswith("v4.public."))
        self.assertTrue(self.sub.check(r.token, read_action("/srv/data/statement.txt")).allowed)
        self.assertFalse(self.sub.check(r.token, read_action("/srv/data/other.txt")).allowed)

        r = self.sub.submit(PLAN_REJECT, "bank", "banking-assistant")
        self.assertEqual(r.verdict, pb.VERDICT_REJECT)
        self.assertFalse(r.token)
        self.assertGreaterEqual(len(r.counterexamples), 1)
        self.assertTrue(r.counterexamples[0].message)

    def test_3_errors(self):
        # An approver cannot submit.
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.appr.submit, PLAN_ACCEPT, "bank", "a")
        # Wrong and missing credentials.
        bad = WardenClient(self.target, "not-a-configured-secret")
        self.assertCode(grpc.StatusCode.UNAUTHENTICATED, bad.submit, PLAN_ACCEPT, "bank", "a")
        bad.metadata = []
        self.assertCode(grpc.StatusCode.UNAUTHENTICATED, bad.submit, PLAN_ACCEPT, "bank", "a")
        bad.close()
        # Unknown spec, parse error, oversize plan, agent mismatch.
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.sub.submit, PLAN_ACCEPT, "nope", "banking-assistant")
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.sub.submit, "plan {{ oops", "bank",
                            "banking-assistant")
        self.assertIn("parse", e.details())
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.sub.submit, "x" * 5000, "bank",
                            "banking-assistant")
        self.assertIn("limit", e.details())
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.sub.submit, PLAN_ACCEPT, "bank", "someone-else")
        # Malformed protobuf: the caller's fault, INVALID_ARGUMENT (not INTERNAL),
        # and the server stays up.
        for method, body in [("SubmitPlan", b"\x0a\xff\xff\xff\xff\x0f"),
                             ("CheckAction", b"\x0f\x01"),
                             ("Revoke", b"\x0a\x05ab")]:
            raw = self.sub.channel.unary_unary("/warden.v1.Warden/" + method)
            with self.assertRaises(grpc.RpcError) as cm:
                raw(body, metadata=self.sub.metadata, timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                             method + ": " + cm.exception.details())
            self.assertIn("not a valid warden.v1.", cm.exception.details())
        # A 100 MB plan is refused by the configured message limit.
        with self.assertRaises(grpc.RpcError) as cm:
            self.sub.submit("x" * (100 * 1024 * 1024), "bank", "banking-assistant")
        self.assertIn(cm.exception.code(), (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE))
        # Unknown approval, malformed token.
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.appr.approve, "apr_nope", "why")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.sub.check, "garbage", call_action("get_balance"))
        # Reload is for admins.
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.appr.reload)
        specs = self.admin.reload().specs
        self.assertEqual([(s.name, s.loaded) for s in specs], [("bank", True)])

    def test_4_events_and_audit(self):
        stream = self.appr.events(replay=True, kinds=["submission"])
        first = next(stream)
        self.assertEqual(first.kind, "submission")
        body = json.loads(first.body_json)
        self.assertEqual(body["agent"], "banking-assistant")
        stream.cancel()
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, lambda: next(self.sub.events(replay=True)))


PAY_SPEC = """spec "pay" {
  allow call get_balance
  allow call send_money when amount <= 100
  at most 1 call send_money
}
"""

PLAN_PAY = """plan "pay" {
  agent "banking-assistant"
  call get_balance()
  call send_money(recipient = "UK1", amount = 10)
}
"""


class RunStateTest(unittest.TestCase):
    """CheckAction runs the token's monitor: `at most 1 call send_money` refuses
    the second one with the reason, also after the server was killed and restarted."""

    def test_at_most_survives_a_restart(self):
        with tempfile.TemporaryDirectory() as d, open(os.path.join(d, "serve.log"), "w+") as log:
            make_service_dir(d, {"pay": PAY_SPEC})
            server, target = start_server(d, log)
            try:
                c = WardenClient(target, SUBMITTER)
                c.wait_ready()
                r = c.submit(PLAN_PAY, "pay", "banking-assistant")
                self.assertEqual(r.verdict, pb.VERDICT_ACCEPT, list(r.counterexamples))
                send = call_action("send_money", recipient="UK1", amount=10)
                self.assertTrue(c.check(r.token, call_action("get_balance")).allowed)
                ok = c.check(r.token, send)
                self.assertTrue(ok.allowed, ok.reason)
                no = c.check(r.token, send)
                self.assertFalse(no.allowed)
                self.assertIn("limit of 1", no.reason)
                c.close()
            finally:
                stop_server(server, signal.SIGKILL)  # nothing is flushed on the way out
            server, target = start_server(d, log)
            try:
                c = WardenClient(target, SUBMITTER)
                c.wait_ready()
                no = c.check(r.token, send)
                self.assertFalse(no.allowed, "the restart reset the `at most` count")
                self.assertIn("limit of 1", no.reason)
                self.assertTrue(c.check(r.token, call_action("get_balance")).allowed)
                c.close()
            finally:
                stop_server(server)


if __name__ == "__main__":
    unittest.main()
