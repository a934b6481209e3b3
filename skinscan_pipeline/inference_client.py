"""Client of the inference service over the Open Inference Protocol.

The preprocessor must resize each image to the input size of the model that
will run it. It learns the served version and its input from ModelMetadata
and pins that version on every request; when a new version has been deployed
meanwhile, inference refuses the pinned one (NOT_FOUND), the client learns the
new model at once and says so with ModelChangedError, and the image is
prepared again for it. So a size learnt once is never used for another model.
While a replaced version is still served to callers that pinned it, its answers
name the version that replaced it, and the client learns that one in the
background, so the switch reaches every preprocessor with its next answer.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass

import grpc
import numpy as np

from skinscan.analysis import HeatMap, ModelRef
from skinscan.errors import SkinscanError, UnavailableError
from skinscan.grpc_status import raise_domain_error
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc
from skinscan_kit import deadline, request_id
from skinscan_kit.readiness import wait_until_serving
from skinscan_kit.tls import aio_channel
from skinscan_model.quality import QualityLimits
from skinscan_pipeline import metrics
from skinscan_pipeline.decision import ModelOutputs

__all__ = ["InferenceClient", "InferenceResult", "ModelChangedError", "ServedModel"]

log = logging.getLogger(__name__)


class ModelChangedError(UnavailableError):
    """The version an image was prepared for is no longer served; prepare it again."""


@dataclass(frozen=True)
class ServedModel:
    """The model version inference serves, and the input it takes."""

    name: str
    version: str
    input_name: str
    input_size: int


@dataclass(frozen=True)
class InferenceResult:
    input_size: int
    probabilities: np.ndarray  # (batch, classes)
    # None for a model exported without them.
    ood_scores: np.ndarray | None  # (batch,)
    ood_threshold: float | None
    heatmaps: np.ndarray | None  # (batch, size, size) uint8
    # With a diagnosis head: (batch, diagnoses) and the codes of its columns.
    diagnosis_probabilities: np.ndarray | None
    diagnosis_codes: tuple[str, ...]
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    model: ModelRef
    # None for a model published without them.
    quality_limits: QualityLimits | None
    # With an acquisition head: (batch, 3) and its refusal level; else None.
    acquisition_probabilities: np.ndarray | None = None
    acquisition_level: float | None = None
    target_sensitivity: float | None = None

    def image(self, index: int, heatmap: HeatMap | None) -> ModelOutputs:
        """One image's outputs, with its heat map made ready for the client."""
        return ModelOutputs(
            probabilities=self.probabilities[index],
            labels=self.labels,
            positive_label=self.positive_label,
            decision_threshold=self.decision_threshold,
            target_sensitivity=self.target_sensitivity,
            model=self.model,
            input_size=self.input_size,
            quality_limits=self.quality_limits,
            ood_score=None if self.ood_scores is None else float(self.ood_scores[index]),
            ood_threshold=self.ood_threshold,
            heatmap=heatmap,
            diagnosis_probabilities=None
            if self.diagnosis_probabilities is None
            else self.diagnosis_probabilities[index],
            diagnosis_codes=self.diagnosis_codes,
            acquisition_probabilities=None
            if self.acquisition_probabilities is None
            else self.acquisition_probabilities[index],
            acquisition_level=self.acquisition_level,
        )


# How each output's raw bytes are laid out (little-endian, as the protocol sends them).
_DTYPES = {"FP32": "<f4", "UINT8": "u1"}


@functools.lru_cache(maxsize=8)
def _codes(encoded: str) -> tuple[str, ...]:
    return tuple(json.loads(encoded))


@functools.lru_cache(maxsize=8)
def _quality_limits(encoded: str) -> QualityLimits | None:
    # The same few strings arrive with every answer: parse each once.
    return QualityLimits.from_dict(json.loads(encoded)) if encoded else None


