"""PreprocessorService servicer: protobuf in and out, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from skinscan.analysis import Analysis
from skinscan.grpc_status import image_error_to_proto
from skinscan.proto_convert import analysis_to_proto
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2 as pb
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2_grpc as pb_grpc
from skinscan_kit.admission import Admission
from skinscan_kit.uploads import (
    check_not_empty,
    check_upload_size,
    collect_upload,
    collect_uploads,
)
from skinscan_pipeline.pipeline import ImagePipeline, Outcome

__all__ = ["PreprocessorServicer"]


class PreprocessorServicer(pb_grpc.PreprocessorServiceServicer):
    def __init__(
        self,
        pipeline: ImagePipeline,
        max_image_bytes: int,
        admission: Admission,
        max_batch_images: int,
    ) -> None:
        self.pipeline = pipeline
        self.max_image_bytes = max_image_bytes
        self.admission = admission
        self.max_batch_images = max_batch_images

    async def Classify(
        self, request_iterator: AsyncIterator[pb.ClassifyRequest], context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        # Admitted before the upload is read: a refusal costs next to nothing.
        async with self.admission.admit():
            header, data = await collect_upload(request_iterator, "header", self.max_image_bytes)
            analysis = await self.pipeline.classify(data, header.request_id)
        return pb.ClassifyResponse(analysis=analysis_to_proto(analysis))

    async def ClassifyImage(
        self, request: pb.ClassifyImageRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClassifyImageResponse:
        async with self.admission.admit():
            check_upload_size(len(request.image), self.max_image_bytes)
            check_not_empty(len(request.image))
            analysis = await self.pipeline.classify(request.image, request.header.request_id)
        return pb.ClassifyImageResponse(analysis=analysis_to_proto(analysis))

    async def ClassifyBatch(
        self,
        request_iterator: AsyncIterator[pb.ClassifyBatchRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.ClassifyBatchResponse:
        # One place for the call: its images are decoded in one hand-off, one after another.
        async with self.admission.admit():
            received = [
                item
                async for item in collect_uploads(
                    request_iterator, "header", self.max_image_bytes, self.max_batch_images
                )
            ]
            readable = [(d, h.request_id) for h, d in received if isinstance(d, bytes)]
            classified = iter(await self.pipeline.classify_batch(readable))
        outcomes = [_outcome(next(classified) if isinstance(d, bytes) else d) for _, d in received]
        return pb.ClassifyBatchResponse(outcomes=outcomes)


def _outcome(outcome: Outcome) -> pb.ClassifyOutcome:
    if isinstance(outcome, Analysis):
        return pb.ClassifyOutcome(analysis=analysis_to_proto(outcome))
    return pb.ClassifyOutcome(error=image_error_to_proto(outcome))
