"""The audit log's proofs checked in Python (hashlib for the tree, the
extension's key sets for the signed tree head): the Certificate Transparency
test vectors, then proofs from a real `warden serve` over gRPC and from
`warden audit prove`; a tampered record or a rewritten prefix fails."""

import asyncio
import copy
import json

import pytest

import service_fixture as sf
import warden
import warden.audit as audit
from conftest import REPO, warden as run_warden

VECTORS = json.loads((REPO / "transparency" / "testdata" / "rfc6962.json").read_text())
LEAVES = [audit.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]


def test_the_ct_vectors():
    for n, root in enumerate(ROOTS):
        assert audit.root_of(LEAVES[:n]) == root
    for case in VECTORS["inclusion"]:
        path = [bytes.fromhex(h) for h in case["proof"]]
        i, n = case["index"], case["size"]
        assert audit.root_from_inclusion(LEAVES[i], i, n, path) == ROOTS[n]
        with pytest.raises(audit.ProofError):
            if audit.root_from_inclusion(audit.leaf_hash(b"x"), i, n, path) != ROOTS[n]:
                raise audit.ProofError("wrong root")
    for case in VECTORS["consistency"]:
        path = [bytes.fromhex(h) for h in case["proof"]]
        a, b = case["old"], case["new"]
        audit.check_consistency(a, b, ROOTS[a], ROOTS[b], path)
        if path:
            with pytest.raises(audit.ProofError):
                audit.check_consistency(a, b, ROOTS[a - 1], ROOTS[b], path)


@pytest.fixture(scope="module")
def log(service):
    """A service whose log holds a few submissions: (endpoint, public key, store)."""
    endpoint, d = service
    with warden.Client(endpoint, sf.SUBMITTER) as c:
        c.wait_ready()
        for i in range(5):
            c.submit_plan('plan "p" {\n  call get_balance()\n}\n', "bank", f"agent-{i}")
    return endpoint, str(d / "keys" / "warden.pub"), d / "warden.db"


def test_inclusion_and_consistency_over_grpc(log):
    endpoint, pub, _ = log
    with warden.Client(endpoint, sf.APPROVER) as appr, warden.Client(endpoint, sf.SUBMITTER) as sub:
        first = appr.prove_inclusion(1)
        kept = first["head"]
        for seq in range(1, kept["seq"] + 1):
            audit.verify_inclusion(appr.prove_inclusion(seq), pub)
        forged = copy.deepcopy(first)
        forged["record"]["body"] = forged["record"]["body"].replace("start", "stop")
        with pytest.raises(audit.ProofError, match="altered"):
            audit.verify_inclusion(forged, pub)
        # A head signed by another key is refused.
        with pytest.raises(audit.ProofError, match="trusted"):
            audit.verify_inclusion(first, audit_other_key())
        # The log grows; the later head is consistent with the kept one.
        sub.submit_plan('plan "p" {\n  call get_balance()\n}\n', "bank", "later")
        later = appr.prove_consistency(kept["seq"])
        assert later["new_size"] > kept["seq"]
        audit.verify_consistency(later, pub, old_head=kept)
        # A rewritten prefix: the old root the proof names is not the kept one.
        rewritten = dict(later, old_root=later["new_root"])
        with pytest.raises(audit.ProofError):
            audit.verify_consistency(rewritten, pub, old_head=kept)
        tampered = copy.deepcopy(later)
        tampered["proof"][0] = "00" * 32
        with pytest.raises(audit.ProofError):
            audit.verify_consistency(tampered, pub, old_head=kept)
        with pytest.raises(warden.FailedPrecondition):
            appr.prove_inclusion(10**9)


def audit_other_key() -> str:
    """A key that signed nothing of this log."""
    import tempfile

    d = tempfile.mkdtemp()
    run_warden("keygen", "--out", d)
    return f"{d}/warden.pub"


def test_the_cli_proof_verifies_in_python(log):
    _, pub, db = log
    out = run_warden("audit", "prove", "2", "--db", str(db))
    proof = json.loads(out.stdout)
    audit.verify_inclusion(proof, pub)
    proof["record"]["time_ms"] += 1
    with pytest.raises(audit.ProofError):
        audit.verify_inclusion(proof, pub)


def test_the_asyncio_client_fetches_the_same_proofs(log):
    endpoint, pub, _ = log

    async def fetch():
        async with warden.aio.Client(endpoint, sf.APPROVER) as appr:
            return await appr.prove_inclusion(2), await appr.prove_consistency(1)

    inclusion, consistency = asyncio.run(fetch())
    audit.verify_inclusion(inclusion, pub)
    audit.verify_consistency(consistency, pub)
    with warden.Client(endpoint, sf.APPROVER) as appr:
        assert appr.prove_inclusion(2)["record"] == inclusion["record"]
