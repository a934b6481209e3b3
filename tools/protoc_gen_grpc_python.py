"""protoc plugin that writes gRPC Python stubs, for `buf generate`.

grpcio-tools compiles its gRPC generator into its bundled protoc instead of
shipping a `protoc-gen-grpc_python` program, and buf only runs protoc's own
builtins (python, pyi) through `protoc_path`. This adapter takes buf's
CodeGeneratorRequest, hands the same descriptors to grpcio-tools' protoc and
returns what it wrote, so stubs come from the pinned grpcio-tools, offline.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse()
    # Service stubs do not depend on how fields are declared, so `optional`
    # fields (proto3 presence) are no concern of this plugin.
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    descriptors = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        (root / "descriptors.binpb").write_bytes(descriptors.SerializeToString())
        out = root / "out"
        out.mkdir()
        args = [
            "protoc",
            f"--descriptor_set_in={root / 'descriptors.binpb'}",
            f"--grpc_python_out={out}",
            *request.file_to_generate,
        ]
        if protoc.main(args) != 0:
            response.error = "grpc_tools.protoc failed; see its message above"
            return response
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            generated = response.file.add()
            generated.name = path.relative_to(out).as_posix()
            generated.content = path.read_text()
    return response


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())


if __name__ == "__main__":
    main()
