"""Check the audit log's proofs offline: RFC 6962 inclusion and consistency
proofs against the log's signed tree heads.

The Merkle tree is plain ``hashlib`` here (leaf ``SHA-256(0x00 || record
encoding)``, node ``SHA-256(0x01 || left || right)``); the tree head's
Ed25519 signature is checked by the extension with the same key sets as
:meth:`warden.Token.verify` (``k4.public.…`` text, ``warden.pub`` files, key
set files; a retired key still verifies the heads it signed)::

    import json, warden.audit
    proof = json.load(open("proof.json"))           # `warden audit prove 42 > proof.json`
    warden.audit.verify_inclusion(proof, "keys/warden.pub")
    warden.audit.verify_consistency(later, "keys/warden.pub", old_head=kept)

A proof is the JSON ``warden audit prove`` / ``warden audit consistency``
print, or what :meth:`warden.Client.prove_inclusion` and
:meth:`warden.Client.prove_consistency` return (the same shape). Every
failure raises :class:`ProofError`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

from ._native import WardenError, verifies_history

EMPTY_ROOT = hashlib.sha256(b"").digest()
RECORD_DOMAIN = b"warden.audit.record.v1\0"
TREE_HEAD_DOMAIN = b"warden.audit.tree-head.v1\0"


class ProofError(WardenError):
    """A proof that does not prove what it says."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root of a tree over these leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical encoding of a record: its hash in the chain is SHA-256
    of these bytes, its leaf in the tree their leaf hash."""
    kind = record["kind"].encode()
    body = record["body"].encode()
    prev = _hex32(record["prev_hash"])
    return (RECORD_DOMAIN + struct.pack(">Qq", record["seq"], record["time_ms"])
            + struct.pack(">Q", len(kind)) + kind + struct.pack(">Q", len(body)) + body + prev)


def _hex32(text: str) -> bytes:
    try:
        b = bytes.fromhex(text)
    except (TypeError, ValueError):
        raise ProofError(f"not a hash: {text!r}") from None
    if len(b) != 32:
        raise ProofError(f"not a 32-byte hash: {text!r}")
    return b


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root an audit path leads to."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")
    return r


def check_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: that the tree (old, old_root) is a prefix of (new, new_root)."""
    if old > new:
        raise ProofError(f"the old tree ({old}) is larger than the new one ({new})")
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("two trees of the same size differ")
        return
    if old == 0:
        if proof:
            raise ProofError("the proof is too long")
        return
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")
    if fr != old_root:
        raise ProofError("the proof does not lead to the old root: the log was rewritten")
    if sr != new_root:
        raise ProofError("the proof does not lead to the new root")


def head_root(head: dict[str, Any], public_keys: str | Sequence[str]) -> bytes:
    """The root a signed tree head signs, once its signature is checked."""
    if not head.get("root"):
        raise ProofError("the head carries no Merkle root (written before the log was a tree)")
    message = (TREE_HEAD_DOMAIN + struct.pack(">Q", head["seq"]) + _hex32(head["hash"])
               + _hex32(head["root"]))
    try:
        signature = bytes.fromhex(head["signature"])
    except (TypeError, ValueError):
        raise ProofError("the head's signature is not hex") from None
    if not verifies_history(public_keys, head.get("kid"), message, signature):
        raise ProofError(f"the tree head is not signed by a trusted key ({head.get('kid')})")
    return _hex32(head["root"])


def verify_inclusion(proof: dict[str, Any], public_keys: str | Sequence[str]) -> None:
    """That ``proof["record"]`` is in the tree its signed head signs."""
    head, record = proof["head"], proof["record"]
    root = head_root(head, public_keys)
    if not 1 <= record["seq"] <= head["seq"]:
        raise ProofError(f"record {record['seq']} is not covered by a head of {head['seq']} records")
    data = record_bytes(record)
    if hashlib.sha256(data).digest() != _hex32(record["hash"]):
        raise ProofError("the record's fields do not hash to its stored hash: the record was altered")
    path = [_hex32(h) for h in proof["proof"]]
    if root_from_inclusion(leaf_hash(data), record["seq"] - 1, head["seq"], path) != root:
        raise ProofError("the audit path does not lead to the signed root")


def verify_consistency(
    proof: dict[str, Any],
    public_keys: str | Sequence[str],
    *,
    old_head: dict[str, Any] | None = None,
    new_head: dict[str, Any] | None = None,
) -> None:
    """That the first ``old_size`` records are a prefix of the signed tree of
    ``new_size``. ``old_head`` (a head you kept) also ties ``old_size`` and
    ``old_root`` to it; ``new_head`` vouches for a ``new_size`` before the
    log's current head."""
    vouching = new_head or proof.get("head")
    if vouching is None:
        raise ProofError("no signed head names the new tree: pass the head you kept as new_head")
    new_root = _hex32(proof["new_root"])
    if head_root(vouching, public_keys) != new_root or vouching["seq"] != proof["new_size"]:
        raise ProofError("no trusted signed head names the new tree with this root")
    old_root = _hex32(proof["old_root"])
    if old_head is not None:
        if head_root(old_head, public_keys) != old_root or old_head["seq"] != proof["old_size"]:
            raise ProofError("the proof's old tree is not the head you kept: the log was rewritten")
    check_consistency(proof["old_size"], proof["new_size"], old_root, new_root,
                      [_hex32(h) for h in proof["proof"]])


def head_from_message(h: Any) -> dict[str, Any]:
    """A gRPC ``SignedTreeHead`` as the dict the CLI prints."""
    return {"seq": h.size, "hash": h.chain_hash, "root": h.root, "signature": h.signature, "kid": h.kid or None}


def inclusion_from_message(m: Any) -> dict[str, Any]:
    """A gRPC ``InclusionProof`` as the dict ``warden audit prove`` prints."""
    r = m.record
    return {
        "record": {"seq": r.seq, "time_ms": r.time_ms, "kind": r.kind, "body": r.body_json,
                   "prev_hash": r.prev_hash, "hash": r.hash},
        "head": head_from_message(m.head),
        "proof": list(m.proof),
    }


def consistency_from_message(m: Any) -> dict[str, Any]:
    """A gRPC ``ConsistencyProof`` as the dict ``warden audit consistency`` prints."""
    out: dict[str, Any] = {"old_size": m.old_size, "old_root": m.old_root, "new_size": m.new_size,
                           "new_root": m.new_root, "proof": list(m.proof)}
    if m.HasField("head"):
        out["head"] = head_from_message(m.head)
    return out
