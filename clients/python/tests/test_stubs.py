"""The gRPC stubs shipped in the package (python/warden/_proto/) are what
grpcio-tools generates from proto/warden.proto today: a proto change without
regenerating them fails here. Regenerate with the command below."""

import filecmp
import subprocess
import sys

from conftest import HERE, REPO

COMMAND = [sys.executable, "-m", "grpc_tools.protoc", f"--proto_path=warden/_proto={REPO / 'proto'}"]


def test_stubs_are_generated_from_the_proto(tmp_path):
    out = tmp_path / "gen"
    out.mkdir()
    subprocess.run([*COMMAND, f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}",
                    str(REPO / "proto" / "warden.proto")], check=True)
    shipped = HERE.parent / "python" / "warden" / "_proto"
    for name in ("warden_pb2.py", "warden_pb2.pyi", "warden_pb2_grpc.py"):
        assert filecmp.cmp(out / "warden" / "_proto" / name, shipped / name, shallow=False), (
            f"{name} is stale: run {' '.join(COMMAND)} --python_out=python --grpc_python_out=python "
            f"--pyi_out=python {REPO / 'proto' / 'warden.proto'} in clients/python"
        )
