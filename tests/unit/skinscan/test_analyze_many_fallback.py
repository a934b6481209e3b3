"""`analyze_many` against a gateway older than AnalyzeBatch: one Analyze call per image.

The older gateway is a real gRPC server whose AnalysisService has Analyze and no
AnalyzeBatch (the generated base answers UNIMPLEMENTED), as a gateway of the first API
version does.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from skinscan import Analysis, Client
from skinscan.errors import InvalidImageError
from skinscan.v1 import analysis_pb2
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc


class _OlderGateway(pb_grpc.AnalysisServiceServicer):
    def __init__(self) -> None:
        self.analyze_calls = 0

    def Analyze(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        self.analyze_calls += 1
        data = b"".join(m.chunk for m in request_iterator if m.WhichOneof("payload") == "chunk")
        if data == b"bad":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a JPEG or PNG")
        return pb.AnalyzeResponse(
            analysis=analysis_pb2.Analysis(
                request_id=f"r{len(data)}",
                model=analysis_pb2.ModelRef(name="m", version="1"),
                assessable=False,
            )
        )


@pytest.fixture
def older_gateway() -> Iterator[tuple[str, _OlderGateway]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = _OlderGateway()
    pb_grpc.add_AnalysisServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(None)


def test_a_gateway_without_batches_gets_one_analyze_call_per_image(
    older_gateway: tuple[str, _OlderGateway],
) -> None:
    target, servicer = older_gateway
    images = [b"a", b"bad", b"ccc"]
    with Client(target, api_key="k") as client:
        results = dict(client.analyze_many(images))
        assert sorted(results) == [0, 1, 2]
        assert isinstance(results[0], Analysis) and results[0].request_id == "r1"
        assert isinstance(results[1], InvalidImageError)
        assert isinstance(results[2], Analysis) and results[2].request_id == "r3"
        assert servicer.analyze_calls == 3
        # Learnt once: the next batch goes straight to one call per image.
        assert len(dict(client.analyze_many(images[:1]))) == 1
        assert servicer.analyze_calls == 4


def test_the_async_client_falls_back_the_same_way(
    older_gateway: tuple[str, _OlderGateway],
) -> None:
    import asyncio

    from skinscan import AsyncClient

    target, servicer = older_gateway

    async def run() -> dict[int, object]:
        async with AsyncClient(target, api_key="k") as client:
            return {i: r async for i, r in client.analyze_many([b"a", b"bad"])}

    results = asyncio.run(run())
    assert isinstance(results[0], Analysis) and isinstance(results[1], InvalidImageError)
    assert servicer.analyze_calls == 2
