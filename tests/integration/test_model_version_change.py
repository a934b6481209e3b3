"""A new model version with another input size: the preprocessor learns it, never uses a stale size."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from inference.server import InferenceServer
from preprocessor.inference_client import InferenceClient
from preprocessor.pipeline import ImagePipeline
from skinscan_model.preprocessing import ImageLimits
from tests.conftest import TEST_MODEL_NAME, free_port, inference_settings, train_test_model

pytestmark = pytest.mark.integration


def test_the_preprocessor_follows_a_new_version_with_another_input_size(
    model_repository: Path, test_sources: tuple[Path, ...], malignant_jpeg: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "models"
    shutil.copytree(model_repository, repository)
    image = malignant_jpeg.read_bytes()
    settings = inference_settings(repository, port=free_port())

    async def scenario() -> None:
        first = InferenceServer(settings)
        await first.start()
        client = InferenceClient(f"127.0.0.1:{settings.port}", TEST_MODEL_NAME, timeout_s=30)
        pipeline = ImagePipeline(client, ImageLimits())
        try:
            learnt = await client.wait_until_ready()
            assert (learnt.version, learnt.input_size) == ("1", 32)
            assert (await pipeline.classify(image, "before")).model.version == "1"

            # Version 2 takes 40 px; inference restarts on the same address and serves it.
            await asyncio.to_thread(
                train_test_model, test_sources, repository, epochs=1, image_size=40
            )
            await first.stop()
            second = InferenceServer(settings)
            await second.start()
            try:
                # The client still holds version 1 and 32 px: this request is prepared for
                # them, refused as stale, and prepared again for version 2.
                analysis = await pipeline.classify(image, "after")
                assert analysis.model.version == "2"
                assert (client.model.version, client.model.input_size) == ("2", 40)
                assert sum(analysis.probabilities.values()) == pytest.approx(1.0)
            finally:
                await second.stop()
        finally:
            await client.close()

    asyncio.run(scenario())
