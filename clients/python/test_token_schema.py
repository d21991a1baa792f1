"""Warden tokens read with nothing but docs/token.schema.json and
docs/token-format.md: tokens printed by `warden issue` are verified with
pyseto, their claims validated against the schema, and tool calls checked
against the envelope by the documented semantics alone (a small checker
below, written from the page, not from Warden's code). A token whose claims
are of a version this Warden does not read is refused by `warden inspect`,
naming its version and the accepted range."""

import json
import os
import re
import tempfile
import time
import unittest

import jsonschema
import pyseto
from pyseto import Key

from reference import Run
from test_token import PLAN, SPEC, warden

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

class TokenSchema(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="warden-py-schema-")
        d = cls.tmp.name
        cls.dir = d
        warden("keygen", "--out", os.path.join(d, "keys"))
        for name, text in (("bank.spec", SPEC), ("pay.plan", PLAN)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        with open(os.path.join(REPO, "docs", "token.schema.json")) as f:
            cls.schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft202012Validator(
            cls.schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        with open(os.path.join(d, "keys", "warden.pub")) as f:
            cls.pub = Key.from_paserk(f.read().strip())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def issue(self, plan, spec):
        out = warden("issue", plan, "--spec", spec, "--key", os.path.join(self.dir, "keys", "warden.key"))
        return out.stdout.strip()

    def claims(self, token):
        return pyseto.decode(self.pub, token, deserializer=json).payload

    def test_issued_tokens_follow_the_schema(self):
        cases = [
            (os.path.join(self.dir, "pay.plan"), os.path.join(self.dir, "bank.spec")),
            (os.path.join(REPO, "examples/run/demo.plan"), os.path.join(REPO, "examples/run/demo.spec")),
            (os.path.join(REPO, "examples/run/suffix.plan"), os.path.join(REPO, "examples/run/suffix.spec")),
        ]
        for plan, spec in cases:
            with self.subTest(plan=plan):
                c = self.claims(self.issue(plan, spec))
                errors = [e.message for e in self.validator.iter_errors(c)]
                self.assertEqual(errors, [], json.dumps(c, indent=1))
                self.assertEqual(c["warden"], 2)

    def test_the_schema_refuses_what_warden_refuses(self):
        c = self.claims(self.issue(os.path.join(self.dir, "pay.plan"), os.path.join(self.dir, "bank.spec")))
        self.assertTrue(self.validator.is_valid(c))
        for edit in (
            lambda c: c.update(warden=1),
            lambda c: c.update(admin=True),
            lambda c: c["envelope"].update(admin=True),
            lambda c: c.update(jti="not-an-id"),
            lambda c: c["envelope"]["params"][0]["where"]["and"][1]["<="].__setitem__(1, 99.5),
        ):
            bad = json.loads(json.dumps(c))
            edit(bad)
            self.assertFalse(self.validator.is_valid(bad), bad)

    def test_calls_are_checked_by_the_documented_semantics(self):
        c = self.claims(self.issue(os.path.join(self.dir, "pay.plan"), os.path.join(self.dir, "bank.spec")))
        payee = "UK12345678901234567890"
        run = Run(c)
        now = int(time.time())
        self.assertEqual(run.check("get_balance", {}, now), set())
        self.assertEqual(run.check("update_password", {"to": "x"}, now), {"envelope"})
        self.assertEqual(run.check("send_money", {"recipient": "US133000000121212121212", "amount": 40}, now), {"envelope"})
        # The param's `where`: 0 < amount <= 100.
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 400}, now), {"envelope"})
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 0}, now), {"envelope"})
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 40}, now), set())
        # A param takes one value per run.
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 41}, now), {"envelope"})
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 40}, now), set())
        # The spec's `at most 2 call send_money`.
        self.assertEqual(run.check("send_money", {"recipient": payee, "amount": 40}, now), {"limit"})
        # Past its lifetime, and once revoked.
        self.assertEqual(run.check("get_balance", {}, now + 3600), {"expired"})
        run.revoked.add(c["jti"])
        self.assertEqual(run.check("get_balance", {}, now), {"revoked"})

    def test_a_token_of_another_version_is_refused_naming_both(self):
        tok = self.issue(os.path.join(self.dir, "pay.plan"), os.path.join(self.dir, "bank.spec"))
        claims = self.claims(tok)
        with open(os.path.join(self.dir, "keys", "warden.key")) as f:
            secret = Key.from_paserk(f.read().strip())
        footer = json.dumps({"kid": self.pub.to_paserk_id()}, separators=(",", ":")).encode()
        pub = os.path.join(self.dir, "keys", "warden.pub")
        for version in (1, 3):
            claims["warden"] = version
            other = pyseto.encode(secret, json.dumps(claims).encode(), footer=footer).decode()
            p = warden("inspect", other, "--pub", pub, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            # The message as one line (the terminal renderer wraps it).
            message = re.sub(r"\s*\n\s*\|?\s*", " ", p.stderr)
            self.assertIn(f"version {version}, outside the versions this Warden reads (2..=2)", message)


if __name__ == "__main__":
    unittest.main()
