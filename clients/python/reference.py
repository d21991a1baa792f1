"""A reference evaluator of Warden tokens' claims for tool calls, written from
docs/token-format.md alone (not from Warden's code): the oracle that the
`warden` package's in-process monitor is checked against
(tests/test_property.py) and that checks issued tokens by the documented
semantics (test_token_schema.py).

It reads the claims JSON (already verified: pyseto verifies the signature in
the tests) and keeps one run's state: the value each param took, the
actions allowed so far (for `limits` and `ordering`). It covers what the
tests generate: tool calls, params of type number/string/bool, conditions
with `and`/`or`/`not`/`has` and the comparisons `==`, `!=`, `<`, `<=`, `>`,
`>=`, `in`, `startswith`, `endswith`, `contains`, values from a tool's
result (`from`, and `from_call` in `deny_from` patterns, where a value
comes from the one tool its `Origin` names), limits, ordering, lifetime and
revocation. Anything else
raises NotImplementedError rather than guessing.

Values are tagged pairs, so that a bool is never a number (in Python,
`True == 1`): ("s", str), ("n", Decimal), ("b", bool), ("l", tuple).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

# ---- values ----


def from_json(v: Any) -> tuple:
    """A VALUE of the claims: numbers as Decimal, never float."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, int):
        return ("n", Decimal(v))
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list):
        return ("l", tuple(from_json(x) for x in v))
    if isinstance(v, dict) and set(v) == {"num"}:
        return ("n", Decimal(v["num"]))
    raise NotImplementedError(f"value {v!r}")


