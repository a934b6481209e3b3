"""Encoded image in, analysis out: the preprocessor's domain logic."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import numpy as np

from preprocessor import metrics
from preprocessor.inference_client import InferenceResult
from skinscan.analysis import Analysis, decide
from skinscan.preprocessing import ImageLimits, load_model_input

__all__ = ["ImagePipeline", "InferenceBackend"]


class InferenceBackend(Protocol):
    input_size: int

    async def infer(self, pixels: np.ndarray) -> InferenceResult: ...


class ImagePipeline:
    def __init__(self, backend: InferenceBackend, limits: ImageLimits) -> None:
        self.backend = backend
        self.limits = limits

    def _prepare(self, data: bytes) -> np.ndarray:
        started = time.perf_counter()
        try:
            return load_model_input(data, self.backend.input_size, self.limits)
        finally:
            metrics.DECODE_SECONDS.observe(time.perf_counter() - started)

    async def classify(self, data: bytes, request_id: str) -> Analysis:
        # Decoding is CPU work; a thread keeps the event loop answering other calls.
        pixels = await asyncio.to_thread(self._prepare, data)
        result = await self.backend.infer(pixels[np.newaxis])
        return decide(
            request_id,
            result.probabilities[0],
            result.labels,
            result.positive_label,
            result.decision_threshold,
            result.model,
        )
