"""skinscan.v1.AnalysisService servicer: protobuf in and out, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from gateway.analysis_service import AnalysisService
from gateway.batch_analysis import BatchAnalysis
from gateway.rpc.auth import caller
from skinscan.analysis import Analysis
from skinscan.errors import SkinscanError
from skinscan.grpc_status import image_error_to_proto
from skinscan.proto_convert import analysis_to_proto, job_to_proto
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from skinscan_kit.uploads import (
    check_not_empty,
    check_upload_size,
    collect_upload,
    collect_uploads,
)

__all__ = ["AnalysisServicer"]


class AnalysisServicer(pb_grpc.AnalysisServiceServicer):
    def __init__(
        self,
        service: AnalysisService,
        batches: BatchAnalysis,
        max_image_bytes: int,
        max_batch_images: int,
    ) -> None:
        self.service = service
        self.batches = batches
        self.max_image_bytes = max_image_bytes
        self.max_batch_images = max_batch_images

    async def Analyze(
        self, request_iterator: AsyncIterator[pb.AnalyzeRequest], context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeResponse:
        metadata, data = await collect_upload(request_iterator, "metadata", self.max_image_bytes)
        analysis = await self.service.analyze(caller(), data, metadata.filename)
        return pb.AnalyzeResponse(analysis=analysis_to_proto(analysis))

    async def AnalyzeImage(
        self, request: pb.AnalyzeImageRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeImageResponse:
        check_upload_size(len(request.image), self.max_image_bytes)
        check_not_empty(len(request.image))
        analysis = await self.service.analyze(caller(), request.image, request.metadata.filename)
        return pb.AnalyzeImageResponse(analysis=analysis_to_proto(analysis))

    async def AnalyzeBatch(
        self,
        request_iterator: AsyncIterator[pb.AnalyzeBatchRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.AnalyzeBatchResponse]:
        images = collect_uploads(
            request_iterator, "metadata", self.max_image_bytes, self.max_batch_images
        )
        async for index, outcome in self.batches.analyze(caller(), _named(images)):
            if isinstance(outcome, Analysis):
                yield pb.AnalyzeBatchResponse(index=index, analysis=analysis_to_proto(outcome))
            else:
                yield pb.AnalyzeBatchResponse(index=index, error=image_error_to_proto(outcome))

    async def SubmitJob(
        self,
        request_iterator: AsyncIterator[pb.SubmitJobRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.SubmitJobResponse:
        await self.service.admit_job(caller())
        metadata, data = await collect_upload(request_iterator, "metadata", self.max_image_bytes)
        job = await self.service.submit_job(caller(), data, metadata.filename)
        return pb.SubmitJobResponse(job=job_to_proto(job))

    async def GetJob(
        self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobResponse:
        job = await self.service.get_job(caller(), request.job_id, request.wait_s)
        return pb.GetJobResponse(job=job_to_proto(job))


async def _named(
    images: AsyncIterator[tuple[Any, bytes | SkinscanError]],
) -> AsyncIterator[tuple[str, bytes | SkinscanError]]:
    async for metadata, data in images:
        yield metadata.filename, data
