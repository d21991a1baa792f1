"""Cross-language check of Warden tokens: a token printed by `warden issue` is
verified by pyseto, an independent PASETO implementation (nothing of Warden's
code is used), and pyseto refuses a tampered token and a wrong key. The other
way round too: `warden inspect` accepts a token that pyseto signed with the
key `warden keygen` wrote, and refuses one pyseto signed already expired."""

import base64
import json
import os
import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

import pyseto
from pyseto import Key

WARDEN = os.environ.get("WARDEN_BIN", "warden")

SPEC = """spec "bank" {
  max ttl 30m
  let payees = ["UK12345678901234567890"]
  allow read under "/srv/data/"
  allow call get_balance
  allow call send_money when recipient in payees and amount <= 1000
  at most 2 call send_money
}
"""

PLAN = """plan "pay" {
  agent "banking-assistant"
  ttl 10m
  param amount: number where amount > 0 and amount <= 100
  read "/srv/data/statement.txt"
  call get_balance()
  call send_money(recipient = "UK12345678901234567890", amount = amount)
}
"""


def warden(*args, check=True):
    p = subprocess.run([WARDEN, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"warden {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="warden-py-token-")
        d = cls.tmp.name
        cls.dir = d
        warden("keygen", "--out", os.path.join(d, "keys"))
        warden("keygen", "--out", os.path.join(d, "other"))
        for name, text in (("bank.spec", SPEC), ("pay.plan", PLAN)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        out = warden(
            "issue",
            os.path.join(d, "pay.plan"),
            "--spec",
            os.path.join(d, "bank.spec"),
            "--key",
            os.path.join(d, "keys", "warden.key"),
        )
        cls.token = out.stdout.strip()
        with open(os.path.join(d, "keys", "warden.pub")) as f:
            cls.pub = Key.from_paserk(f.read().strip())
        with open(os.path.join(d, "other", "warden.pub")) as f:
            cls.other_pub = Key.from_paserk(f.read().strip())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def decode(self, token, key=None):
        return pyseto.decode(key or self.pub, token, deserializer=json)

    def test_pyseto_verifies_an_issued_token_and_reads_the_envelope(self):
        self.assertTrue(self.token.startswith("v4.public."), self.token[:20])
        tok = self.decode(self.token)
        c = tok.payload
        self.assertEqual(c["warden"], 2)
        self.assertEqual(c["iss"], "warden")
        self.assertEqual(c["sub"], "banking-assistant")
        self.assertEqual(c["plan"], "pay")
        self.assertEqual(c["spec"], "bank")
        self.assertRegex(c["jti"], r"^[0-9a-f]{32}$")
        self.assertRegex(c["plan_hash"], r"^sha256:[0-9a-f]{64}$")
        # The plan's ttl (10m) under the spec's max ttl (30m).
        iat = datetime.fromisoformat(c["iat"].replace("Z", "+00:00"))
        exp = datetime.fromisoformat(c["exp"].replace("Z", "+00:00"))
        self.assertEqual(exp - iat, timedelta(minutes=10))

        # The layout of docs/token-format.md (version 2).
        env = c["envelope"]
        self.assertIn({"read": "/srv/data/statement.txt"}, env["files"])
        calls = {g["tool"]: g for g in env["calls"]}
        self.assertEqual(calls["get_balance"], {"tool": "get_balance"})
        self.assertEqual(calls["send_money"]["args"], ["amount", "recipient"])
        self.assertEqual(calls["send_money"]["grants"], [[{"param": "amount"}, "UK12345678901234567890"]])
        params = {p["name"]: p for p in env["params"]}
        self.assertEqual(params["amount"]["type"], "number")
        self.assertIsNotNone(params["amount"]["where"])
        self.assertEqual([l["at_most"] for l in env["limits"]], [2])

        # The footer names the signing key by its PASERK id, as pyseto computes it.
        self.assertEqual(tok.footer, {"kid": self.pub.to_paserk_id()})

    def test_pyseto_agrees_with_warden_inspect(self):
        out = warden("inspect", self.token, "--pub", os.path.join(self.dir, "keys", "warden.pub"), "--json")
        shown = json.loads(out.stdout)
        self.assertTrue(shown["verified"])
        self.assertEqual(shown["claims"], self.decode(self.token).payload)

    def test_a_tampered_token_is_refused(self):
        head, body, footer = self.token.rsplit(".", 2)
        raw = bytearray(b64url_decode(body))
        # Every payload byte (a sample across it) and the signature's last byte.
        for i in list(range(0, len(raw) - 64, max(1, (len(raw) - 64) // 40))) + [len(raw) - 1]:
            bad = bytearray(raw)
            bad[i] ^= 0x01
            text = base64.urlsafe_b64encode(bytes(bad)).decode().rstrip("=")
            with self.assertRaises(pyseto.VerifyError, msg=f"byte {i} flipped was accepted"):
                self.decode(f"{head}.{text}.{footer}")
        # A changed footer (the key id) is covered by the signature too.
        forged = base64.urlsafe_b64encode(b'{"kid":"k4.pid.AAAA"}').decode().rstrip("=")
        with self.assertRaises(pyseto.VerifyError):
            self.decode(f"{head}.{body}.{forged}")

    def test_a_wrong_key_is_refused(self):
        with self.assertRaises(pyseto.VerifyError):
            self.decode(self.token, self.other_pub)

    def sign_with_warden_key(self, claims):
        with open(os.path.join(self.dir, "keys", "warden.key")) as f:
            secret = Key.from_paserk(f.read().strip())
        footer = json.dumps({"kid": self.pub.to_paserk_id()}, separators=(",", ":"))
        return pyseto.encode(secret, json.dumps(claims).encode(), footer=footer.encode()).decode()

    def test_warden_verifies_a_pyseto_signed_token(self):
        claims = self.decode(self.token).payload
        claims["jti"] = "0" * 31 + "1"
        tok = self.sign_with_warden_key(claims)
        pub = os.path.join(self.dir, "keys", "warden.pub")
        shown = json.loads(warden("inspect", tok, "--pub", pub, "--json").stdout)
        self.assertEqual(shown["claims"], claims)
        # Signed with the other key: warden refuses it (exit 2).
        p = warden("inspect", tok, "--pub", os.path.join(self.dir, "other", "warden.pub"), check=False)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_expired_tokens_are_refused_by_both(self):
        claims = self.decode(self.token).payload
        past = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
        claims["iat"] = claims["nbf"] = (past - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
        claims["exp"] = past.isoformat().replace("+00:00", "Z")
        tok = self.sign_with_warden_key(claims)
        with self.assertRaisesRegex(pyseto.VerifyError, "expired"):
            self.decode(tok)
        p = warden("inspect", tok, "--pub", os.path.join(self.dir, "keys", "warden.pub"), check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("expired", p.stderr)


if __name__ == "__main__":
    unittest.main()
