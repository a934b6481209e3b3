"""Encoded image in, analysis out: the preprocessor's domain logic."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from skinscan.analysis import Analysis, CropBox, HeatMap
from skinscan.errors import InvalidRequestError, SkinscanError
from skinscan_model.preprocessing import ImageLimits, crop_box, decode_for_model, resize_and_crop
from skinscan_model.quality import QualityMeasures, measure
from skinscan_pipeline import metrics
from skinscan_pipeline.decision import decide
from skinscan_pipeline.inference_client import InferenceResult, ModelChangedError, ServedModel

__all__ = ["ImagePipeline", "InferenceBackend", "Outcome"]

# One image's analysis, or why it has none.
Outcome = Analysis | SkinscanError
_Prepared = tuple[np.ndarray, QualityMeasures, CropBox]


def _png(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class InferenceBackend(Protocol):
    @property
    def model(self) -> ServedModel: ...

    async def infer(self, pixels: np.ndarray, model: ServedModel) -> InferenceResult: ...


class ImagePipeline:
    def __init__(self, backend: InferenceBackend, limits: ImageLimits) -> None:
        self.backend = backend
        self.limits = limits

    def _prepare(self, data: bytes, size: int) -> _Prepared:
        """Model input, exactly as the trainer made it, its quality, and where it lies in the upload."""
        started = time.perf_counter()
        try:
            image, full_size = decode_for_model(data, size, self.limits)
            pixels = resize_and_crop(image, size)
            measures = measure(pixels, short_side=min(full_size))
            return pixels, measures, CropBox(*crop_box(*full_size, size))
        finally:
            metrics.DECODE_SECONDS.observe(time.perf_counter() - started)

    async def classify(self, data: bytes, request_id: str) -> Analysis:
        try:
            return await self._classify(data, request_id)
        except ModelChangedError:
            # A new version was deployed while this image was on its way; the
            # backend has learnt its input now, so prepare the image again, once.
            return await self._classify(data, request_id)

    async def _classify(self, data: bytes, request_id: str) -> Analysis:
        model = self.backend.model
        # Decoding is CPU work; a thread keeps the event loop answering other calls.
        pixels, measures, crop = await asyncio.to_thread(self._prepare, data, model.input_size)
        result = await self.backend.infer(pixels[np.newaxis], model)
        heatmap = None
        if result.heatmaps is not None:
            heatmap = HeatMap(await asyncio.to_thread(_png, result.heatmaps[0]), crop)
        return decide(request_id, result.image(0, heatmap), measures)

    async def classify_batch(self, images: Sequence[tuple[bytes, str]]) -> list[Outcome]:
        """(image bytes, request id) of several images -> an outcome for each, in order.

        They are decoded in one hand-off to a thread and run through inference as one
        batch: per image, that costs a fraction of `classify`'s hops. A bad image fails
        alone; a failure of inference fails each image that needed it, with its reason.
        """
        try:
            try:
                return await self._classify_batch(images)
            except ModelChangedError:
                return await self._classify_batch(images)
        except SkinscanError as error:
            return [error] * len(images)

    def _prepare_each(self, images: Sequence[bytes], size: int) -> list[_Prepared | SkinscanError]:
        prepared: list[_Prepared | SkinscanError] = []
        for data in images:
            try:
                prepared.append(self._prepare(data, size))
            except InvalidRequestError as error:
                prepared.append(error)
        return prepared

    async def _classify_batch(self, images: Sequence[tuple[bytes, str]]) -> list[Outcome]:
        model = self.backend.model
        prepared = await asyncio.to_thread(
            self._prepare_each, [data for data, _ in images], model.input_size
        )
        outcomes: dict[int, Outcome] = {
            i: item for i, item in enumerate(prepared) if isinstance(item, SkinscanError)
        }
        good = [(i, item) for i, item in enumerate(prepared) if not isinstance(item, SkinscanError)]
        if good:
            pixels = np.stack([item[0] for _, item in good])
            result = await self.backend.infer(pixels, model)
            pngs: list[bytes] | None = None
            if result.heatmaps is not None:
                pngs = await asyncio.to_thread(
                    lambda maps: [_png(m) for m in maps], result.heatmaps
                )
            for row, (i, (_, measures, crop)) in enumerate(good):
                heatmap = None if pngs is None else HeatMap(pngs[row], crop)
                outcomes[i] = decide(images[i][1], result.image(row, heatmap), measures)
        return [outcomes[i] for i in range(len(images))]
