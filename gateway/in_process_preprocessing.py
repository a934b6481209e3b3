"""The image pipeline in the gateway's own process: decode here, then call inference.

The same pipeline the preprocessor serves (skinscan_pipeline), with the same answers, minus
one gRPC hop per image: on one host (`make run`, a single VM) that hop costs more CPU than
it buys. Measured on 2 cores with `skinscan bench` (README, Performance): 1.3 CPU-ms less per
image on the single-image gRPC path, 0.9 on REST, 0.6 on the batch path; a lone request
1.7-2.3 ms faster. The price is that decoding shares the gateway's cores: where decoding should scale on
its own (Kubernetes), leave it to the preprocessor. Jobs are still the preprocessor's.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from skinscan.analysis import Analysis
from skinscan.errors import SkinscanError
from skinscan_kit.readiness import is_serving
from skinscan_kit.settings import PipelineSettings
from skinscan_pipeline.inference_client import InferenceClient
from skinscan_pipeline.pipeline import ImagePipeline

__all__ = ["InProcessPreprocessing"]


class InProcessPreprocessing:
    # What /healthz names as the synchronous path's dependency.
    dependency = "inference"

    def __init__(
        self, settings: PipelineSettings, credentials: grpc.ChannelCredentials | None
    ) -> None:
        self._inference = InferenceClient(
            settings.inference_target,
            settings.model_name,
            settings.inference_timeout_s,
            credentials,
        )
        self._pipeline = ImagePipeline(self._inference, settings.image_limits)

    async def classify(self, data: bytes, filename: str, request_id: str) -> Analysis:
        return await self._pipeline.classify(data, request_id)

    async def classify_batch(
        self, images: Sequence[tuple[bytes, str, str]]
    ) -> list[Analysis | SkinscanError]:
        """(bytes, filename, request id) of several images -> each one's analysis or error."""
        return await self._pipeline.classify_batch([(data, named) for data, _, named in images])

    async def serving(self, timeout_s: float) -> bool:
        """Whether inference reports SERVING now."""
        return await is_serving(self._inference.channel, timeout_s)

    async def wait_until_ready(self) -> None:
        """Waits for inference to serve, then learns its model's input."""
        await self._inference.wait_until_ready()

    async def close(self) -> None:
        await self._inference.close()
