"""PreprocessorService servicer: protobuf in and out, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from preprocessor.pipeline import ImagePipeline
from skinscan.errors import UnavailableError
from skinscan.preprocessor.v1 import preprocessor_service_pb2 as pb
from skinscan.preprocessor.v1 import preprocessor_service_pb2_grpc as pb_grpc
from skinscan.proto_convert import analysis_to_proto
from skinscan.uploads import collect_upload

__all__ = ["PreprocessorServicer"]


class PreprocessorServicer(pb_grpc.PreprocessorServiceServicer):
    def __init__(self, max_bytes: int) -> None:
        self.pipeline: ImagePipeline | None = None
        self.max_bytes = max_bytes

    async def Classify(
        self, request_iterator: AsyncIterator[pb.ClassifyRequest], context: grpc.aio.ServicerContext
    ) -> pb.ClassifyResponse:
        if self.pipeline is None:
            raise UnavailableError("the preprocessor is waiting for the model; retry shortly")
        header, data = await collect_upload(request_iterator, "header", self.max_bytes)
        analysis = await self.pipeline.classify(data, header.request_id)
        return pb.ClassifyResponse(analysis=analysis_to_proto(analysis))
