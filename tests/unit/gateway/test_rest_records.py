"""Record routes over REST: the flow of a clinic, and the access matrix of every route."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.accounts.tokens import AccessTokens
from tests.conftest import free_port
from tests.gateway_app import GatewayApp, gateway_app
from tests.images import png_bytes


def _with_app(scenario: Callable[[GatewayApp], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            async with gateway_app(Path(folder), f"127.0.0.1:{free_port()}", 10_000) as app:
                return await scenario(app)

    return asyncio.run(run())


async def _bearer_of(app: GatewayApp, username: str, password: str) -> dict[str, str]:
    tokens = await app.accounts.login(username, password)
    return {"Authorization": f"Bearer {tokens.access_token}"}


def test_every_record_route_refuses_the_wrong_caller_with_the_right_code() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        patient = await client.post(
            "/v1/patients",
            json={"name": "Ada Lovelace", "sex": "female", "identifier": "MRN-1"},
            headers=app.key_headers,
        )
        assert patient.status_code == 201, patient.text
        pid = patient.json()["id"]
        lesion = await client.post(
            f"/v1/patients/{pid}/lesions", json={"body_site": "back"}, headers=app.key_headers
        )
        assert lesion.status_code == 201, lesion.text
        lid = lesion.json()["id"]

        await app.accounts.create_clinic("Other clinic", "other.admin", "other admin password")
        other = await _bearer_of(app, "other.admin", "other admin password")
        derm = await app.accounts.create_user(
            app.admin, "derm.x", "dermatologist pw", "dermatologist"
        )
        assert derm.role.value == "dermatologist"
        dermatologist = await _bearer_of(app, "derm.x", "dermatologist pw")
        image = {"image": ("a.png", png_bytes(40, 40))}
        routes: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/patients", {"json": {"name": "X", "sex": "male"}}),
            ("GET", "/v1/patients", {}),
            ("GET", f"/v1/patients/{pid}", {}),
            ("GET", f"/v1/patients/{pid}/export", {}),
            ("DELETE", f"/v1/patients/{pid}", {}),
            ("POST", f"/v1/patients/{pid}/lesions", {"json": {"body_site": "face"}}),
            ("GET", f"/v1/patients/{pid}/lesions", {}),
            ("POST", f"/v1/lesions/{lid}/analyses", {"files": image}),
            ("GET", f"/v1/lesions/{lid}/analyses", {}),
            ("GET", "/v1/records/analyses", {}),
            ("GET", "/v1/reviews", {}),
            ("GET", "/v1/clinic", {}),
            ("PATCH", "/v1/clinic", {"json": {"keep_images": True}}),
            ("GET", "/v1/reviews/performance", {}),
            ("GET", "/v1/clinic/thresholds", {}),
            ("POST", "/v1/clinic/thresholds", {"json": {"model_name": "m", "model_version": "1"}}),
            ("DELETE", "/v1/clinic/thresholds/m/1", {}),
        ]
        for method, path, extra in routes:
            for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
                response = await client.request(method, path, headers=headers, **extra)
                assert response.status_code == 401, (method, path, response.text)
                assert list(response.json()) == ["error"]
        # Another clinic's admin: every route naming one of this clinic's records is 403.
        for method, path, extra in routes:
            if pid in path or lid in path:
                response = await client.request(method, path, headers=other, **extra)
                assert response.status_code == 403, (method, path, response.text)
                assert "Ada" not in response.text and "MRN" not in response.text
        # The wrong role: a dermatologist registers no patient; a clinician's key erases
        # no one and changes no clinic setting.
        wrong_role: list[tuple[dict[str, str], str, str, dict[str, Any]]] = [
            (dermatologist, "POST", "/v1/patients", {"json": {"name": "X", "sex": "male"}}),
            (dermatologist, "POST", f"/v1/patients/{pid}/lesions", {"json": {"body_site": "face"}}),
            (app.key_headers, "DELETE", f"/v1/patients/{pid}", {}),
            (app.key_headers, "PATCH", "/v1/clinic", {"json": {"keep_images": True}}),
            # Adopting or withdrawing a clinic threshold is an admin's act.
            (
                app.key_headers,
                "POST",
                "/v1/clinic/thresholds",
                {"json": {"model_name": "m", "model_version": "1"}},
            ),
            (dermatologist, "DELETE", "/v1/clinic/thresholds/m/1", {}),
        ]
        for headers, method, path, extra in wrong_role:
            response = await client.request(method, path, headers=headers, **extra)
            assert response.status_code == 403, (method, path, response.text)
        # The other clinic's list is empty rather than refused: it is theirs.
        listed = await client.get("/v1/patients", headers=other)
        assert listed.status_code == 200 and listed.json()["items"] == []
        for path in ("/v1/reviews/performance", "/v1/clinic/thresholds"):
            theirs = await client.get(path, headers=other)
            assert theirs.status_code == 200 and theirs.json() == []
        # Nothing to adopt without confirmed cases: a reason, not a threshold.
        nothing = await client.post(
            "/v1/clinic/thresholds",
            json={"model_name": "m", "model_version": "1"},
            headers=app.admin_headers,
        )
        assert nothing.status_code == 404 and "no confirmed case" in nothing.json()["error"]

    _with_app(scenario)


def test_patients_are_searched_paged_exported_and_erased_over_rest() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        for name in ("Ana One", "Ben Two", "Cy Three"):
            created = await client.post(
                "/v1/patients", json={"name": name, "sex": "unknown"}, headers=app.key_headers
            )
            assert created.status_code == 201
        page = (await client.get("/v1/patients?limit=2", headers=app.key_headers)).json()
        assert [p["name"] for p in page["items"]] == ["Cy Three", "Ben Two"] and page["next_cursor"]
        rest = (
            await client.get(
                "/v1/patients",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers=app.key_headers,
            )
        ).json()
        assert [p["name"] for p in rest["items"]] == ["Ana One"] and rest["next_cursor"] is None
        found = (await client.get("/v1/patients?name=ben%20two", headers=app.key_headers)).json()
        assert [p["name"] for p in found["items"]] == ["Ben Two"]
        bad = await client.post(
            "/v1/patients", json={"name": "X", "sex": "robot"}, headers=app.key_headers
        )
        assert bad.status_code == 400
        pid = found["items"][0]["id"]
        exported = await client.get(f"/v1/patients/{pid}/export", headers=app.admin_headers)
        assert exported.json()["patient"]["name"] == "Ben Two"
        erased = await client.delete(f"/v1/patients/{pid}", headers=app.admin_headers)
        assert erased.status_code == 204
        assert (
            await client.get(f"/v1/patients/{pid}", headers=app.admin_headers)
        ).status_code == 404
        clinic = await client.patch(
            "/v1/clinic",
            json={"keep_images": True, "image_retention_days": 30},
            headers=app.admin_headers,
        )
        assert clinic.json()["keep_images"] is True

    _with_app(scenario)


def test_the_openapi_page_documents_records_and_fhir() -> None:
    async def scenario(app: GatewayApp) -> dict[str, Any]:
        return app.app.openapi()

    document = _with_app(scenario)
    paths = document["paths"]
    for path in (
        "/v1/patients",
        "/v1/patients/{patient_id}/lesions",
        "/v1/lesions/{lesion_id}/analyses",
        "/v1/records/analyses/{analysis_id}/fhir",
        "/v1/reviews/{review_id}/decision",
    ):
        assert path in paths
    assert "application/fhir+json" in str(paths["/v1/records/analyses/{analysis_id}/fhir"])


def test_every_closed_rest_route_refuses_missing_expired_forged_and_revoked_credentials() -> None:
    """Enumerated from the OpenAPI document, so a route added later is covered without editing this."""
    import re
    from datetime import timedelta

    from gateway.database.schema import utc_now

    open_routes = {"/v1/auth/token", "/v1/auth/logout", "/healthz"}

    async def scenario(app: GatewayApp) -> int:
        admin = app.admin
        expired = app.accounts.tokens.issue(
            admin.id, admin.clinic_id, "admin", utc_now() - timedelta(hours=2)
        )
        forged = AccessTokens(b"f" * 32, timedelta(minutes=15)).issue(
            admin.id, admin.clinic_id, "admin", utc_now()
        )
        key, revoked = await app.accounts.create_api_key(admin, "to revoke", "admin")
        await app.accounts.revoke_api_key(admin, key.id)
        credentials = {
            "none": {},
            "expired token": {"Authorization": f"Bearer {expired}"},
            "forged signature": {"Authorization": f"Bearer {forged}"},
            "revoked API key": {"Authorization": f"Bearer {revoked}"},
        }
        checked = 0
        for template, operations in app.app.openapi()["paths"].items():
            if template in open_routes:
                continue
            path = re.sub(r"\{[^}]+\}", "0" * 32, template)
            for method in operations:
                for label, headers in credentials.items():
                    response = await app.client.request(method.upper(), path, headers=headers)
                    assert response.status_code == 401, (method, template, label)
                    assert list(response.json()) == ["error"]
                    checked += 1
        return checked

    assert _with_app(scenario) >= 4 * 25  # every closed operation of the API


def test_an_admin_sets_the_audit_share_over_rest_within_bounds() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        assert (await client.get("/v1/clinic", headers=app.admin_headers)).json()[
            "audit_share"
        ] == 0.0
        for wrong in (1.5, -0.2):
            refused = await client.patch(
                "/v1/clinic", json={"audit_share": wrong}, headers=app.admin_headers
            )
            assert refused.status_code == 400, refused.text
            assert "audit_share must be between 0" in refused.json()["error"]
        forbidden = await client.patch(
            "/v1/clinic", json={"audit_share": 0.1}, headers=app.key_headers
        )
        assert forbidden.status_code == 403
        changed = await client.patch(
            "/v1/clinic", json={"audit_share": 0.1}, headers=app.admin_headers
        )
        assert changed.status_code == 200 and changed.json()["audit_share"] == 0.1

    _with_app(scenario)
