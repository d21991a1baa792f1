"""Spec suites in CI: `warden test --format junit|json` (the JUnit XML read
back with junitparser), batch `warden check` over a manifest and a directory
with its exit codes, the pre-commit hooks through `pre-commit try-repo`, and
the GitHub composite action validated against the published schema by
check-jsonschema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest

from conftest import REPO, WARDEN, warden

BIN = Path(sys.executable).parent

SPEC = """spec "pay" {
  allow call get_balance
  allow call send_money when amount <= 100
  deny call update_password

  test "a small payment is accepted" {
    plan { call send_money(amount = 10) }
    expect accept
  }

  test "this expectation is wrong on purpose: <&\\"quoted\\">" {
    plan { call update_password(to = "x") }
    expect accept
  }
}
"""


def test_junit_of_the_repository_specs_matches_the_text_report(tmp_path):
    text = warden("test", str(REPO / "specs"), cwd=str(REPO))
    closing = text.stdout.strip().splitlines()[-1]
    passed = int(closing.split()[0])
    out = tmp_path / "report.xml"
    warden("test", "--format", "junit", "--output", str(out), str(REPO / "specs"))
    xml = junitparser.JUnitXml.fromfile(str(out))
    cases = [c for suite in xml for c in suite]
    assert len(cases) == passed > 0
    assert all(c.is_passed for c in cases)
    assert {s.name for s in xml} == {str(p) for p in (REPO / "specs").rglob("*.spec")}
    for c in cases:
        assert c.classname.endswith(".spec") and int(c._elem.get("line")) > 0


def test_junit_and_json_report_a_failing_test(tmp_path):
    spec = tmp_path / "pay.spec"
    spec.write_text(SPEC)
    out = tmp_path / "r.xml"
    p = warden("test", "--format", "junit", "-o", str(out), str(spec), check=False)
    assert p.returncode == 1, p.stderr
    xml = junitparser.JUnitXml.fromfile(str(out))
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.errors) == (2, 1, 0)
    ok, bad = list(suite)
    assert ok.is_passed and ok.name == "a small payment is accepted"
    assert not bad.is_passed and bad.name.endswith('<&"quoted">')
    (failure,) = bad.result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message.startswith("expected accept, got reject")
    # JSON: the same.
    p = warden("test", "--format", "json", str(spec), check=False)
    assert p.returncode == 1
    report = json.loads(p.stdout)
    assert (report["passed"], report["failed"], report["errors"]) == (1, 1, 0)
    case = report["suites"][0]["cases"][1]
    assert case["status"] == "failed" and case["expected"] == "accept" and case["got"] == "reject"
    # A spec that does not load: an error, exit 2.
    broken = tmp_path / "broken.spec"
    broken.write_text("spec { oops")
    p = warden("test", "--format", "junit", str(broken), check=False)
    assert p.returncode == 2
    xml = junitparser.JUnitXml.fromstring(p.stdout)
    assert sum(s.errors for s in xml) == 1


PLANS = {
    "ok1.plan": 'plan "a" {\n  call get_balance()\n}\n',
    "ok2.plan": 'plan "b" {\n  call send_money(amount = 5)\n}\n',
    "bad.plan": 'plan "c" {\n  call update_password(to = "x")\n}\n',
}


def test_batch_check_manifest_and_directory(tmp_path):
    (tmp_path / "pay.spec").write_text(SPEC)
    for name, text in PLANS.items():
        d = tmp_path / ("reject" if name.startswith("bad") else "accept")
        d.mkdir(exist_ok=True)
        (d / name).write_text(text)
    manifest = tmp_path / "checks.toml"
    manifest.write_text('spec = "pay.spec"\n[[check]]\nplan = "accept"\nexpect = "accept"\n'
                        '[[check]]\nplan = "reject/bad.plan"\nexpect = "reject"\n')
    p = warden("check", "--manifest", str(manifest), check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == "3 passed, 0 failed, 0 errors"
    # An expectation that does not hold: exit 1, reported per plan.
    manifest.write_text('spec = "pay.spec"\n[[check]]\nplan = "reject"\nexpect = "accept"\n'
                        '[[check]]\nplan = "accept/ok1.plan"\nexpect = "accept"\n')
    p = warden("check", "--manifest", str(manifest), "--format", "json", check=False)
    assert p.returncode == 1, p.stderr
    report = json.loads(p.stdout)
    assert (report["passed"], report["failed"]) == (1, 1)
    # A directory with --expect.
    p = warden("check", "--spec", str(tmp_path / "pay.spec"), "--expect", "accept", str(tmp_path / "accept"),
               "--format", "junit", check=False)
    assert p.returncode == 0, p.stderr
    assert sum(s.tests for s in junitparser.JUnitXml.fromstring(p.stdout)) == 2
    # Bad input: exit 2.
    (tmp_path / "accept" / "broken.plan").write_text("plan { oops")
    p = warden("check", "--spec", str(tmp_path / "pay.spec"), "--expect", "accept", str(tmp_path / "accept"),
               check=False)
    assert p.returncode == 2 and "2 passed, 0 failed, 1 error" in p.stdout
    manifest.write_text('[[check]]\nplan = "accept"\nexpect = "accept"\n')
    assert warden("check", "--manifest", str(manifest), check=False).returncode == 2
    manifest.write_text('spec = "pay.spec"\n[[check]]\nplan = "accept"\nexpect = "maybe"\n')
    assert warden("check", "--manifest", str(manifest), check=False).returncode == 2
    p = warden("check", "--spec", str(tmp_path / "pay.spec"), str(tmp_path / "accept"), check=False)
    assert p.returncode == 2 and "--expect" in p.stderr
    # One plan without --expect: the single check, its verdict as exit code.
    p = warden("check", str(tmp_path / "reject" / "bad.plan"), "--spec", str(tmp_path / "pay.spec"), check=False)
    assert p.returncode == 1 and p.stdout.startswith("verdict: reject")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A git repository of plans and specs, with `warden` on PATH."""
    d = tmp_path_factory.mktemp("hooked")
    env = {**os.environ, "PATH": f"{Path(WARDEN).parent}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
           "PRE_COMMIT_HOME": str(d / ".pre-commit-home"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    repo = d / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    return repo, env


def try_repo(repo: Path, env: dict, hook: str, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "pre-commit"), "try-repo", str(REPO), hook, "--files", *files],
                          cwd=str(repo), env=env, capture_output=True, text=True, timeout=600)


