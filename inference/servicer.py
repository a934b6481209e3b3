"""Open Inference Protocol servicer: protobuf in and out, nothing more."""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc

from inference.model_service import ModelService
from inference.onnx_model import TensorSpec
from inference.tensor_codec import decode_inputs, encode_outputs
from skinscan.errors import SkinscanError, UnavailableError
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc
from skinscan_model.metadata import ModelMetadata

__all__ = ["SERVER_NAME", "InferenceServicer"]

SERVER_NAME = "skinscan-inference"
SERVER_VERSION = "0.1.0"
PLATFORM = "onnxruntime_onnx"


@dataclass(frozen=True)
class _Served:
    service: ModelService
    # What every answer of this version carries, built once.
    parameters: dict[str, pb.InferParameter]


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """Answers readiness before the model is loaded; everything else needs it.

    After a new version is switched in, the one it replaced is still served for
    a while to callers that ask for it by number (images prepared for it are in
    flight); its answers then say which version replaced it.
    """

    def __init__(self) -> None:
        self._current: _Served | None = None
        self._previous: _Served | None = None

    @property
    def service(self) -> ModelService | None:
        return self._current.service if self._current else None

    def serve(self, service: ModelService) -> ModelService | None:
        """Serves `service` from now on; returns the version it replaced, still reachable
        by number until `retire` is called with it."""
        replaced = self._current
        if replaced is not None:
            self._previous = _Served(
                replaced.service,
                replaced.parameters
                | {"skinscan.replaced_by": pb.InferParameter(string_param=service.version)},
            )
        self._current = _Served(service, _answer_parameters(service.metadata))
        return replaced.service if replaced else None

    def retire(self, service: ModelService) -> None:
        """Stops serving a replaced version: callers asking for it now get NOT_FOUND."""
        if self._previous is not None and self._previous.service is service:
            self._previous = None

    def _ready(self) -> _Served:
        if self._current is None:
            raise UnavailableError("the model is still loading; retry in a few seconds")
        return self._current

    def _route(self, name: str, version: str) -> _Served:
        current = self._ready()
        previous = self._previous
        if (
            previous is not None
            and version
            and version == previous.service.version
            and name == previous.service.name
        ):
            return previous
        current.service.check_model(name, version)
        return current

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
        try:
            self._route(request.name, request.version)
        except SkinscanError:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION, extensions=[])

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        service = self._route(request.name, request.version).service
        # The versions a caller may ask for by number, the one served last.
        versions = [service.version]
        if not request.version and self._previous is not None:
            versions.insert(0, self._previous.service.version)
        return pb.ModelMetadataResponse(
            name=service.name,
            versions=versions,
            platform=PLATFORM,
            inputs=[_tensor_metadata(t) for t in service.inputs],
            outputs=[_tensor_metadata(t) for t in service.outputs],
        )

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        served = self._route(request.model_name, request.model_version)
        service = served.service
        outputs = await service.infer(decode_inputs(request), [o.name for o in request.outputs])
        response = pb.ModelInferResponse(
            model_name=service.name,
            model_version=service.version,
            id=request.id,
            parameters=served.parameters,
        )
        encode_outputs(response, outputs)
        return response


def _answer_parameters(meta: ModelMetadata) -> dict[str, pb.InferParameter]:
    """What a caller needs to read the probabilities, sent with every answer so it
    always matches the version that computed them."""
    parameters = {
        "skinscan.labels": pb.InferParameter(string_param=json.dumps(list(meta.labels))),
        "skinscan.positive_label": pb.InferParameter(string_param=meta.positive_label),
        "skinscan.decision_threshold": pb.InferParameter(double_param=meta.decision_threshold),
        "skinscan.probabilities_output": pb.InferParameter(string_param=meta.probabilities_output),
    }
    if meta.target_sensitivity is not None:
        parameters["skinscan.target_sensitivity"] = pb.InferParameter(
            double_param=meta.target_sensitivity
        )
    if meta.ood_threshold is not None:
        parameters |= {
            "skinscan.ood_threshold": pb.InferParameter(double_param=meta.ood_threshold),
            "skinscan.ood_output": pb.InferParameter(string_param=meta.ood_output),
        }
    if meta.acquisition_level is not None:
        parameters |= {
            "skinscan.acquisition_level": pb.InferParameter(double_param=meta.acquisition_level),
            "skinscan.acquisition_output": pb.InferParameter(string_param=meta.acquisition_output),
        }
    # Versions before the acquisition head exported a heat map only beside the
    # out-of-distribution score; the graph has one wherever either gate is.
    if meta.heatmap_output and (
        meta.ood_threshold is not None or meta.acquisition_level is not None
    ):
        parameters["skinscan.heatmap_output"] = pb.InferParameter(string_param=meta.heatmap_output)
    if meta.diagnoses:
        parameters |= {
            "skinscan.diagnoses": pb.InferParameter(string_param=json.dumps(meta.diagnoses)),
            "skinscan.diagnosis_output": pb.InferParameter(string_param=meta.diagnosis_output),
        }
    if meta.quality is not None:
        parameters["skinscan.quality_limits"] = pb.InferParameter(
            string_param=json.dumps(meta.quality.to_dict())
        )
    return parameters


def _tensor_metadata(spec: TensorSpec) -> pb.ModelMetadataResponse.TensorMetadata:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=list(spec.shape)
    )
