#!/usr/bin/env python3
"""Generates the Python gRPC stubs of meetings.v1 from the service's proto files.

    python generate_stubs.py [--proto-dir ../../proto] [--out gen]

Runs grpcio-tools' bundled protoc (no system protoc needed) and writes meetings/v1/
meeting_service_pb2.py, its .pyi type stub and meeting_service_pb2_grpc.py under gen/, which is
not committed: regenerate whenever the proto changes. In your own project, do the same in your
build (or commit the output if you prefer to vendor it).
"""

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", type=Path, default=HERE.parent.parent / "proto")
    parser.add_argument("--out", type=Path, default=HERE / "gen")
    args = parser.parse_args()

    protos = sorted(p.relative_to(args.proto_dir).as_posix() for p in args.proto_dir.rglob("*.proto"))
    if not protos:
        print(f"no .proto files under {args.proto_dir}", file=sys.stderr)
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    # google/protobuf/*.proto (Timestamp, Struct) ship inside grpcio-tools.
    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={args.proto_dir}",
            f"--proto_path={well_known}",
            f"--python_out={args.out}",
            f"--pyi_out={args.out}",
            f"--grpc_python_out={args.out}",
            *protos,
        ]
    )
    if status != 0:
        print(f"protoc failed with exit status {status}", file=sys.stderr)
        return status
    print(f"generated stubs for {', '.join(protos)} in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
