"""What the SDK's clients share for AnalyzeBatch: the request stream and the bookkeeping.

Images go in calls of at most BATCH_CALL_IMAGES, each image as its metadata and its
chunks; at most `window` images are sent ahead of their answers, so neither side holds
more than that. An image refused for capacity (or whose call failed for a reason that
left nothing behind) is sent again in a later call after its Retry-After, as `analyze`
would; the others are answered with their result or error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from skinscan.analysis import Analysis
from skinscan.channel import retry_pause
from skinscan.errors import SkinscanError
from skinscan.grpc_status import image_error_from_proto, raise_domain_error
from skinscan.proto_convert import analysis_from_proto
from skinscan.streaming import image_upload
from skinscan.v1 import analysis_service_pb2 as pb

__all__ = [
    "BATCH_CALL_IMAGES",
    "BatchBook",
    "Image",
    "NoBatchApi",
    "Pending",
    "Result",
    "call_timeout_s",
    "domain_error",
    "image_requests",
    "outcome_of",
]

# The gateway's default limit of images per AnalyzeBatch call.
BATCH_CALL_IMAGES = 256

Image = str | Path | bytes
Result = Analysis | SkinscanError | OSError


class NoBatchApi(Exception):
    """The gateway predates AnalyzeBatch: images go one Analyze call each."""


def domain_error(error: grpc.RpcError) -> SkinscanError:
    """A failed call as the domain error `raise_domain_error` would raise."""
    try:
        raise_domain_error(error, "gateway")
    except SkinscanError as mapped:
        return mapped


def call_timeout_s(per_image_s: float, images: int) -> float:
    """A call's deadline: the per-image timeout for each group of 16 the gateway forms."""
    return per_image_s * max(1, math.ceil(images / 16))


@dataclass
class Pending:
    index: int  # in the caller's sequence
    image: Image
    attempt: int = 0


def image_requests(item: Pending) -> list[pb.AnalyzeBatchRequest]:
    """The messages of one image in an AnalyzeBatch stream; OSError if it cannot be read."""
    return image_upload(pb.AnalyzeBatchRequest, item.image)


def outcome_of(response: pb.AnalyzeBatchResponse) -> Analysis | SkinscanError:
    if response.HasField("analysis"):
        return analysis_from_proto(response.analysis)
    return image_error_from_proto(response.error, "gateway")


class BatchBook:
    """Which images are still to send, and which answers go back to the caller."""

    def __init__(self, images: Iterable[Image], retries: bool) -> None:
        self.queue = [Pending(i, image) for i, image in enumerate(images)]
        self.retries = retries
        self.again: list[Pending] = []
        self.pause_s = 0.0

    def next_call(self) -> list[Pending]:
        """The images of the next call: those to send again first (after `pause_s`)."""
        self.queue = self.again + self.queue
        self.again, self.pause_s = [], 0.0
        call, self.queue = self.queue[:BATCH_CALL_IMAGES], self.queue[BATCH_CALL_IMAGES:]
        return call

    def settle(self, item: Pending, outcome: Result) -> Iterator[tuple[int, Result]]:
        """Yields the caller's (index, result), unless the image is to be sent again."""
        if isinstance(outcome, SkinscanError):
            pause = retry_pause(outcome, item.attempt, self.retries)
            if pause is not None:
                item.attempt += 1
                self.again.append(item)
                self.pause_s = max(self.pause_s, pause)
                return
        yield item.index, outcome

    def unanswered(
        self, call: list[Pending], answered: set[int], error: SkinscanError
    ) -> Iterator[tuple[int, Result]]:
        """After a call failed as a whole: each image it left unanswered, settled with `error`."""
        for item in call:
            if item.index not in answered:
                yield from self.settle(item, error)
