"""The receiving end of a streamed upload: the one place gRPC enforces the size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from skinscan.errors import ImageTooLargeError, InvalidImageError, InvalidRequestError
from skinscan.streaming import CHUNK_BYTES, upload_messages
from skinscan.v1 import analysis_pb2
from skinscan.v1.analysis_service_pb2 import AnalyzeRequest
from skinscan_kit.uploads import collect_upload
from tests.images import png_bytes


async def _stream(messages: Iterable[Any]) -> AsyncIterator[Any]:
    for message in messages:
        yield message


def _collect(messages: Iterable[Any], max_bytes: int) -> tuple[Any, bytes]:
    return asyncio.run(collect_upload(_stream(messages), "metadata", max_bytes))


def _parsed_or_empty(wire: bytes) -> AnalyzeRequest:
    """What the server's deserializer makes of arbitrary bytes (gRPC refuses the call when
    they do not parse; when they do, the message reaches the handler)."""
    try:
        return AnalyzeRequest.FromString(wire)
    except DecodeError:
        return AnalyzeRequest()


def _upload(data: bytes, declared: int | None = None) -> list[AnalyzeRequest]:
    metadata = analysis_pb2.ImageMetadata(
        filename="lesion.png", size_bytes=len(data) if declared is None else declared
    )
    return upload_messages(AnalyzeRequest, "metadata", metadata, data)


def test_an_image_streamed_in_chunks_arrives_whole() -> None:
    data = png_bytes(64, 64) + bytes(2 * CHUNK_BYTES)  # three chunks
    messages = _upload(data)
    assert len(messages) == 4
    metadata, received = _collect(messages, max_bytes=len(data))
    assert received == data and metadata.filename == "lesion.png"


def test_too_many_bytes_is_refused_before_decoding() -> None:
    # The header says nothing of the size: the running count refuses it.
    with pytest.raises(ImageTooLargeError, match="limit of 100"):
        _collect(_upload(png_bytes(64, 64), declared=0), max_bytes=100)


def test_a_declared_size_past_the_limit_is_refused_before_any_chunk() -> None:
    header_only = _upload(b"", declared=101)[:1]
    with pytest.raises(ImageTooLargeError, match="101 bytes, more than the limit of 100"):
        _collect(header_only, max_bytes=100)


@pytest.mark.parametrize(
    ("messages", "error", "reason"),
    [
        ([], InvalidRequestError, "stream was empty"),
        (_upload(b""), InvalidImageError, "the upload is empty"),
        ([AnalyzeRequest(chunk=b"x"), *_upload(b"x")], InvalidRequestError, "first message"),
        ([*_upload(b"x"), *_upload(b"x")[:1]], InvalidRequestError, "once"),
        ([AnalyzeRequest()], InvalidRequestError, "either the header or a chunk"),
    ],
)
def test_malformed_streams_are_refused_with_a_reason(
    messages: list[AnalyzeRequest], error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        _collect(messages, max_bytes=1000)


_MESSAGE = st.one_of(
    st.builds(
        lambda name, size: AnalyzeRequest(
            metadata=analysis_pb2.ImageMetadata(filename=name, size_bytes=size)
        ),
        st.text(max_size=300),
        st.integers(min_value=0, max_value=2**63 - 1),
    ),
    st.builds(lambda chunk: AnalyzeRequest(chunk=chunk), st.binary(max_size=2048)),
    st.just(AnalyzeRequest()),  # neither field set
    # Bytes off the wire that were never a valid message of this type.
    st.binary(max_size=64).map(_parsed_or_empty),
)


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(st.lists(_MESSAGE, max_size=8), st.integers(min_value=1, max_value=4096))
def test_any_stream_of_messages_is_an_upload_or_a_clear_refusal(
    messages: list[AnalyzeRequest], max_bytes: int
) -> None:
    """Fuzzed streams: missing, repeated or late metadata, empty or oversized parts,
    lying declared sizes, unparsable messages. Never another kind of exception."""
    try:
        metadata, data = _collect(messages, max_bytes)
    except (InvalidRequestError, ImageTooLargeError) as refused:
        assert str(refused)
        return
    assert messages[0].WhichOneof("payload") == "metadata"
    assert 0 < len(data) <= max_bytes and metadata.size_bytes <= max_bytes
    assert data == b"".join(m.chunk for m in messages[1:])


def _several(images: list[tuple[bytes, int | None]], max_bytes: int, max_images: int) -> list:
    from skinscan.v1.analysis_service_pb2 import AnalyzeBatchRequest
    from skinscan_kit.uploads import collect_uploads

    messages: list[Any] = []
    for i, (data, declared) in enumerate(images):
        metadata = analysis_pb2.ImageMetadata(filename=f"{i}.png", size_bytes=declared or 0)
        messages += upload_messages(AnalyzeBatchRequest, "metadata", metadata, data)

    async def collect() -> list:
        stream = collect_uploads(_stream(messages), "metadata", max_bytes, max_images)
        return [(header.filename, data) async for header, data in stream]

    return asyncio.run(collect())


def test_several_uploads_each_fail_alone_and_the_rest_arrive_whole() -> None:
    good, big = png_bytes(40, 40), b"\xff" * (CHUNK_BYTES + 10)
    received = _several(
        [(good, None), (big, None), (b"", None), (big, 5), (good, len(good))],
        max_bytes=CHUNK_BYTES,
        max_images=5,
    )
    assert [name for name, _ in received] == [f"{i}.png" for i in range(5)]
    assert received[0][1] == good and received[4][1] == good
    assert isinstance(received[1][1], ImageTooLargeError)  # passed the limit as it arrived
    assert isinstance(received[2][1], InvalidImageError) and "empty" in str(received[2][1])
    assert isinstance(received[3][1], ImageTooLargeError)  # declared small, was not


def test_several_uploads_refuse_a_declared_size_over_the_limit_without_reading_it() -> None:
    (received,) = _several([(b"x", 10**9)], max_bytes=100, max_images=1)
    assert isinstance(received[1], ImageTooLargeError)


def test_several_uploads_past_the_image_limit_or_malformed_fail_the_call() -> None:
    with pytest.raises(InvalidRequestError, match="at most 2 images"):
        _several([(b"x", None)] * 3, max_bytes=100, max_images=2)
    with pytest.raises(InvalidRequestError, match="stream was empty"):
        _several([], max_bytes=100, max_images=2)
    from skinscan.v1.analysis_service_pb2 import AnalyzeBatchRequest
    from skinscan_kit.uploads import collect_uploads

    async def chunk_first() -> None:
        messages = [AnalyzeBatchRequest(chunk=b"x")]
        async for _ in collect_uploads(_stream(messages), "metadata", 100, 2):
            pass

    with pytest.raises(InvalidRequestError, match="must carry `metadata`"):
        asyncio.run(chunk_first())
