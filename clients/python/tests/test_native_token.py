"""`warden.Token`: verification against a key set, lifetime, revocation, and
the run's monitor state (params, limits, ordering) through `check_call`."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest

import warden
from reference import Run

SPEC = """spec "bank" {
  max ttl 30m
  let payees = ["UK12345678901234567890"]
  allow call get_balance, read_inbox, login
  allow call send_money when recipient in payees and amount <= 1000
  allow call send_mail
  allow call pay
  never call send_mail after call read_inbox
  require call login before call pay
  at most 2 call send_money
}
"""

PLAN = """plan "pay" {
  agent "banking-assistant"
  ttl 10m
  param amount: number where amount > 0 and amount <= 100
  call get_balance()
  call send_mail(to = "boss")
  call read_inbox()
  call login()
  call pay(n = 1)
  call send_money(recipient = "UK12345678901234567890", amount = amount)
  call send_money(recipient = "UK12345678901234567890", amount = amount)
}
"""

PAYEE = "UK12345678901234567890"


@pytest.fixture(scope="module")
def issued(keys, tmp_path_factory):
    return keys.issue(PLAN, SPEC, tmp_path_factory.mktemp("bank"))


def test_verify_reads_the_claims(issued, keys):
    t = warden.Token.verify(issued, keys.public)
    claims = json.loads(t.claims_json)
    assert t.id == claims["jti"] and len(t.id) == 32
    assert t.agent == "banking-assistant"
    assert t.plan == "pay" and t.spec == "bank"
    assert t.key_id.startswith("k4.pid.")
    assert t.not_before <= time.time() < t.expires_at
    assert t.expires_at - t.issued_at == 600
    assert t.ancestors == []
    assert t.is_live()


def test_key_set_and_key_files(issued, keys, other_keys):
    # A key set: the key the footer names is used, wherever it stands.
    t = warden.Token.verify(issued, [other_keys.public, keys.public])
    assert t.check_call("get_balance")
    # A path to warden.pub works as well as its text.
    assert warden.Token.verify(issued, [str(keys.public_file)]).check_call("get_balance")
    with pytest.raises(warden.WrongKey, match="not among the trusted keys"):
        warden.Token.verify(issued, [other_keys.public, str(other_keys.public_file)])
    with pytest.raises(warden.WrongKey):
        warden.Token.verify(issued, other_keys.public)
    with pytest.raises(warden.InvalidKey):
        warden.Token.verify(issued, [])
    with pytest.raises(warden.InvalidKey):
        warden.Token.verify(issued, "k4.public.not-a-key")
    with pytest.raises(TypeError):
        warden.Token.verify(issued, 42)


def test_key_set_files_and_rotation(issued, keys, other_keys, tmp_path):
    # The same key set file `warden serve` (`keys =`) and every `--pub` read.
    t = warden.Token.verify(issued, keys.public)
    keyset = tmp_path / "warden.keys"
    keyset.write_text(f"# rotation\n{other_keys.public} active\n{keys.public} verify-only\n")
    assert warden.Token.verify(issued, str(keyset)).key_id == t.key_id
    keyset.write_text(f"{other_keys.public} active\n{keys.public} retired\n")
    with pytest.raises(warden.KeyRetired, match=t.key_id):
        warden.Token.verify(issued, str(keyset))
    # A retired key is not revived by naming it again beside the file.
    with pytest.raises(warden.KeyRetired):
        warden.Token.verify(issued, [keys.public, str(keyset)])
    assert issubclass(warden.KeyRetired, warden.WrongKey)
    keyset.write_text(f"{keys.public} sometimes\n")
    with pytest.raises(warden.InvalidKey, match="not a key state"):
        warden.Token.verify(issued, str(keyset))


def test_refused_tokens_raise_typed_errors(issued, keys):
    with pytest.raises(warden.MalformedToken):
        warden.Token.verify("v3.local.nope", keys.public)
    body, footer = issued.rsplit(".", 1)
    flipped = body[:-5] + ("A" if body[-5] != "A" else "B") + body[-4:] + "." + footer
    with pytest.raises((warden.BadSignature, warden.MalformedToken)):
        warden.Token.verify(flipped, keys.public)
    t = warden.Token.verify(issued, keys.public)
    with pytest.raises(warden.TokenExpired, match="expired"):
        warden.Token.verify(issued, keys.public, now=t.expires_at)
    with pytest.raises(warden.TokenNotYetValid):
        warden.Token.verify(issued, keys.public, now=t.not_before - 1)
    with pytest.raises(warden.TokenRevoked, match=t.id):
        warden.Token.verify(issued, keys.public, revocations=warden.Revocations([t.id]))
    # Every token error is a WardenError.
    assert issubclass(warden.TokenRevoked, warden.TokenError)
    assert issubclass(warden.TokenError, warden.WardenError)


def test_check_call_holds_the_run_state(issued, keys):
    t = warden.Token.verify(issued, keys.public)
    assert t.check_call("get_balance").kind == "allowed"
    v = t.check_call("update_password", to="x")
    assert not v and v.kind == "envelope" and v.rule is None
    assert "update_password" in v.reason
    # A param binds on first use and keeps its value for the run.
    assert not t.check_call("send_money", recipient=PAYEE, amount=400)
    assert t.check_call("send_money", recipient=PAYEE, amount=40)
    assert t.check_call("send_money", recipient=PAYEE, amount=Decimal("40.0"))
    assert t.check_call("send_money", recipient=PAYEE, amount=41).kind in ("envelope", "limit")
    v = t.check_call("send_money", recipient=PAYEE, amount=40)
    assert v.kind == "limit" and v.rule.endswith(":10:3"), v
    assert "limit of 2" in v.reason
    # require login before pay; never send_mail after read_inbox.
    v = t.check_call("pay", n=1)
    assert v.kind == "require" and v.rule.endswith(":9:3")
    assert t.check_call("login") and t.check_call("pay", n=1)
    assert t.check_call("send_mail", to="boss")
    assert t.check_call("read_inbox")
    v = t.check_call("send_mail", to="boss")
    assert v.kind == "never" and v.rule.endswith(":8:3")
    with pytest.raises(warden.CallRefused) as e:
        v.raise_if_refused()
    assert e.value.args[0] is v
    # reset() starts a new run.
    t.reset()
    assert t.check_call("send_mail", to="boss")
    state = json.loads(t.run_state_json)
    assert state["counts"] == [0]


def test_lifetime_and_revocation_at_every_check(issued, keys):
    now = int(time.time())
    revoked = warden.Revocations()
    t = warden.Token.verify(issued, keys.public, revocations=revoked, now=now)
    assert t.check_call("get_balance")
    t.set_now(t.expires_at)
    v = t.check_call("get_balance")
    assert v.kind == "expired" and not t.is_live()
    t.set_now(now)
    revoked.revoke(t.id)
    assert t.check_call("get_balance").kind == "revoked"
    assert revoked.is_revoked(t.id)
    with pytest.raises(ValueError):
        revoked.revoke("not-an-id")
    with pytest.raises(ValueError, match="system clock"):
        warden.Token.verify(issued, keys.public).set_now(now)


def test_revocation_file(issued, keys, tmp_path):
    t = warden.Token.verify(issued, keys.public)
    f = tmp_path / "revoked"
    f.write_text("# revoked tokens\n")
    revs = warden.Revocations.from_file(f)
    t = warden.Token.verify(issued, keys.public, revocations=revs)
    assert t.check_call("get_balance")
    f.write_text(f"# revoked tokens\n{t.id}\n")
    assert t.check_call("get_balance").kind == "revoked"
    with pytest.raises(warden.RevocationUnavailable):
        warden.Revocations.from_file(tmp_path / "missing")


def test_argument_types(issued, keys):
    t = warden.Token.verify(issued, keys.public)
    for bad in (float("nan"), float("inf"), 10**40, object(), {"a": 1}):
        with pytest.raises((TypeError, ValueError)):
            t.check_call("send_money", recipient=PAYEE, amount=bad)
    # A bool is not a number, a number-like string is not a number.
    assert t.check_call("send_money", recipient=PAYEE, amount=True).kind == "envelope"
    assert t.check_call("send_money", recipient=PAYEE, amount="40").kind == "envelope"
    assert t.check_call("send_money", recipient=PAYEE, amount=40.5)
    assert t.check_call("send_money", recipient=PAYEE, amount=Decimal("40.50"))
    # The positional name does not collide with an argument called `name`.
    assert t.check_call("get_balance", name="x").kind == "envelope"
    assert repr(warden.FromCall([1, "a"], "lookup")) == 'FromCall([1, "a"], "lookup")'


def test_threads_share_one_run(issued, keys):
    """Checks from many threads are serialized: the limit of 2 payments
    allows exactly two of them."""
    t = warden.Token.verify(issued, keys.public)
    results = []
    lock = threading.Lock()

    def pay():
        v = t.check_call("send_money", recipient=PAYEE, amount=10)
        with lock:
            results.append(v.allowed)

    threads = [threading.Thread(target=pay) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [False] * 14 + [True] * 2


def test_the_reference_agrees_on_the_fixed_story(issued, keys):
    """The same calls through the binding and the reference evaluator."""
    t = warden.Token.verify(issued, keys.public)
    ref = Run(json.loads(t.claims_json))
    now = int(time.time())
    calls = [("get_balance", {}), ("pay", {"n": 1}), ("login", {}), ("pay", {"n": 1}), ("pay", {"n": 2}),
             ("send_money", {"recipient": PAYEE, "amount": 7}), ("send_money", {"recipient": PAYEE, "amount": 8}),
             ("send_money", {"recipient": PAYEE, "amount": 7}), ("send_money", {"recipient": PAYEE, "amount": 7}),
             ("read_inbox", {}), ("send_mail", {"to": "boss"})]
    for name, args in calls:
        v = t.check_call(name, **args)
        reasons = ref.check(name, args, now)
        assert v.allowed == (not reasons), (name, args, v, reasons)
        assert v.allowed or v.kind in reasons


ASSUME_SPEC = """spec "bills" {
  allow call read_bill
  allow call send_money when recipient == "UK1" and amount > 0 and amount <= 1000
}
"""

ASSUME_PLAN = """plan "pay" {
  let bill = call read_bill(file = "b.txt") where bill.amount > 0 and bill.amount <= 100
  call send_money(recipient = "UK1", amount = bill.amount)
}
"""


def test_a_result_that_fails_its_assumption_stops_the_run(keys, tmp_path):
    t = warden.Token.verify(keys.issue(ASSUME_PLAN, ASSUME_SPEC, tmp_path), keys.public)
    assert t.check_call("read_bill", file="b.txt")
    assert t.check_result("read_bill", {"amount": 40, "subject": "Dec"})
    assert t.check_call("send_money", recipient="UK1", amount=warden.FromCall(40, "read_bill"))
    # A value in the amount's place that breaks the assumption is refused.
    assert not t.check_call("send_money", recipient="UK1", amount=warden.FromCall(400, "read_bill"))
    v = t.check_result("read_bill", {"amount": 4000})
    assert not v and v.kind == "assumption", v
    assert "bill.amount > 0 and bill.amount <= 100" in v.reason and "stopped" in v.reason
    assert v.rule is not None and ":2:" in v.rule
    later = t.check_call("send_money", recipient="UK1", amount=warden.FromCall(40, "read_bill"))
    assert not later and later.kind == "assumption"
