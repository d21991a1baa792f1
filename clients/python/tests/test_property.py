"""The property: for generated plans (issued by `warden issue` under
generated specs with `at most`, `never`, `require` and `deny ... from call`
rules) and generated sequences of tool calls (some of whose values came
from a tool's result), clock moves and revocations, every verdict of
`warden.Token.check_call` agrees with the reference evaluator
(clients/python/reference.py, written from docs/token-format.md, sharing no
code with the Rust monitor): allowed exactly when the reference allows, and
a refusal's kind is one of the reasons the reference finds."""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import warden
from reference import Origin, Run

TOOLS = ["t0", "t1", "t2", "t3"]
ARGS = ["x", "y"]
STRINGS = ["a", "b"]


def claims_of(token: str) -> dict:
    """The claims of a v4.public token, read with base64 and json only."""
    body = token.split(".")[2]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(raw[:-64])


@st.composite
def plans(draw):
    """(plan text, spec text, params {name: (lo, hi)}, steps [(tool, {arg: value text})])."""
    params = {}
    for i in range(draw(st.integers(0, 2))):
        lo = draw(st.integers(-3, 5))
        params[f"p{i}"] = (lo, lo + draw(st.integers(0, 6)))
    value = st.one_of(
        st.integers(-3, 12).map(str),
        st.sampled_from(STRINGS).map(json.dumps),
        *([st.sampled_from(sorted(params))] if params else []),
    )
    steps = draw(st.lists(
        st.tuples(st.sampled_from(TOOLS), st.dictionaries(st.sampled_from(ARGS), value, max_size=2)),
        min_size=1, max_size=6,
    ))
    seq = [t for t, _ in steps]
    rules = []
    for t in sorted(set(seq)):
        if draw(st.booleans()):
            when = draw(st.sampled_from(["", " when x == 1", " when x > 2", ' when y == "a"']))
            rules.append(f"at most {seq.count(t) + draw(st.integers(0, 1))} call {t}{when}")
    for a in TOOLS:
        for b in TOOLS:
            if a == b or draw(st.integers(0, 3)) != 0:
                continue
            # never a after b: no a once a b happened in the plan.
            if all(a not in seq[i + 1:] for i, t in enumerate(seq) if t == b):
                rules.append(f"never call {a} after call {b}")
            # require a before b: every b has an a before it.
            if all(a in seq[:i] for i, t in enumerate(seq) if t == b):
                rules.append(f"require call {a} before call {b}")
            # deny a when an argument came from b's result: checked at run
            # time (the token's `deny_from`) where a step passes a param.
            if draw(st.integers(0, 2)) == 0:
                rules.append(f"deny call {a} when {draw(st.sampled_from(ARGS))} from call {b}")
    spec = "spec \"gen\" {\n  allow call " + ", ".join(TOOLS) + "\n" + "".join(f"  {r}\n" for r in rules) + "}\n"
    plan = "plan \"gen\" {\n  ttl 10m\n"
    for p, (lo, hi) in params.items():
        plan += f"  param {p}: number where {p} >= {lo} and {p} <= {hi}\n"
    for t, args in steps:
        plan += f"  call {t}(" + ", ".join(f"{k} = {v}" for k, v in args.items()) + ")\n"
    plan += "}\n"
    return plan, spec, params, steps


def py_value(text: str):
    return json.loads(text) if text.startswith('"') else int(text)


@st.composite
def scenarios(draw):
    """A plan and spec, and a run: mostly the plan's own calls (a param's
    argument drawn from inside, at and outside its bounds), then and now a
    call with arbitrary arguments, a clock move or a revocation."""
    plan, spec, params, steps = draw(plans())
    pool = STRINGS + [True, 2.5, Decimal("1.0")] + list(range(-3, 13))
    ops = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.integers(0, 99))
        if kind < 80:
            tool, args = draw(st.sampled_from(steps))
            call = {}
            for k, v in args.items():
                if v in params:
                    lo, hi = params[v]
                    call[k] = draw(st.sampled_from([lo, hi, (lo + hi) // 2, lo, hi, lo - 1, hi + 1]))
                else:
                    call[k] = py_value(v)
            if draw(st.integers(0, 9)) == 0 and call:
                call[draw(st.sampled_from(sorted(call)))] = draw(st.sampled_from(pool))
            if draw(st.integers(0, 3)) == 0 and call:
                # the value came from a tool's result
                k = draw(st.sampled_from(sorted(call)))
                call[k] = Origin(call[k], draw(st.sampled_from(TOOLS)))
            ops.append(("call", tool, call))
        elif kind < 92:
            ops.append(("call", draw(st.sampled_from(TOOLS + ["zz"])),
                        draw(st.dictionaries(st.sampled_from(ARGS), st.sampled_from(pool), max_size=2))))
        elif kind < 98:
            ops.append(("clock", draw(st.sampled_from([-700, 30, 599, 600, 700]))))
        else:
            ops.append(("revoke",))
    return plan, spec, ops


_count = iter(range(1_000_000))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_verdict_agrees_with_the_reference(scenario, keys, tmp_path_factory):
    plan, spec, ops = scenario
    workdir: Path = tmp_path_factory.getbasetemp() / f"gen{next(_count)}"
    workdir.mkdir()
    tok = keys.issue(plan, spec, workdir)
    claims = claims_of(tok)
    now = int(time.time())
    revocations = warden.Revocations()
    token = warden.Token.verify(tok, keys.public, revocations=revocations, now=now)
    ref = Run(claims)
    start = now
    for op in ops:
        if op[0] == "clock":
            now = start + op[1]
            token.set_now(now)
        elif op[0] == "revoke":
            revocations.revoke(token.id)
            ref.revoked.add(claims["jti"])
        else:
            _, tool, args = op
            v = token.check_call(tool, **{k: warden.FromCall(a.value, a.tool) if isinstance(a, Origin) else a
                                          for k, a in args.items()})
            reasons = ref.check(tool, args, now)
            context = f"\n{plan}\n{spec}\ncall {tool}({args}) at {now - start:+}s: binding {v!r}, reference {reasons}"
            assert v.allowed == (not reasons), context
            assert v.allowed or v.kind in reasons, context
