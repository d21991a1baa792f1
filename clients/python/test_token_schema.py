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
import unittest
from decimal import Decimal

import jsonschema
import pyseto
from pyseto import Key

from test_token import PLAN, SPEC, warden

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# ---- A checker of tool calls from docs/token-format.md alone ----


def value(v):
    """A VALUE as Python: numbers as Decimal, never float."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, dict) and "num" in v:
        return Decimal(v["num"])
    if isinstance(v, list):
        return [value(x) for x in v]
    if isinstance(v, str):
        return v
    raise NotImplementedError(f"value {v!r} is not read by this small checker")


def operand(o, env):
    if isinstance(o, dict) and "ref" in o:
        if o.get("fields") or "index" in o:
            raise NotImplementedError(f"operand {o!r}")
        return env[o["ref"]]
    return value(o)


def holds(cond, env):
    if cond is True or cond is False:
        return cond
    (op, arg), = cond.items()
    if op == "and":
        return all(holds(c, env) for c in arg)
    if op == "or":
        return any(holds(c, env) for c in arg)
    if op == "not":
        return not holds(arg, env)
    left, right = (operand(o, env) for o in arg)
    compare = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "in": lambda a, b: a in b,
    }
    if op not in compare:
        raise NotImplementedError(f"condition {op!r}")
    return compare[op](left, right)


class Run:
    """One run under a token's claims: params bind on first use."""

    def __init__(self, claims):
        self.env = claims["envelope"]
        self.params = {p["name"]: p for p in self.env.get("params", [])}
        self.bound = {}
        self.allowed = []

    def matches(self, m, arg, binding):
        if isinstance(m, dict) and "param" in m:
            p = self.params[m["param"]]
            if p["type"] == "number" and not isinstance(arg, Decimal):
                return False
            if p["type"] == "string" and not isinstance(arg, str):
                return False
            name = p["name"]
            if name in self.bound or name in binding:
                return self.bound.get(name, binding.get(name)) == arg
            if not holds(p.get("where", True), {name: arg}):
                return False
            binding[name] = arg
            return True
        if isinstance(m, dict) and "from" in m:
            raise NotImplementedError("values from a tool's result")
        return value(m) == arg

    def check(self, tool, **args):
        """None when allowed (and recorded), else why not."""
        args = {k: value(v) for k, v in args.items()}
        for grant in self.env.get("calls", []):
            if grant["tool"] != tool or sorted(grant.get("args", [])) != sorted(args):
                continue
            for row in grant.get("grants", [[]]):
                binding = {}
                if all(self.matches(m, args[a], binding) for a, m in zip(grant.get("args", []), row)):
                    reason = self.limits(tool, args)
                    if reason:
                        return reason
                    self.bound.update(binding)
                    self.allowed.append((tool, args))
                    return None
        return f"no grant of the envelope covers the call of {tool}"

    def limits(self, tool, args):
        for limit in self.env.get("limits", []):
            if self.pattern_matches(limit["of"], tool, args):
                done = sum(1 for t, a in self.allowed if self.pattern_matches(limit["of"], t, a))
                if done >= limit["at_most"]:
                    return f"at most {limit['at_most']} ({limit['rule']})"
        return None

    def pattern_matches(self, pattern, tool, args):
        if pattern.get("kind", "call") != "call":
            return False
        if "calls" in pattern and tool not in pattern["calls"]:
            return False
        return holds(pattern.get("when", True), args)


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
        self.assertIsNone(run.check("get_balance"))
        self.assertIn("no grant", run.check("update_password", to="x"))
        self.assertIn("no grant", run.check("send_money", recipient="US133000000121212121212", amount=40))
        # The param's `where`: 0 < amount <= 100.
        self.assertIn("no grant", run.check("send_money", recipient=payee, amount=400))
        self.assertIn("no grant", run.check("send_money", recipient=payee, amount=0))
        self.assertIsNone(run.check("send_money", recipient=payee, amount=40))
        # A param takes one value per run.
        self.assertIn("no grant", run.check("send_money", recipient=payee, amount=41))
        self.assertIsNone(run.check("send_money", recipient=payee, amount=40))
        # The spec's `at most 2 call send_money`.
        self.assertRegex(run.check("send_money", recipient=payee, amount=40), r"^at most 2 \(.*:\d+:\d+\)$")

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
