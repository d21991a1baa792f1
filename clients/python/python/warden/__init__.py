"""Warden for Python.

In process, with no network and no solver (a Rust extension over Warden's
token and monitor crates)::

    import warden
    token = warden.Token.verify(token_text, ["k4.public.…"])
    verdict = token.check_call("send_money", recipient="UK12…", amount=40)
    if not verdict:
        print("refused:", verdict.kind, verdict.reason)

and the gRPC client of the service (``warden.Client``; asyncio:
``warden.aio.Client``): submit a plan, approve, revoke, check an action,
stream audit events. Errors are :class:`WardenError` subclasses.
"""

from ._native import (
    BadSignature,
    CallRefused,
    FromCall,
    InvalidKey,
    MalformedToken,
    RevocationUnavailable,
    Revocations,
    Token,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TokenRevoked,
    UnreadableClaims,
    Verdict,
    WardenError,
    WrongKey,
    KeyRetired,
)
from typing import TYPE_CHECKING, Any

# The service client and its types load on first use, so that an
# orchestrator that only checks tokens in process does not import grpc.
_SERVICE = {
    "Approval", "ApprovalState", "CheckResult", "Counterexample", "Event",
    "FailedPrecondition", "InvalidArgument", "Location", "NotFound",
    "PermissionDenied", "PlanVerdict", "ResourceExhausted", "Revocation",
    "ServiceError", "SpecStatus", "Submission", "Unauthenticated", "Unavailable",
}

if TYPE_CHECKING:
    from . import _common as actions
    from . import aio
    from ._common import (
        Approval,
        ApprovalState,
        CheckResult,
        Counterexample,
        Event,
        FailedPrecondition,
        InvalidArgument,
        Location,
        NotFound,
        PermissionDenied,
        PlanVerdict,
        ResourceExhausted,
        Revocation,
        ServiceError,
        SpecStatus,
        Submission,
        Unauthenticated,
        Unavailable,
    )
    from .client import Client


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SERVICE:
        return getattr(importlib.import_module("._common", __name__), name)
    if name == "Client":
        return importlib.import_module(".client", __name__).Client
    if name == "actions":
        return importlib.import_module("._common", __name__)
    if name == "aio":
        return importlib.import_module(".aio", __name__)
    raise AttributeError(f"module 'warden' has no attribute {name!r}")


__all__ = [
    "Approval",
    "ApprovalState",
    "BadSignature",
    "CallRefused",
    "CheckResult",
    "Client",
    "Counterexample",
    "Event",
    "FailedPrecondition",
    "FromCall",
    "InvalidArgument",
    "InvalidKey",
    "Location",
    "MalformedToken",
    "NotFound",
    "PermissionDenied",
    "PlanVerdict",
    "ResourceExhausted",
    "Revocation",
    "RevocationUnavailable",
    "Revocations",
    "ServiceError",
    "SpecStatus",
    "Submission",
    "Token",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenRevoked",
    "Unauthenticated",
    "Unavailable",
    "UnreadableClaims",
    "Verdict",
    "WardenError",
    "WrongKey",
    "KeyRetired",
    "actions",
    "aio",
]
