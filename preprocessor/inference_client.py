"""Client of the inference service over the Open Inference Protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

import grpc
import numpy as np

from inference import grpc_predict_v2_pb2 as pb
from inference import grpc_predict_v2_pb2_grpc as pb_grpc
from preprocessor import metrics
from skinscan.analysis import ModelRef
from skinscan.errors import UnavailableError
from skinscan.grpc_errors import raise_domain_error

__all__ = ["InferenceClient", "InferenceResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InferenceResult:
    probabilities: np.ndarray  # (batch, classes)
    labels: tuple[str, ...]
    positive_label: str
    decision_threshold: float
    model: ModelRef


class InferenceClient:
    def __init__(self, target: str, model_name: str, timeout_s: float) -> None:
        self._channel = grpc.aio.insecure_channel(
            target, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        )
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)
        self._model_name = model_name
        self._timeout = timeout_s
        self.input_name = ""
        self.input_size = 0

    async def wait_until_ready(self, stop: asyncio.Event) -> None:
        """Blocks until the model is loaded, then learns its input from ModelMetadata."""
        while not stop.is_set():
            try:
                response = await self._stub.ModelMetadata(
                    pb.ModelMetadataRequest(name=self._model_name), timeout=10, wait_for_ready=True
                )
            except grpc.aio.AioRpcError as error:
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise_domain_error(error, "inference")
                log.info("waiting for model %s: %s", self._model_name, error.details())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                continue
            (tensor,) = response.inputs
            self.input_name = tensor.name
            self.input_size = int(tensor.shape[1])
            log.info(
                "model %s versions %s takes %s %s",
                response.name,
                list(response.versions),
                tensor.datatype,
                list(tensor.shape),
            )
            return

    async def infer(self, pixels: np.ndarray) -> InferenceResult:
        request = pb.ModelInferRequest(model_name=self._model_name)
        request.inputs.add(name=self.input_name, datatype="UINT8", shape=list(pixels.shape))
        request.raw_input_contents.append(np.ascontiguousarray(pixels).tobytes())
        started = time.perf_counter()
        try:
            response = await self._stub.ModelInfer(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise_domain_error(error, "inference")
        finally:
            metrics.INFERENCE_SECONDS.observe(time.perf_counter() - started)
        params = response.parameters
        wanted = params["skinscan.probabilities_output"].string_param
        for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True):
            if tensor.name == wanted:
                probabilities = np.frombuffer(raw, dtype="<f4").reshape(tuple(tensor.shape))
                break
        else:
            raise UnavailableError(f"the inference answer has no {wanted!r} output")
        return InferenceResult(
            probabilities=probabilities,
            labels=tuple(json.loads(params["skinscan.labels"].string_param)),
            positive_label=params["skinscan.positive_label"].string_param,
            decision_threshold=params["skinscan.decision_threshold"].double_param,
            model=ModelRef(response.model_name, response.model_version),
        )

    async def close(self) -> None:
        await self._channel.close()