def from_python(v: Any) -> tuple:
    """An argument as the caller passes it to `check_call`."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, Decimal)):
        return ("n", Decimal(v))
    if isinstance(v, float):
        return ("n", Decimal(repr(v)))
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, (list, tuple)):
        return ("l", tuple(from_python(x) for x in v))
    raise NotImplementedError(f"argument {v!r}")


def same(a: tuple | None, b: tuple | None) -> bool:
    """Equality of tagged values (decimals by value: 40 == 40.0)."""
    if a is None or b is None or a[0] != b[0]:
        return False
    if a[0] == "l":
        return len(a[1]) == len(b[1]) and all(same(x, y) for x, y in zip(a[1], b[1]))
    return a[1] == b[1]


# ---- conditions ----


def operand(o: Any, env: dict) -> tuple | None:
    """An OPERAND: a VALUE, or `{"ref": NAME}` (None when the action lacks it)."""
    if isinstance(o, dict) and "ref" in o:
        if o.get("fields") or "index" in o:
            raise NotImplementedError(f"operand {o!r}")
        return env.get(o["ref"])
    return from_json(o)


def _order(op: str, a: tuple | None, b: tuple | None) -> bool:
    if a is None or b is None or a[0] != "n" or b[0] != "n":
        return False
    x, y = a[1], b[1]
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _text(op: str, a: tuple | None, b: tuple | None) -> bool:
    if a is None or b is None or a[0] != "s" or b[0] != "s":
        return False
    x, y = a[1], b[1]
    return {"startswith": x.startswith(y), "endswith": x.endswith(y), "contains": y in x}[op]


def holds(cond: Any, env: dict, origins: dict | None = None) -> bool:
    """Whether COND holds where `env` maps names (fields, or a param) to
    values and `origins` maps names to the tool whose result the value came
    from (None: from no tool)."""
    if cond is True or cond is False:
        return cond
    if "from_call" in cond:
        value = cond["value"]
        if not (isinstance(value, dict) and "ref" in value) or value.get("fields") or "index" in value:
            raise NotImplementedError(f"from_call of {value!r}")
        return (origins or {}).get(value["ref"]) == cond["from_call"]
    ((op, arg),) = cond.items()
    if op == "and":
        return all(holds(c, env, origins) for c in arg)
    if op == "or":
        return any(holds(c, env, origins) for c in arg)
    if op == "not":
        return not holds(arg, env, origins)
    if op == "has":
        return arg in env
    left, right = (operand(o, env) for o in arg)
    if op == "==":
        return same(left, right)
    if op == "!=":
        return left is not None and right is not None and not same(left, right)
    if op in ("<", "<=", ">", ">="):
        return _order(op, left, right)
    if op == "in":
        return right is not None and right[0] == "l" and any(same(left, x) for x in right[1])
    if op in ("startswith", "endswith", "contains"):
        return _text(op, left, right)
    raise NotImplementedError(f"condition {op!r}")


class Origin(NamedTuple):
    """A value that came from the result of the tool `tool`."""

    value: Any
    tool: str


TYPES = {"number": "n", "string": "s", "bool": "b"}


def timestamp(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class Run:
    """One run under a token's claims, checked call by call.

    `check(tool, args, now)` answers with the set of reasons the call is
    refused for (empty: allowed, and then recorded). Where several rules
    refuse a call, every one of them is in the set: the page does not say
    which one a monitor names first. `args` maps names to values, an
    `Origin` for a value from a tool's result.
    """

    def __init__(self, claims: dict, revoked: set[str] | frozenset[str] = frozenset()) -> None:
        if claims.get("warden") != 2:
            raise NotImplementedError(f"claims version {claims.get('warden')}")
        self.claims = claims
        self.env = claims.get("envelope", {})
        self.params = {p["name"]: p for p in self.env.get("params", [])}
        self.revoked = set(revoked)
        self.bound: dict[str, tuple] = {}
        self.allowed: list[tuple[str, dict]] = []
        self.iat = timestamp(claims["iat"])
        self.nbf = timestamp(claims["nbf"]) if "nbf" in claims else self.iat
        self.exp = timestamp(claims["exp"])

    # -- the envelope --

    def _match(self, m: Any, arg: tuple, origin: str | None, binding: dict) -> bool:
        if isinstance(m, dict) and "param" in m:
            p = self.params[m["param"]]
            if p["type"] not in TYPES:
                raise NotImplementedError(f"param type {p['type']}")
            if arg[0] != TYPES[p["type"]]:
                return False
            name = p["name"]
            if name in self.bound:
                return same(self.bound[name], arg)
            if name in binding:
                return same(binding[name], arg)
            if not holds(p.get("where", True), {name: arg}):
                return False
            binding[name] = arg
            return True
        if isinstance(m, dict) and "from" in m:
            return m["from"] is None or m["from"] == origin
        if isinstance(m, dict) and "cidr" in m:
            raise NotImplementedError("cidr values")
        return same(from_json(m), arg)

    def _grant(self, tool: str, args: dict) -> dict | None:
        """The params a grant covering the call binds, or None when none covers it."""
        for entry in self.env.get("calls", []):
            names = entry.get("args", [])
            if entry["tool"] != tool or sorted(names) != sorted(args):
                continue
            for row in entry.get("grants", [[]]):
                binding: dict[str, tuple] = {}
                if all(self._match(m, args[a][0], args[a][1], binding) for a, m in zip(names, row)):
                    return binding
        return None

    # -- patterns, limits, ordering --

    @staticmethod
    def _pattern(p: dict, tool: str, args: dict) -> bool:
        if p.get("kind", "call") != "call":
            return False
        if "calls" in p and tool not in p["calls"]:
            return False
        return holds(p.get("when", True), {k: v for k, (v, _) in args.items()},
                     {k: o for k, (_, o) in args.items()})

    def _happened(self, p: dict) -> bool:
        return any(self._pattern(p, t, a) for t, a in self.allowed)

    def check(self, tool: str, args: dict[str, Any], now: int) -> set[str]:
        args = {k: (from_python(v.value), v.tool) if isinstance(v, Origin) else (from_python(v), None)
                for k, v in args.items()}
        reasons: set[str] = set()
        ids = [self.claims["jti"], *self.claims.get("ancestors", [])]
        if any(i in self.revoked for i in ids):
            reasons.add("revoked")
        if now < self.nbf:
            reasons.add("not_yet_valid")
        if now >= self.exp:
            reasons.add("expired")
        # `deny_from`: a value counts as coming from a call when the caller
        # says it did (`Origin`); this model has no fragments or `sources`.
        if any(self._pattern(d["of"], tool, args) for d in self.env.get("deny_from", [])):
            reasons.add("denied_flow")
        binding = self._grant(tool, args)
        if binding is None:
            reasons.add("envelope")
        for lim in self.env.get("limits", []):
            if self._pattern(lim["of"], tool, args):
                done = sum(1 for t, a in self.allowed if self._pattern(lim["of"], t, a))
                if done >= lim["at_most"]:
                    reasons.add("limit")
        for o in self.env.get("ordering", []):
            if "never" in o and self._pattern(o["never"], tool, args) and self._happened(o["after"]):
                reasons.add("never")
            if "require" in o and self._pattern(o["before"], tool, args) and not self._happened(o["require"]):
                reasons.add("require")
        if not reasons and any(self._pattern(a["of"], tool, args) for a in self.env.get("approve_each", [])):
            # `approve each`: a human approves this exact call first.
            reasons.add("needs_approval")
        if not reasons:
            assert binding is not None
            self.bound.update(binding)
            self.allowed.append((tool, args))
        return reasons
