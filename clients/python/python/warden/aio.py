"""The asyncio gRPC client of the Warden service (``grpc.aio``)."""

from __future__ import annotations

import json

from typing import Any, AsyncIterator, Iterable

import grpc
import grpc.aio

from . import _common as c
from ._proto import warden_pb2 as pb
from ._proto import warden_pb2_grpc as rpc


class Client:
    """The asyncio twin of :class:`warden.Client`: the same methods, awaited;
    :meth:`events` is an async iterator. Use ``async with``, or await
    :meth:`close`."""

    def __init__(
        self,
        endpoint: str,
        credentials: str,
        *,
        root_certificates: bytes | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._s = c.Settings(endpoint, credentials, root_certificates, timeout)
        self._channel = self._s.open_channel(grpc.aio)
        self._stub = rpc.WardenStub(self._channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def wait_ready(self, timeout: float = 20.0) -> None:
        import asyncio

        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except asyncio.TimeoutError:
            raise c.Unavailable(grpc.StatusCode.UNAVAILABLE, f"{self._s.endpoint} not ready after {timeout}s") from None

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, metadata=self._s.metadata, timeout=self._s.timeout)
        except grpc.aio.AioRpcError as e:
            raise c.service_error(e) from None

    async def submit_plan(self, plan: str, spec: str, agent: str) -> c.Submission:
        return c.submission(
            await self._call(self._stub.SubmitPlan, pb.SubmitPlanRequest(plan=plan, spec=spec, agent=agent))
        )

    async def get_approval(self, approval_id: str) -> c.Approval:
        return c.approval(await self._call(self._stub.GetApproval, pb.GetApprovalRequest(approval_id=approval_id)))

    async def approve(self, approval_id: str, reason: str) -> c.Approval:
        return c.approval(
            await self._call(self._stub.Approve, pb.DecideRequest(approval_id=approval_id, reason=reason))
        )

    async def deny(self, approval_id: str, reason: str) -> c.Approval:
        return c.approval(await self._call(self._stub.Deny, pb.DecideRequest(approval_id=approval_id, reason=reason)))

    async def revoke(self, token_id: str, reason: str) -> c.Revocation:
        return c.revocation(await self._call(self._stub.Revoke, pb.RevokeRequest(token_id=token_id, reason=reason)))

    async def check_action(self, token: str, action: pb.Action) -> c.CheckResult:
        return c.check_result(
            await self._call(self._stub.CheckAction, pb.CheckActionRequest(token=token, action=action))
        )

    async def check_call(self, token: str, name: str, /, **args: Any) -> c.CheckResult:
        return await self.check_action(token, c.call(name, **args))

    async def check_result(self, token: str, tool: str, result: Any) -> c.CheckResult:
        req = pb.CheckResultRequest(token=token, tool=tool, result_json=json.dumps(result))
        return c.check_result(await self._call(self._stub.CheckResult, req))

    async def prove_inclusion(self, seq: int) -> dict[str, Any]:
        """:meth:`warden.Client.prove_inclusion`, awaited. Role: approver."""
        from . import audit

        m = await self._call(self._stub.ProveInclusion, pb.ProveInclusionRequest(seq=seq))
        return audit.inclusion_from_message(m)

    async def prove_consistency(self, old_size: int, new_size: int = 0) -> dict[str, Any]:
        """:meth:`warden.Client.prove_consistency`, awaited. Role: approver."""
        from . import audit

        m = await self._call(self._stub.ProveConsistency,
                             pb.ProveConsistencyRequest(old_size=old_size, new_size=new_size))
        return audit.consistency_from_message(m)

    async def reload(self) -> list[c.SpecStatus]:
        return [c.spec_status(s) for s in (await self._call(self._stub.Reload, pb.ReloadRequest())).specs]

    async def events(
        self, *, after_seq: int = 0, replay: bool = False, kinds: Iterable[str] = ()
    ) -> AsyncIterator[c.Event]:
        call = self._stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=after_seq, replay=replay, kinds=list(kinds)),
            metadata=self._s.metadata,
        )
        try:
            async for e in call:
                yield c.event(e)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise c.service_error(e) from None
        finally:
            call.cancel()
