"""The synchronous gRPC client of the Warden service."""

from __future__ import annotations

import json

from typing import Any, Iterable, Iterator

import grpc

from . import _common as c
from ._proto import warden_pb2 as pb
from ._proto import warden_pb2_grpc as rpc


class Client:
    """One credential talking to one Warden service (``warden serve``).

    ``endpoint`` is ``host:port``; ``credentials`` the bearer secret of a
    credential of the service's configuration (its role decides what it may
    do). With ``root_certificates`` (PEM bytes) the channel is TLS. Every
    failed call raises a :class:`ServiceError` subclass. Use it as a context
    manager, or call :meth:`close`.
    """

    def __init__(
        self,
        endpoint: str,
        credentials: str,
        *,
        root_certificates: bytes | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._s = c.Settings(endpoint, credentials, root_certificates, timeout)
        self._channel = self._s.open_channel(grpc)
        self._stub = rpc.WardenStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Block until the channel is connected; raises Unavailable after ``timeout``."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise c.Unavailable(grpc.StatusCode.UNAVAILABLE, f"{self._s.endpoint} not ready after {timeout}s") from None

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._s.metadata, timeout=self._s.timeout)
        except grpc.RpcError as e:
            raise c.service_error(e) from None

    def submit_plan(self, plan: str, spec: str, agent: str) -> c.Submission:
        """Submit ``plan`` (its text) for proof against the spec named ``spec``."""
        return c.submission(self._call(self._stub.SubmitPlan, pb.SubmitPlanRequest(plan=plan, spec=spec, agent=agent)))

    def get_approval(self, approval_id: str) -> c.Approval:
        return c.approval(self._call(self._stub.GetApproval, pb.GetApprovalRequest(approval_id=approval_id)))

    def approve(self, approval_id: str, reason: str) -> c.Approval:
        """Approve a pending plan (approver role); the answer carries the token."""
        return c.approval(self._call(self._stub.Approve, pb.DecideRequest(approval_id=approval_id, reason=reason)))

    def deny(self, approval_id: str, reason: str) -> c.Approval:
        return c.approval(self._call(self._stub.Deny, pb.DecideRequest(approval_id=approval_id, reason=reason)))

    def revoke(self, token_id: str, reason: str) -> c.Revocation:
        """Revoke a token (approver role): the service refuses it from now on."""
        return c.revocation(self._call(self._stub.Revoke, pb.RevokeRequest(token_id=token_id, reason=reason)))

    def check_action(self, token: str, action: pb.Action) -> c.CheckResult:
        """Check one action of the token's run on the service (a network
        round trip; :meth:`warden.Token.check_call` does it in process)."""
        return c.check_result(self._call(self._stub.CheckAction, pb.CheckActionRequest(token=token, action=action)))

    def check_call(self, token: str, name: str, /, **args: Any) -> c.CheckResult:
        return self.check_action(token, c.call(name, **args))

    def prove_inclusion(self, seq: int) -> dict[str, Any]:
        """The proof that audit record ``seq`` is in the log's signed tree
        (the dict ``warden audit prove`` prints; check it with
        :func:`warden.audit.verify_inclusion`). Role: approver."""
        from . import audit

        m = self._call(self._stub.ProveInclusion, pb.ProveInclusionRequest(seq=seq))
        return audit.inclusion_from_message(m)

    def prove_consistency(self, old_size: int, new_size: int = 0) -> dict[str, Any]:
        """The proof that the log's first ``old_size`` records are a prefix
        of its first ``new_size`` (0: its signed tree head); check it with
        :func:`warden.audit.verify_consistency`. Role: approver."""
        from . import audit

        m = self._call(self._stub.ProveConsistency,
                       pb.ProveConsistencyRequest(old_size=old_size, new_size=new_size))
        return audit.consistency_from_message(m)

    def check_result(self, token: str, tool: str, result: Any) -> c.CheckResult:
        """Check a result of ``tool`` as it arrives (anything ``json.dumps`` takes) against the
        plan's assumptions about that tool's results; a refused result stops the run."""
        req = pb.CheckResultRequest(token=token, tool=tool, result_json=json.dumps(result))
        return c.check_result(self._call(self._stub.CheckResult, req))

    def reload(self) -> list[c.SpecStatus]:
        """Reload the spec directory (admin role)."""
        return [c.spec_status(s) for s in self._call(self._stub.Reload, pb.ReloadRequest()).specs]

    def events(self, *, after_seq: int = 0, replay: bool = False, kinds: Iterable[str] = ()) -> Iterator[c.Event]:
        """Stream audit events (approver or admin role): with ``replay`` or
        ``after_seq`` the recorded ones first, then live ones as they come.
        Close the iterator (or stop iterating and drop it) to cancel."""
        stream = self._stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=after_seq, replay=replay, kinds=list(kinds)),
            metadata=self._s.metadata,
        )
        try:
            for e in stream:
                yield c.event(e)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise c.service_error(e) from None
        finally:
            stream.cancel()
