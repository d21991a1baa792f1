"""What the sync and asyncio clients share: requests, results, errors."""

from __future__ import annotations

import decimal
import enum
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import grpc

from ._native import WardenError
from ._proto import warden_pb2 as pb

__all__ = [
    "Action",
    "Approval",
    "ApprovalState",
    "CheckResult",
    "Counterexample",
    "Event",
    "FailedPrecondition",
    "InvalidArgument",
    "Location",
    "NotFound",
    "PermissionDenied",
    "PlanVerdict",
    "ResourceExhausted",
    "Revocation",
    "ServiceError",
    "SpecStatus",
    "Submission",
    "Unauthenticated",
    "Unavailable",
    "call",
    "connect",
    "delete",
    "exec_",
    "listen",
    "read",
    "write",
]


# ---- errors ----


class ServiceError(WardenError):
    """The service answered a call with an error (or could not be reached).

    ``code`` is the gRPC status code, ``details`` the service's message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Unauthenticated(ServiceError):
    """The credential is missing or not one the service knows."""


class PermissionDenied(ServiceError):
    """The credential's role may not do this, or the token is revoked."""


class NotFound(ServiceError):
    """No such spec, approval or token."""


class InvalidArgument(ServiceError):
    """The request is malformed: a plan that does not parse, a bad token, ..."""


class FailedPrecondition(ServiceError):
    """The request does not fit the current state (e.g. deciding twice)."""


class ResourceExhausted(ServiceError):
    """A size or rate limit of the service was hit."""


class Unavailable(ServiceError):
    """The service could not be reached."""


