"""PreprocessorService servicer: protobuf in and out, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from preprocessor.pipeline import ImagePipeline
from skinscan.proto_convert import analysis_to_proto
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2 as pb
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2_grpc as pb_grpc
from skinscan_kit.admission import Admission
from skinscan_kit.uploads import collect_upload

__all__ = ["PreprocessorServicer"]


class PreprocessorServicer(pb_grpc.PreprocessorServiceServicer):
    def __init__(self, pipeline: ImagePipeline, max_image_bytes: int, admission: Admission) -> None:
        self.pipeline = pipeline
        self.max_image_bytes = max_image_bytes
        self.admission = admission

    async def Classify(
        self, request_iterator: AsyncIterator[pb.ClassifyRequest], context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        # Admitted before the upload is read: a refusal costs next to nothing.
        async with self.admission.admit():
            header, data = await collect_upload(request_iterator, "header", self.max_image_bytes)
            analysis = await self.pipeline.classify(data, header.request_id)
        return pb.ClassifyResponse(analysis=analysis_to_proto(analysis))
