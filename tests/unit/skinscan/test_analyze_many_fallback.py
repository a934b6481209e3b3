"""The SDK against a gateway older than AnalyzeBatch and AnalyzeImage: `analyze_many` makes
one Analyze call per image, `analyze` streams each image.

The older gateway is a real gRPC server whose AnalysisService has Analyze only (the
generated base answers UNIMPLEMENTED for the rest), as a gateway of the first API version
does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from skinscan import Analysis, Client
from skinscan.errors import InvalidImageError
from skinscan.v1 import analysis_pb2
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from tests.unit.skinscan.servers import analysis_server


class _OlderGateway(pb_grpc.AnalysisServiceServicer):
    def __init__(self) -> None:
        self.analyze_calls = 0
        self.one_message_calls = 0

    def AnalyzeImage(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.one_message_calls += 1
        # What a server without the method answers (grpc's generic handler lookup fails).
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")

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
    servicer = _OlderGateway()
    with analysis_server(servicer) as target:
        yield target, servicer


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


def test_analyze_streams_to_a_gateway_without_analyze_image_and_remembers(
    older_gateway: tuple[str, _OlderGateway],
) -> None:
    target, servicer = older_gateway
    with Client(target, api_key="k") as client:
        assert client.analyze(b"aa").request_id == "r2"
        assert (servicer.one_message_calls, servicer.analyze_calls) == (1, 1)
        with pytest.raises(InvalidImageError):
            client.analyze(b"bad")
        assert client.analyze(b"cccc").request_id == "r4"
        assert (servicer.one_message_calls, servicer.analyze_calls) == (1, 3)


def test_the_async_client_streams_to_it_too(older_gateway: tuple[str, _OlderGateway]) -> None:
    import asyncio

    from skinscan import AsyncClient

    target, servicer = older_gateway

    async def run() -> list[str]:
        async with AsyncClient(target, api_key="k") as client:
            return [(await client.analyze(data)).request_id for data in (b"a", b"bb")]

    assert asyncio.run(run()) == ["r1", "r2"]
    assert (servicer.one_message_calls, servicer.analyze_calls) == (1, 2)


def test_an_image_goes_in_one_message_up_to_3_mib_and_streamed_beyond() -> None:
    from skinscan.streaming import CHUNK_BYTES, ONE_MESSAGE_BYTES, analyze_requests

    method, request = analyze_requests(b"x" * ONE_MESSAGE_BYTES, "a.jpg", one_message=True)
    assert method == "AnalyzeImage" and request.metadata.filename == "a.jpg"
    assert request.metadata.size_bytes == len(request.image) == ONE_MESSAGE_BYTES
    # Encoded with its metadata, it stays under gRPC's default 4 MiB message limit.
    assert request.ByteSize() < 4 * 1024 * 1024
    method, messages = analyze_requests(b"x" * (ONE_MESSAGE_BYTES + 1), "b.jpg", True)
    assert method == "Analyze" and len(messages) == 1 + -(-(ONE_MESSAGE_BYTES + 1) // CHUNK_BYTES)
    assert analyze_requests(b"x", "c.jpg", one_message=False)[0] == "Analyze"