def test_pre_commit_hooks_through_try_repo(hook_repo):
    repo, env = hook_repo
    (repo / "pay.spec").write_text(SPEC)
    canonical = warden("fmt", "--stdout", str(repo / "pay.spec")).stdout
    (repo / "pay.spec").write_text(canonical)
    subprocess.run(["git", "add", "."], cwd=str(repo), check=True, env=env)
    # fmt passes on canonical text, fails on the same spec badly indented.
    p = try_repo(repo, env, "warden-fmt", "pay.spec")
    assert p.returncode == 0, p.stdout + p.stderr
    (repo / "ugly.spec").write_text(canonical.replace("  allow", "      allow"))
    subprocess.run(["git", "add", "."], cwd=str(repo), check=True, env=env)
    p = try_repo(repo, env, "warden-fmt", "ugly.spec")
    assert p.returncode == 1 and "warden fmt --check" in p.stdout, p.stdout + p.stderr
    # test fails: pay.spec has a wrong expectation on purpose.
    p = try_repo(repo, env, "warden-test", "pay.spec")
    assert p.returncode == 1 and "FAIL" in p.stdout, p.stdout + p.stderr
    fixed = canonical.replace('update_password(to = "x") }\n    expect accept', 'update_password(to = "x") }\n    expect reject')
    assert fixed != canonical
    (repo / "pay.spec").write_text(fixed)
    p = try_repo(repo, env, "warden-test", "pay.spec")
    assert p.returncode == 0, p.stdout + p.stderr
    # lint: a rule that never takes effect is a finding.
    (repo / "dead.spec").write_text('spec "dead" {\n  deny call update_password\n  allow call update_password\n}\n')
    subprocess.run(["git", "add", "."], cwd=str(repo), check=True, env=env)
    p = try_repo(repo, env, "warden-lint", "dead.spec", "pay.spec")
    assert p.returncode == 1 and "overridden" in p.stdout, p.stdout + p.stderr
    p = try_repo(repo, env, "warden-lint", "pay.spec")
    assert p.returncode == 0, p.stdout + p.stderr


def test_github_action_follows_the_published_schema(tmp_path):
    action = REPO / ".github" / "actions" / "warden" / "action.yml"
    check = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions"]
    p = subprocess.run([*check, str(action)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    # The validator refuses a broken action (a composite step without `shell`
    # is allowed by the schema, a `runs.using` of nothing is not).
    broken = tmp_path / "action.yml"
    broken.write_text(action.read_text().replace("using: composite", "using: 7"))
    p = subprocess.run([*check, str(broken)], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    hooks = REPO / ".pre-commit-hooks.yaml"
    assert shutil.which("pre-commit", path=str(BIN)) and hooks.exists()
