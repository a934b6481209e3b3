"""While the gateway is full, a REST analysis is refused at its front door: before its
credentials are checked or its upload is read, with 429 and Retry-After, and with the
headers every answer carries."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

from tests.conftest import free_port
from tests.gateway_app import gateway_app
from tests.images import png_bytes


def test_a_full_gateway_refuses_an_analysis_before_reading_it_or_its_credentials() -> None:
    read: list[bytes] = []

    async def upload() -> AsyncIterator[bytes]:
        # A multipart body whose every part is recorded as the server reads it.
        for part in (b"--b\r\n", b'Content-Disposition: form-data; name="image"; ', b"--b--"):
            read.append(part)
            yield part

    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            # A real preprocessor client, aimed where nothing listens.
            async with gateway_app(Path(folder), f"127.0.0.1:{free_port()}", 10_000) as gateway:
                admission = gateway.analyses.admission
                async with AsyncExitStack() as places:
                    for _ in range(admission.limit):
                        await places.enter_async_context(admission.admit())
                    refused = await gateway.client.post(
                        "/v1/analyses",
                        content=upload(),
                        headers={"Content-Type": "multipart/form-data; boundary=b"},
                    )
                    assert refused.status_code == 429, refused.text
                    assert "at capacity" in refused.json()["error"]
                    assert int(refused.headers["Retry-After"]) >= 1
                    assert refused.headers["X-Request-ID"]
                    assert "default-src" in refused.headers["Content-Security-Policy"]
                    assert read == [], "the upload was read before the refusal"
                # With a place free, the same call reaches its checks: no credentials, 401;
                # with them, the preprocessor (not listening here): 503.
                image = {"image": ("a.png", png_bytes(40, 40))}
                assert (await gateway.client.post("/v1/analyses", files=image)).status_code == 401
                answered = await gateway.client.post(
                    "/v1/analyses", files=image, headers=gateway.key_headers
                )
                assert answered.status_code == 503, answered.text

    asyncio.run(run())
