"""skinscan.v1.AnalysisService servicer: protobuf in and out, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from gateway.analysis_service import AnalysisService
from gateway.rpc.auth import caller
from skinscan.proto_convert import analysis_to_proto, job_to_proto
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from skinscan_kit.uploads import collect_upload

__all__ = ["AnalysisServicer"]


class AnalysisServicer(pb_grpc.AnalysisServiceServicer):
    def __init__(self, service: AnalysisService, max_image_bytes: int) -> None:
        self.service = service
        self.max_image_bytes = max_image_bytes

    async def Analyze(
        self, request_iterator: AsyncIterator[pb.AnalyzeRequest], context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeResponse:
        metadata, data = await collect_upload(request_iterator, "metadata", self.max_image_bytes)
        analysis = await self.service.analyze(caller(), data, metadata.filename)
        return pb.AnalyzeResponse(analysis=analysis_to_proto(analysis))

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