class InferenceClient:
    def __init__(
        self,
        target: str,
        model_name: str,
        timeout_s: float,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.channel = aio_channel(
            target, credentials, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        )
        self._stub = pb_grpc.GRPCInferenceServiceStub(self.channel)
        self._model_name = model_name
        self._timeout = timeout_s
        self._model: ServedModel | None = None
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def model(self) -> ServedModel:
        if self._model is None:
            raise UnavailableError(
                "waiting for the inference service to serve the model; retry shortly"
            )
        return self._model

    async def wait_until_ready(self) -> ServedModel:
        """Waits for inference to report SERVING (its model loaded), then learns the model."""
        await wait_until_serving(self.channel, "the inference service")
        return await self.refresh()

    async def refresh(self) -> ServedModel:
        """Asks inference which version of the model it serves and what input it takes."""
        try:
            response = await self._stub.ModelMetadata(
                pb.ModelMetadataRequest(name=self._model_name), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise_domain_error(error, "inference")
        (tensor,) = response.inputs
        model = ServedModel(response.name, response.versions[-1], tensor.name, int(tensor.shape[1]))
        if model != self._model:
            log.info(
                "model %s version %s takes %s %s",
                model.name,
                model.version,
                tensor.datatype,
                list(tensor.shape),
            )
        self._model = model
        return model

    async def infer(self, pixels: np.ndarray, model: ServedModel) -> InferenceResult:
        """Runs `model` (the version `pixels` were prepared for) on a batch of pixels."""
        request = pb.ModelInferRequest(model_name=model.name, model_version=model.version)
        request.inputs.add(name=model.input_name, datatype="UINT8", shape=list(pixels.shape))
        request.raw_input_contents.append(np.ascontiguousarray(pixels).tobytes())
        started = time.perf_counter()
        try:
            response = await self._stub.ModelInfer(
                request, timeout=deadline.timeout_s(self._timeout), metadata=request_id.metadata()
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND and await self._changed_from(model):
                raise ModelChangedError(
                    f"model {model.name} version {model.version} was replaced by version "
                    f"{self.model.version}"
                ) from error
            raise_domain_error(error, "inference")
        finally:
            metrics.INFERENCE_SECONDS.observe(time.perf_counter() - started)
        params = response.parameters
        if "skinscan.replaced_by" in params:
            self._learn_replacement(params["skinscan.replaced_by"].string_param)
        outputs = {
            tensor.name: np.frombuffer(raw, dtype=_DTYPES[tensor.datatype]).reshape(
                tuple(tensor.shape)
            )
            for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True)
            if tensor.datatype in _DTYPES
        }
        wanted = params["skinscan.probabilities_output"].string_param
        if wanted not in outputs:
            raise UnavailableError(f"the inference answer has no {wanted!r} output")
        scored = "skinscan.ood_threshold" in params
        diagnosing = "skinscan.diagnoses" in params
        gated = "skinscan.acquisition_level" in params
        return InferenceResult(
            acquisition_probabilities=outputs[params["skinscan.acquisition_output"].string_param]
            if gated
            else None,
            acquisition_level=params["skinscan.acquisition_level"].double_param if gated else None,
            diagnosis_probabilities=outputs[params["skinscan.diagnosis_output"].string_param]
            if diagnosing
            else None,
            diagnosis_codes=_codes(params["skinscan.diagnoses"].string_param) if diagnosing else (),
            input_size=model.input_size,
            probabilities=outputs[wanted],
            ood_scores=outputs[params["skinscan.ood_output"].string_param] if scored else None,
            ood_threshold=params["skinscan.ood_threshold"].double_param if scored else None,
            heatmaps=outputs[params["skinscan.heatmap_output"].string_param]
            if "skinscan.heatmap_output" in params
            else None,
            labels=tuple(json.loads(params["skinscan.labels"].string_param)),
            positive_label=params["skinscan.positive_label"].string_param,
            decision_threshold=params["skinscan.decision_threshold"].double_param,
            target_sensitivity=params["skinscan.target_sensitivity"].double_param
            if "skinscan.target_sensitivity" in params
            else None,
            model=ModelRef(response.model_name, response.model_version),
            quality_limits=_quality_limits(params["skinscan.quality_limits"].string_param),
        )

    def _learn_replacement(self, version: str) -> None:
        if self.model.version == version or (self._refreshing and not self._refreshing.done()):
            return
        self._refreshing = asyncio.create_task(self._refresh_quietly(), name="learn-model")

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except SkinscanError as error:  # the next answer or a NOT_FOUND tries again
            log.warning("could not learn the model that replaced %s: %s", self.model.version, error)

    async def _changed_from(self, model: ServedModel) -> bool:
        try:
            return (await self.refresh()).version != model.version
        except SkinscanError:
            return False

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        await self.channel.close()
