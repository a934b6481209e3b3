"""The receiving end of a streamed upload: the one place gRPC enforces the size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

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