_BY_CODE: dict[grpc.StatusCode, type[ServiceError]] = {
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.OUT_OF_RANGE: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def service_error(e: grpc.RpcError) -> ServiceError:
    """The exception for a failed gRPC call."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else None) or str(e)
    return _BY_CODE.get(code, ServiceError)(code, details)


# ---- actions ----

Action = pb.Action


def _arg(v: Any) -> pb.ArgValue:
    if isinstance(v, pb.ArgValue):
        return v
    if isinstance(v, bool):
        return pb.ArgValue(flag=v)
    if isinstance(v, (int, decimal.Decimal)):
        return pb.ArgValue(number=str(v))
    if isinstance(v, float):
        return pb.ArgValue(number=repr(v))
    if isinstance(v, str):
        return pb.ArgValue(text=v)
    if isinstance(v, (list, tuple)):
        return pb.ArgValue(list=pb.ArgList(items=[_arg(x) for x in v]))
    raise TypeError(f"an argument must be str, bool, int, float, Decimal or a list; not {type(v).__name__}")


def from_call(value: Any, tool: str) -> pb.ArgValue:
    """An argument whose value came from a result of ``tool`` (what ``from call`` asks, and
    what a result field the plan makes an assumption about must come from):
    ``call("send_money", amount=from_call(40, "read_bill"))``."""
    a = _arg(value)
    a.from_call = tool
    return a


def call(name: str, /, **args: Any) -> pb.Action:
    """The tool call ``name(**args)`` (numbers are sent as exact decimals)."""
    return pb.Action(call=pb.CallAction(name=name, args={k: _arg(v) for k, v in args.items()}))


def read(path: str) -> pb.Action:
    return pb.Action(file=pb.FileAction(op=pb.FileAction.OP_READ, path=path))


def write(path: str) -> pb.Action:
    return pb.Action(file=pb.FileAction(op=pb.FileAction.OP_WRITE, path=path))


def delete(path: str) -> pb.Action:
    return pb.Action(file=pb.FileAction(op=pb.FileAction.OP_DELETE, path=path))


def exec_(path: str, argv: Sequence[str] = ()) -> pb.Action:
    """Running ``path`` with the arguments ``argv`` (argv[1..])."""
    return pb.Action(exec=pb.ExecAction(path=path, argv=list(argv)))


def connect(host: str, port: int) -> pb.Action:
    """A connection to ``host`` (a name or an address) on ``port``."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return pb.Action(connect=pb.ConnectAction(host=host, port=port))
    return pb.Action(connect=pb.ConnectAction(ip=host, port=port))


def listen(port: int) -> pb.Action:
    return pb.Action(listen=pb.ListenAction(port=port))


# ---- results ----


class PlanVerdict(str, enum.Enum):
    """The verifier's verdict on a submitted plan."""

    ACCEPT = "accept"
    REJECT = "reject"
    APPROVE = "approve"  # a human must approve before a token is issued


_VERDICTS = {
    pb.VERDICT_ACCEPT: PlanVerdict.ACCEPT,
    pb.VERDICT_REJECT: PlanVerdict.REJECT,
    pb.VERDICT_APPROVE: PlanVerdict.APPROVE,
}


class ApprovalState(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


_STATES = {
    pb.APPROVAL_STATE_PENDING: ApprovalState.PENDING,
    pb.APPROVAL_STATE_APPROVED: ApprovalState.APPROVED,
    pb.APPROVAL_STATE_DENIED: ApprovalState.DENIED,
}


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Counterexample:
    """Why the verifier rejected a plan: a step, the rule, and the param
    values (witnesses) the solver found."""

    reason: str
    message: str
    rule: str
    rule_location: Location
    step: str
    step_location: Location
    witnesses: Mapping[str, str]
    path: Sequence[str]


@dataclass(frozen=True)
class Submission:
    """The answer to a submitted plan. ``token`` is set on ACCEPT,
    ``approval_id`` on APPROVE, ``counterexamples`` on REJECT."""

    submission_id: str
    verdict: PlanVerdict
    counterexamples: Sequence[Counterexample]
    token: str | None
    token_id: str | None
    approval_id: str | None
    approval_reasons: Sequence[str]
    envelope: Mapping[str, Any] | None
    audit_seq: int


@dataclass(frozen=True)
class Approval:
    approval_id: str
    submission_id: str
    agent: str
    spec: str
    state: ApprovalState
    plan: str
    reasons: Sequence[str]
    decided_by: str | None
    decision_reason: str | None
    token: str | None
    token_id: str | None
    created_at_ms: int
    decided_at_ms: int | None


@dataclass(frozen=True)
class Revocation:
    token_id: str
    revoked_at_ms: int
    already_revoked: bool
    audit_seq: int


@dataclass(frozen=True)
class CheckResult:
    """The service's answer to CheckAction; ``bool(result)`` is ``allowed``."""

    allowed: bool
    reason: str | None
    token_id: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Event:
    """One record of the service's audit log."""

    seq: int
    time_ms: int
    kind: str
    body: Mapping[str, Any]
    hash: str
    prev_hash: str


@dataclass(frozen=True)
class SpecStatus:
    name: str
    file: str
    loaded: bool
    error: str | None
    spec_hash: str


def _location(m: pb.Location) -> Location:
    return Location(m.file, m.line, m.column)


def _opt(s: str) -> str | None:
    return s or None


def submission(r: pb.SubmitPlanResponse) -> Submission:
    return Submission(
        submission_id=r.submission_id,
        verdict=_VERDICTS.get(r.verdict, PlanVerdict.REJECT),
        counterexamples=[
            Counterexample(
                reason=c.reason,
                message=c.message,
                rule=c.rule,
                rule_location=_location(c.rule_location),
                step=c.step,
                step_location=_location(c.step_location),
                witnesses={w.name: w.value for w in c.witnesses},
                path=list(c.path),
            )
            for c in r.counterexamples
        ],
        token=_opt(r.token),
        token_id=_opt(r.token_id),
        approval_id=_opt(r.approval_id),
        approval_reasons=list(r.approval_reasons),
        envelope=json.loads(r.envelope_json) if r.envelope_json else None,
        audit_seq=r.audit_seq,
    )


def approval(a: pb.Approval) -> Approval:
    return Approval(
        approval_id=a.approval_id,
        submission_id=a.submission_id,
        agent=a.agent,
        spec=a.spec,
        state=_STATES.get(a.state, ApprovalState.PENDING),
        plan=a.plan,
        reasons=list(a.reasons),
        decided_by=_opt(a.decided_by),
        decision_reason=_opt(a.decision_reason),
        token=_opt(a.token),
        token_id=_opt(a.token_id),
        created_at_ms=a.created_at_ms,
        decided_at_ms=a.decided_at_ms or None,
    )


def revocation(r: pb.RevokeResponse) -> Revocation:
    return Revocation(r.token_id, r.revoked_at_ms, r.already_revoked, r.audit_seq)


def check_result(r: pb.CheckActionResponse) -> CheckResult:
    return CheckResult(r.allowed, _opt(r.reason), r.token_id)


def event(e: pb.Event) -> Event:
    return Event(e.seq, e.time_ms, e.kind, json.loads(e.body_json) if e.body_json else {}, e.hash, e.prev_hash)


def spec_status(s: pb.SpecStatus) -> SpecStatus:
    return SpecStatus(s.name, s.file, s.loaded, _opt(s.error), s.spec_hash)


@dataclass
class Settings:
    """How a client reaches the service."""

    endpoint: str
    credentials: str
    root_certificates: bytes | None = None
    timeout: float = 30.0
    metadata: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.credentials:
            raise ValueError("credentials: the service's bearer secret is required")
        self.metadata = [("authorization", "Bearer " + self.credentials)]

    def open_channel(self, channels: Any) -> Any:
        """A channel to the endpoint from ``channels`` (``grpc`` or
        ``grpc.aio``): TLS when root certificates were given."""
        if self.root_certificates is not None:
            tls = grpc.ssl_channel_credentials(root_certificates=self.root_certificates)
            return channels.secure_channel(self.endpoint, tls)
        return channels.insecure_channel(self.endpoint)
