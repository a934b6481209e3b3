"""Every REST error has one shape, `{"error": reason}`, and the status of the one mapping."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.gateway_app import gateway_app
from tests.images import png_bytes

MAX_BYTES = 1000


def _with_app(scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        # A real preprocessor client, aimed where nothing listens, and no Redis.
        with tempfile.TemporaryDirectory() as folder:
            async with gateway_app(Path(folder), f"127.0.0.1:{free_port()}", MAX_BYTES) as gateway:
                gateway.client.headers.update(gateway.key_headers)
                return await scenario(gateway.client)

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
    assert {"400", "401", "403", "413", "422", "429", "502", "503"} <= set(responses)
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_without_valid_credentials_every_route_is_401_and_says_nothing_more() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        image = {"image": ("a.png", png_bytes(40, 40))}
        calls: list[tuple[str, str, Any]] = [
            ("POST", "/v1/analyses", image),
            ("POST", "/v1/jobs", image),
            ("GET", "/v1/jobs/abc", None),
            ("GET", "/v1/me", None),
            ("GET", "/v1/users", None),
            ("GET", "/v1/api-keys", None),
            ("GET", "/v1/audit-events", None),
        ]
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            client.headers.clear()
            client.headers.update(headers)
            reasons = set()
            for method, path, files in calls:
                response = await client.request(method, path, files=files)
                reasons.add(_error(response, 401))
                assert response.headers["www-authenticate"] == "Bearer"
            assert len(reasons) == 1
        assert (await client.get("/healthz")).status_code == 200

    _with_app(scenario)
