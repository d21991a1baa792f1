"""A small Python client for the Warden gRPC service.

The stubs (`warden_pb2`, `warden_pb2_grpc`) are generated from
`proto/warden.proto` by grpcio-tools; `run_tests.sh` regenerates them into
`_gen/` with:

    python -m grpc_tools.protoc -I ../../proto --python_out=_gen --grpc_python_out=_gen ../../proto/warden.proto
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen"))

import grpc  # noqa: E402
import warden_pb2 as pb  # noqa: E402
import warden_pb2_grpc as rpc  # noqa: E402


class WardenClient:
    """One credential talking to one Warden service."""

    def __init__(self, target, secret, ca_pem=None, timeout=30.0):
        if ca_pem is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
            self.channel = grpc.secure_channel(target, creds)
        else:
            self.channel = grpc.insecure_channel(target)
        self.stub = rpc.WardenStub(self.channel)
        self.metadata = [("authorization", "Bearer " + secret)]
        self.timeout = timeout

    def close(self):
        self.channel.close()

    def wait_ready(self, timeout=20.0):
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def _call(self, method, request):
        return method(request, metadata=self.metadata, timeout=self.timeout)

    def submit(self, plan, spec, agent):
        return self._call(self.stub.SubmitPlan, pb.SubmitPlanRequest(plan=plan, spec=spec, agent=agent))

    def get_approval(self, approval_id):
        return self._call(self.stub.GetApproval, pb.GetApprovalRequest(approval_id=approval_id))

    def approve(self, approval_id, reason):
        return self._call(self.stub.Approve, pb.DecideRequest(approval_id=approval_id, reason=reason))

    def deny(self, approval_id, reason):
        return self._call(self.stub.Deny, pb.DecideRequest(approval_id=approval_id, reason=reason))

    def revoke(self, token_id, reason):
        return self._call(self.stub.Revoke, pb.RevokeRequest(token_id=token_id, reason=reason))

    def check(self, token, action):
        return self._call(self.stub.CheckAction, pb.CheckActionRequest(token=token, action=action))

    def reload(self):
        return self._call(self.stub.Reload, pb.ReloadRequest())

    def events(self, after_seq=0, replay=False, kinds=()):
        return self.stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=after_seq, replay=replay, kinds=list(kinds)),
            metadata=self.metadata,
        )


def read_action(path):
    return pb.Action(file=pb.FileAction(op=pb.FileAction.OP_READ, path=path))


def write_action(path):
    return pb.Action(file=pb.FileAction(op=pb.FileAction.OP_WRITE, path=path))


def call_action(name, **args):
    """A tool call; str, bool, int/float (sent as exact decimals) and lists."""

    def value(v):
        if isinstance(v, bool):
            return pb.ArgValue(flag=v)
        if isinstance(v, (int, float)):
            return pb.ArgValue(number=str(v))
        if isinstance(v, (list, tuple)):
            return pb.ArgValue(list=pb.ArgList(items=[value(x) for x in v]))
        return pb.ArgValue(text=str(v))

    return pb.Action(call=pb.CallAction(name=name, args={k: value(v) for k, v in args.items()}))
