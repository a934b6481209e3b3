"""The account routes over REST: OAuth 2.0 grants, users, API keys, audit, roles, limits."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from gateway.accounts.limits import LimitSettings
from tests.conftest import free_port
from tests.gateway_app import ADMIN_PASSWORD, GatewayApp, gateway_app


def _with_app(
    scenario: Callable[[GatewayApp], Awaitable[Any]], limits: LimitSettings | None = None
) -> Any:
    async def run() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            async with gateway_app(Path(folder), f"127.0.0.1:{free_port()}", 1000, limits) as app:
                return await scenario(app)

    return asyncio.run(run())


async def _sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_password_and_refresh_grants_rotate_tokens_and_logout_ends_them() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        response = await _sign_in(client, "admin", ADMIN_PASSWORD)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        tokens = response.json()
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
        me = await client.get("/v1/me", headers=_bearer(tokens["access_token"]))
        assert me.json()["role"] == "admin" and me.json()["kind"] == "user"

        renewed = await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert renewed.status_code == 200
        again = await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert again.status_code == 401  # reuse of a spent refresh token

        fresh = (await _sign_in(client, "admin", ADMIN_PASSWORD)).json()
        out = await client.post("/v1/auth/logout", data={"refresh_token": fresh["refresh_token"]})
        assert out.status_code == 204
        after = await client.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
        )
        assert after.status_code == 401
        wrong = await _sign_in(client, "admin", "not the password")
        assert wrong.status_code == 401 and wrong.json() == {
            "error": "the user name or password is not right"
        }
        bad_grant = await client.post("/v1/auth/token", data={"grant_type": "client_credentials"})
        assert bad_grant.status_code == 400

    _with_app(scenario)


def test_admins_manage_users_and_keys_and_others_get_403() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        created = await client.post(
            "/v1/users",
            json={"username": "Dr.Lee", "password": "a long passphrase", "role": "clinician"},
            headers=app.admin_headers,
        )
        assert created.status_code == 201, created.text
        assert created.json()["username"] == "dr.lee" and "password" not in created.text
        taken = await client.post(
            "/v1/users",
            json={"username": "dr.lee", "password": "a long passphrase", "role": "clinician"},
            headers=app.admin_headers,
        )
        assert taken.status_code == 409
        short = await client.post(
            "/v1/users",
            json={"username": "dr.x", "password": "short", "role": "clinician"},
            headers=app.admin_headers,
        )
        assert short.status_code == 400 and "12 characters" in short.json()["error"]

        key = await client.post(
            "/v1/api-keys", json={"name": "app", "role": "clinician"}, headers=app.admin_headers
        )
        assert key.status_code == 201 and key.json()["secret"].startswith("sks_")
        listed = (await client.get("/v1/api-keys", headers=app.admin_headers)).json()
        assert key.json()["secret"] not in str(listed) and len(listed) == 2

        clinician = (await _sign_in(client, "dr.lee", "a long passphrase")).json()
        for method, path, body in [
            ("GET", "/v1/users", None),
            ("POST", "/v1/users", {"username": "x.y.z", "password": "a" * 12, "role": "admin"}),
            ("GET", "/v1/api-keys", None),
            ("POST", "/v1/api-keys", {"name": "k", "role": "admin"}),
            ("DELETE", f"/v1/api-keys/{key.json()['api_key']['id']}", None),
            ("GET", "/v1/audit-events", None),
        ]:
            for headers in (_bearer(clinician["access_token"]), app.key_headers):
                response = await client.request(method, path, json=body, headers=headers)
                assert response.status_code == 403, (method, path, response.text)
                assert response.json() == {"error": "your account may not do this"}

        revoked = await client.delete(
            f"/v1/api-keys/{key.json()['api_key']['id']}", headers=app.admin_headers
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        gone = await client.get("/v1/me", headers=_bearer(key.json()["secret"]))
        assert gone.status_code == 401

        user_id = created.json()["id"]
        disabled = await client.post(f"/v1/users/{user_id}/disable", headers=app.admin_headers)
        assert disabled.json()["disabled"] is True
        refused = await client.get("/v1/me", headers=_bearer(clinician["access_token"]))
        assert refused.status_code == 401

        events = (await client.get("/v1/audit-events?limit=50", headers=app.admin_headers)).json()
        actions = {e["action"] for e in events}
        # Each refusal above is on record, against who was refused.
        refusals = [e for e in events if e["action"] == "access" and e["outcome"] == "denied"]
        assert {e["actor"].split(":")[0] for e in refusals} == {"user", "api_key"}
        assert {"user.create", "api_key.create", "api_key.revoke", "user.disable"} <= actions
        assert "dr.lee" not in str(events)

    _with_app(scenario)


def test_a_caller_over_its_rate_gets_429_with_retry_after() -> None:
    async def scenario(app: GatewayApp) -> None:
        statuses = [(await app.client.get("/v1/me", headers=app.key_headers)) for _ in range(5)]
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        limited = statuses[-1]
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "too many requests" in limited.json()["error"]

    _with_app(scenario, LimitSettings(requests_per_minute=6, burst=3))


def test_password_change_over_rest_ends_other_sign_ins() -> None:
    async def scenario(app: GatewayApp) -> None:
        client = app.client
        old = (await _sign_in(client, "admin", ADMIN_PASSWORD)).json()
        changed = await client.post(
            "/v1/me/password",
            json={"current_password": ADMIN_PASSWORD, "new_password": "an even longer one"},
            headers=_bearer(old["access_token"]),
        )
        assert changed.status_code == 200
        assert (await client.get("/v1/me", headers=_bearer(old["access_token"]))).status_code == 401
        new = changed.json()["access_token"]
        assert (await client.get("/v1/me", headers=_bearer(new))).status_code == 200

    _with_app(scenario)
