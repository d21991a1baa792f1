"""An audit proof checked with nothing of Warden's code: `warden audit prove`
on a real service's log; the record's encoding, its leaf and the audit path
recomputed with hashlib (RFC 6962 leaves and nodes, RFC 9162's path
algorithm); the signed tree head's raw Ed25519 signature checked with
`cryptography` (which pyseto brings) against the key `warden keygen` wrote
(PASERK k4.public). docs/operator/auditor.md documents the bytes. A changed
record, root or size fails."""

import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from service_fixture import WARDEN, make_service_dir, start_server, stop_server

SPEC = 'spec "bank" {\n  allow call get_balance\n}\n'


def record_bytes(r):
    kind, body = r["kind"].encode(), r["body"].encode()
    return (b"warden.audit.record.v1\0" + struct.pack(">Qq", r["seq"], r["time_ms"])
            + struct.pack(">Q", len(kind)) + kind + struct.pack(">Q", len(body)) + body
            + bytes.fromhex(r["prev_hash"]))


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(leaf, index, size, path):
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def head_signed(head, public_key):
    message = (b"warden.audit.tree-head.v1\0" + struct.pack(">Q", head["seq"])
               + bytes.fromhex(head["hash"]) + bytes.fromhex(head["root"]))
    try:
        public_key.verify(bytes.fromhex(head["signature"]), message)
        return True
    except InvalidSignature:
        return False


def verifies(proof, public_key):
    head, record = proof["head"], proof["record"]
    data = record_bytes(record)
    if hashlib.sha256(data).hexdigest() != record["hash"]:
        return False
    leaf = hashlib.sha256(b"\x00" + data).digest()
    path = [bytes.fromhex(h) for h in proof["proof"]]
    root = root_from_path(leaf, record["seq"] - 1, head["seq"], path)
    return root is not None and root.hex() == head["root"] and head_signed(head, public_key)


class AuditProofTest(unittest.TestCase):
    def test_an_inclusion_proof_verifies_with_hashlib_and_cryptography(self):
        d = tempfile.mkdtemp(prefix="warden-audit-proof-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        make_service_dir(d, {"bank": SPEC})
        with open(os.path.join(d, "serve.log"), "w+") as log:
            server, _ = start_server(d, log)
            stop_server(server)  # graceful: the last records and head are written
        with open(os.path.join(d, "keys", "warden.pub")) as f:
            paserk = f.read().strip()
        self.assertTrue(paserk.startswith("k4.public."), paserk)
        raw = base64.urlsafe_b64decode(paserk[len("k4.public."):] + "==")
        key = Ed25519PublicKey.from_public_bytes(raw)
        db = os.path.join(d, "warden.db")

        def prove(seq):
            out = subprocess.run([WARDEN, "audit", "prove", str(seq), "--db", db],
                                 capture_output=True, text=True, check=True)
            return json.loads(out.stdout)

        # The service's start, its spec, its stop and its final checkpoint.
        size = prove(1)["head"]["seq"]
        self.assertGreaterEqual(size, 4)
        for seq in range(1, size + 1):
            proof = prove(seq)
            self.assertTrue(verifies(proof, key), proof)
        altered = json.loads(json.dumps(proof))
        altered["record"]["body"] = altered["record"]["body"].replace("{", "{ ", 1)
        self.assertFalse(verifies(altered, key))
        rerooted = json.loads(json.dumps(proof))
        rerooted["head"]["root"] = "00" * 32
        self.assertFalse(verifies(rerooted, key))
        shrunk = json.loads(json.dumps(proof))
        shrunk["head"]["seq"] -= 1
        self.assertFalse(verifies(shrunk, key))


if __name__ == "__main__":
    unittest.main()
