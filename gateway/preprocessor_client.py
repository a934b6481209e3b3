"""Client of the preprocessor's internal API."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from skinscan.analysis import Analysis
from skinscan.errors import SkinscanError, UnavailableError
from skinscan.grpc_status import image_error_from_proto, raise_domain_error
from skinscan.proto_convert import analysis_from_proto
from skinscan.streaming import ONE_MESSAGE_BYTES, upload_messages
from skinscan.v1 import analysis_pb2
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2 as pb
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2_grpc as pb_grpc
from skinscan_kit import deadline
from skinscan_kit.readiness import is_serving, wait_until_serving
from skinscan_kit.request_id import metadata as request_id_metadata
from skinscan_kit.tls import aio_channel

__all__ = ["PreprocessorClient"]


class PreprocessorClient:
    """The preprocessor service over gRPC: one hop, and decoding on its own replicas."""

    # What /healthz names as the synchronous path's dependency.
    dependency = "preprocessor"

    def __init__(
        self, target: str, timeout_s: float, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self.channel = aio_channel(target, credentials)
        self._stub = pb_grpc.PreprocessorServiceStub(self.channel)
        self._timeout = timeout_s

    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis:
        header = _header(data, filename, request_id)
        try:
            # In one message when it fits (ClassifyImage), else as a stream.
            if len(data) <= ONE_MESSAGE_BYTES:
                response = await self._stub.ClassifyImage(
                    pb.ClassifyImageRequest(header=header, image=data),
                    timeout=deadline.timeout_s(self._timeout),
                    metadata=request_id_metadata(),
                )
            else:
                response = await self._stub.Classify(
                    iter(upload_messages(pb.ClassifyRequest, "header", header, data)),
                    timeout=deadline.timeout_s(self._timeout),
                    metadata=request_id_metadata(),
                )
        except grpc.aio.AioRpcError as error:
            raise_domain_error(error, "preprocessor")
        return analysis_from_proto(response.analysis)

    async def classify_batch(
        self, images: Sequence[tuple[bytes, str, str]]
    ) -> list[Analysis | SkinscanError]:
        """(bytes, filename, request id) of several images -> each one's analysis or error.
        A failure of the whole call raises, as `classify` does."""
        messages = []
        for data, filename, named in images:
            header = _header(data, filename, named)
            messages += upload_messages(pb.ClassifyBatchRequest, "header", header, data)
        try:
            response = await self._stub.ClassifyBatch(
                iter(messages),
                timeout=deadline.timeout_s(self._timeout),
                metadata=request_id_metadata(),
            )
        except grpc.aio.AioRpcError as error:
            raise_domain_error(error, "preprocessor")
        if len(response.outcomes) != len(images):
            raise UnavailableError(
                f"the preprocessor answered {len(response.outcomes)} of {len(images)} images"
            )
        return [
            analysis_from_proto(outcome.analysis)
            if outcome.HasField("analysis")
            else image_error_from_proto(outcome.error, "preprocessor")
            for outcome in response.outcomes
        ]

    async def serving(self, timeout_s: float) -> bool:
        """Whether the preprocessor reports SERVING on standard gRPC health now."""
        return await is_serving(self.channel, timeout_s)

    async def wait_until_ready(self) -> None:
        await wait_until_serving(self.channel, "the preprocessor")

    async def close(self) -> None:
        await self.channel.close()


def _header(data: bytes, filename: str, request_id: str) -> pb.ClassifyHeader:
    return pb.ClassifyHeader(
        request_id=request_id,
        image=analysis_pb2.ImageMetadata(filename=filename, size_bytes=len(data)),
    )
