"""Every REST error has one shape, `{"error": reason}`, and the status of the one mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.analysis_service import AnalysisService
from gateway.preprocessor_client import PreprocessorClient
from gateway.rest import create_app
from tests.conftest import free_port
from tests.images import png_bytes

MAX_BYTES = 1000


def _with_app(scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        # A real preprocessor client, aimed where nothing listens, and no Redis.
        preprocessor = PreprocessorClient(f"127.0.0.1:{free_port()}", timeout_s=5)
        app = create_app(AnalysisService(preprocessor, None), MAX_BYTES, lambda: True)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return await scenario(client)
        finally:
            await preprocessor.close()

    return asyncio.run(run())


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"]
    return str(body["error"])


def test_a_missing_image_field_is_a_malformed_request() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        reason = _error(await client.post("/v1/analyses", files={"photo": b"x"}), 400)
        assert "body.image" in reason and "required" in reason

    _with_app(scenario)


def test_routing_errors_have_the_same_shape() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        assert _error(await client.get("/v1/nothing-here"), 404) == "Not Found"
        assert _error(await client.get("/v1/analyses"), 405) == "Method Not Allowed"

    _with_app(scenario)


def test_uploads_are_refused_at_the_edge_before_any_service_is_called() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        big = png_bytes(64, 64) + bytes(MAX_BYTES)
        assert "limit of 1000" in _error(
            await client.post("/v1/analyses", files={"image": ("a.png", big)}), 413
        )
        # A body far past the limit is refused from its Content-Length alone.
        huge = bytes(MAX_BYTES + 70 * 1024)
        assert "limit of 1000" in _error(
            await client.post("/v1/jobs", files={"image": ("a.png", huge)}), 413
        )
        assert "empty" in _error(
            await client.post("/v1/analyses", files={"image": ("a.png", b"")}), 422
        )

    _with_app(scenario)


def test_a_service_that_cannot_answer_is_503_with_its_reason() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        image = {"image": ("a.png", png_bytes(40, 40))}
        assert "preprocessor" in _error(await client.post("/v1/analyses", files=image), 503)
        assert "no Redis" in _error(await client.post("/v1/jobs", files=image), 503)

    _with_app(scenario)


def test_openapi_documents_the_error_shape_instead_of_fastapis() -> None:
    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        return (await client.get("/openapi.json")).json()

    document = _with_app(scenario)
    responses = document["paths"]["/v1/analyses"]["post"]["responses"]
    assert {"400", "413", "422", "503"} <= set(responses)
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in document["components"]["schemas"]
