"""Type stubs of the Rust extension ``warden._native`` (re-exported by ``warden``)."""

from collections.abc import Sequence
from decimal import Decimal
from os import PathLike
from typing import Literal, TypeAlias, final

ArgValue: TypeAlias = str | bool | int | float | Decimal | Sequence["ArgValue"]

VerdictKind: TypeAlias = Literal[
    "allowed",
    "envelope",
    "limit",
    "never",
    "require",
    "revoked",
    "revocation_unavailable",
    "expired",
    "not_yet_valid",
    "state_mismatch",
    "needs_approval",
    "denied_flow",
    "assumption",
]

class WardenError(Exception):
    """The base of every error this package raises."""

class TokenError(WardenError):
    """A token was refused when it was verified."""

class MalformedToken(TokenError):
    """The text is not a well-formed Warden token (PASETO v4.public)."""

class WrongKey(TokenError):
    """The token was signed by a key outside the given key set."""

class KeyRetired(WrongKey):
    """The token was signed by a key the key set marks retired (its message names the key's kid)."""

class BadSignature(TokenError):
    """The signature does not match: the token was altered after it was signed."""

class TokenExpired(TokenError):
    """The token is past its expiry (``exp``)."""

class TokenNotYetValid(TokenError):
    """The token is not valid yet (``nbf``), or its lifetime is empty."""

class TokenRevoked(TokenError):
    """The token, or one it was narrowed from, is on the revocation list."""

class RevocationUnavailable(TokenError):
    """The revocation list could not be read, so the token is refused (fail closed)."""

class UnreadableClaims(TokenError):
    """The signed claims are not Warden's, or of a version this Warden does not read."""

class InvalidKey(WardenError):
    """A public key is neither PASERK ``k4.public.`` text nor a file holding one."""

class CallRefused(WardenError):
    """Raised by :meth:`Verdict.raise_if_refused`; ``args[0]`` is the Verdict."""

@final
class Verdict:
    """The answer to one check. ``bool(verdict)`` is ``verdict.allowed``."""

    @property
    def allowed(self) -> bool: ...
    @property
    def kind(self) -> VerdictKind:
        """``"allowed"``, or why the action was refused."""
    @property
    def reason(self) -> str | None:
        """The monitor's sentence for a refusal; None when allowed."""
    @property
    def rule(self) -> str | None:
        """``FILE:LINE:COL`` of the spec rule behind a limit, never or require refusal."""
    def __bool__(self) -> bool: ...
    def raise_if_refused(self) -> None:
        """Raise :class:`CallRefused` when the action was refused."""

@final
class Revocations:
    """A revocation list, consulted when a token is verified and at every check."""

    def __init__(self, ids: Sequence[str] = ...) -> None:
        """An in-memory list holding ``ids`` (token ids, 32 lowercase hex digits)."""
    @staticmethod
    def from_file(path: str | PathLike[str]) -> Revocations:
        """The list kept in ``path`` by ``warden tokens revoke`` (re-read when it changes)."""
    def revoke(self, token_id: str) -> None:
        """Revoke ``token_id`` in an in-memory list (ValueError for a file list)."""
    def is_revoked(self, token_id: str) -> bool: ...

@final
class FromCall:
    """A value that came from the result of the tool ``tool`` (for ``from call TOOL``)."""

    def __init__(self, value: ArgValue, tool: str) -> None: ...
    @property
    def tool(self) -> str: ...

@final
class Token:
    """A token verified once, checking every action of one run in process.

    The run's state (param bindings, ``at most`` counts, ``never``/``require``
    ordering) is held here exactly as the Rust monitor holds it; a refused
    action changes nothing. Thread-safe.
    """

    @staticmethod
    def verify(
        token: str,
        public_keys: str | Sequence[str],
        *,
        revocations: Revocations | None = None,
        now: int | None = None,
    ) -> Token:
        """Verify signature (against the key set: PASERK text or ``warden.pub`` paths),
        lifetime and revocation. ``now`` (Unix seconds) fixes the clock instead of the
        system's. Raises a :class:`TokenError` subclass or :class:`InvalidKey`."""
    def check_call(self, name: str, /, **args: ArgValue | FromCall) -> Verdict:
        """Check the tool call ``name(**args)``; when allowed, record it in the run."""
    def check_result(self, tool: str, result: object) -> Verdict:
        """Check a result of ``tool`` as it arrives (a dict, list, str, number or bool, as
        ``json.dumps`` takes it) against the plan's assumptions about that tool's results;
        a result that fails one is refused (kind ``"assumption"``) and stops the run."""
    def check_read(self, path: str) -> Verdict: ...
    def check_write(self, path: str) -> Verdict: ...
    def check_delete(self, path: str) -> Verdict: ...
    def check_exec(self, path: str, argv: Sequence[str]) -> Verdict:
        """Check running ``path`` with ``argv`` (argv[0] included)."""
    def check_connect(self, host: str, port: int) -> Verdict: ...
    def reset(self) -> None:
        """Start a new run: params unbound, counts at zero, nothing seen."""
    def set_now(self, now: int) -> None:
        """Move the fixed clock (only for a token verified with ``now=``)."""
    def is_live(self) -> bool: ...
    @property
    def id(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def plan(self) -> str | None: ...
    @property
    def spec(self) -> str | None: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def not_before(self) -> int: ...
    @property
    def expires_at(self) -> int: ...
    @property
    def ancestors(self) -> list[str]: ...
    @property
    def claims_json(self) -> str: ...
    @property
    def run_state_json(self) -> str: ...

def verifies_history(
    public_keys: str | Sequence[str], kid: str | None, message: bytes, signature: bytes
) -> bool: ...
