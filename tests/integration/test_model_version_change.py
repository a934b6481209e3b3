"""A new model version with another input size: the preprocessor learns it, never uses a stale size."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from inference.server import InferenceServer
from skinscan_model.preprocessing import ImageLimits
from skinscan_pipeline.inference_client import InferenceClient
from skinscan_pipeline.pipeline import ImagePipeline
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


def test_removing_a_bad_version_rolls_back_and_a_pinned_version_stays(
    model_repository: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "models"
    shutil.copytree(model_repository, repository)
    shutil.copytree(repository / TEST_MODEL_NAME / "1", repository / TEST_MODEL_NAME / "2")
    following = inference_settings(
        repository, port=free_port(), model_poll_s=0.1, replaced_version_grace_s=0
    )
    pinned = inference_settings(repository, port=free_port(), model_version="2")

    async def served(client: InferenceClient) -> str:
        return (await client.refresh()).version

    async def scenario() -> None:
        servers = [InferenceServer(following), InferenceServer(pinned)]
        clients = [
            InferenceClient(f"127.0.0.1:{s.port}", TEST_MODEL_NAME, timeout_s=30)
            for s in (following, pinned)
        ]
        try:
            for server in servers:
                await server.start()
            assert [await served(c) for c in clients] == ["2", "2"]
            # Version 2 turns out bad: removing it from the repository brings back version 1.
            shutil.rmtree(repository / TEST_MODEL_NAME / "2")
            for _ in range(100):
                if await served(clients[0]) == "1":
                    break
                await asyncio.sleep(0.05)
            assert await served(clients[0]) == "1"
            # A pinned server never follows the repository (and keeps what it loaded).
            assert await served(clients[1]) == "2"
        finally:
            for client in clients:
                await client.close()
            for server in servers:
                await server.stop()

    asyncio.run(scenario())
