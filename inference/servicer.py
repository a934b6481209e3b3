"""Open Inference Protocol servicer: protobuf in and out, nothing more."""

from __future__ import annotations

import json

import grpc

from inference.model_service import ModelService
from inference.onnx_model import TensorSpec
from inference.tensor_codec import decode_inputs, encode_outputs
from skinscan.errors import UnavailableError
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc

__all__ = ["SERVER_NAME", "InferenceServicer"]

SERVER_NAME = "skinscan-inference"
SERVER_VERSION = "0.1.0"
PLATFORM = "onnxruntime_onnx"


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """Answers readiness before the model is loaded; everything else needs it."""

    def __init__(self) -> None:
        self.service: ModelService | None = None
        self._parameters: dict[str, pb.InferParameter] = {}

    def set_service(self, service: ModelService) -> None:
        """Serves `service` from now on; what every answer carries is built here, once."""
        meta = service.metadata
        # What a caller needs to read the probabilities travels with every
        # answer, so it always matches the version that computed them.
        self._parameters = {
            "skinscan.labels": pb.InferParameter(string_param=json.dumps(list(meta.labels))),
            "skinscan.positive_label": pb.InferParameter(string_param=meta.positive_label),
            "skinscan.decision_threshold": pb.InferParameter(double_param=meta.decision_threshold),
            "skinscan.probabilities_output": pb.InferParameter(
                string_param=meta.probabilities_output
            ),
        }
        if meta.ood_threshold is not None:
            self._parameters |= {
                "skinscan.ood_threshold": pb.InferParameter(double_param=meta.ood_threshold),
                "skinscan.ood_output": pb.InferParameter(string_param=meta.ood_output),
                "skinscan.heatmap_output": pb.InferParameter(string_param=meta.heatmap_output),
            }
        if meta.diagnoses:
            self._parameters |= {
                "skinscan.diagnoses": pb.InferParameter(string_param=json.dumps(meta.diagnoses)),
                "skinscan.diagnosis_output": pb.InferParameter(string_param=meta.diagnosis_output),
            }
        if meta.quality is not None:
            self._parameters["skinscan.quality_limits"] = pb.InferParameter(
                string_param=json.dumps(meta.quality.to_dict())
            )
        self.service = service

    def _ready(self) -> ModelService:
        if self.service is None:
            raise UnavailableError("the model is still loading; retry in a few seconds")
        return self.service

    async def ServerLive(
        self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.service is not None)

    async def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelReadyResponse:
        service = self.service
        ready = (
            service is not None
            and request.name == service.name
            and request.version in ("", service.version)
        )
        return pb.ModelReadyResponse(ready=ready)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION, extensions=[])

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        service = self._ready()
        service.check_model(request.name, request.version)
        return pb.ModelMetadataResponse(
            name=service.name,
            versions=[service.version],
            platform=PLATFORM,
            inputs=[_tensor_metadata(t) for t in service.inputs],
            outputs=[_tensor_metadata(t) for t in service.outputs],
        )

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        service = self._ready()
        service.check_model(request.model_name, request.model_version)
        outputs = await service.infer(decode_inputs(request), [o.name for o in request.outputs])
        response = pb.ModelInferResponse(
            model_name=service.name,
            model_version=service.version,
            id=request.id,
            parameters=self._parameters,
        )
        encode_outputs(response, outputs)
        return response


def _tensor_metadata(spec: TensorSpec) -> pb.ModelMetadataResponse.TensorMetadata:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=list(spec.shape)
    )
