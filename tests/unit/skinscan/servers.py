"""A real gRPC server with a stand-in AnalysisService, for the SDK's behaviour against it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager

import grpc

from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc


@contextmanager
def analysis_server(servicer: pb_grpc.AnalysisServiceServicer) -> Iterator[str]:
    """Serves `servicer` on a free local port; yields its address."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_AnalysisServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
