"""The web app's sessions over the real app in process: cookies, renewal, sign-out and CSRF."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.gateway_app import ADMIN_PASSWORD, GatewayApp, gateway_app

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _with_app(scenario: Any) -> Any:
    async def run() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            async with (
                gateway_app(Path(folder), f"127.0.0.1:{free_port()}", 10_000) as app,
                # https: the session cookies are Secure, so a client sends them over TLS only.
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app.app), base_url="https://gateway"
                ) as browser,
            ):
                return await scenario(app, browser)

    return asyncio.run(run())


async def _csrf(browser: httpx.AsyncClient, path: str = "/signin") -> str:
    page = await browser.get(path)
    found = TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


async def _sign_in(browser: httpx.AsyncClient, password: str = ADMIN_PASSWORD) -> httpx.Response:
    token = await _csrf(browser)
    return await browser.post(
        "/signin", data={"username": "admin", "password": password, "csrf_token": token}
    )


def test_a_session_is_cookies_that_scripts_cannot_read_and_renews_itself() -> None:
    async def scenario(app: GatewayApp, browser: httpx.AsyncClient) -> None:
        assert (await browser.get("/patients")).headers["location"] == "/signin"
        wrong = await _sign_in(browser, "not the password")
        assert wrong.status_code == 401 and "not right" in wrong.text
        signed_in = await _sign_in(browser)
        assert signed_in.status_code == 303
        set_cookies = signed_in.headers.get_list("set-cookie")
        assert {c.split("=")[0] for c in set_cookies} == {
            "skinscan_access",
            "skinscan_refresh",
            "skinscan_csrf",
        }
        for cookie in set_cookies:
            assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
        page = await browser.get("/patients")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "script-src 'self';" in page.headers["content-security-policy"]

        # An expired access token: a page load renews both tokens from the refresh token...
        old_refresh = browser.cookies["skinscan_refresh"]
        browser.cookies.set("skinscan_access", "expired", domain="gateway.local")
        renewed = await browser.get("/patients")
        assert renewed.status_code == 200
        assert browser.cookies["skinscan_access"] != "expired"
        assert browser.cookies["skinscan_refresh"] != old_refresh
        # ...but a picture does not (pictures load in parallel; one renewal per page).
        browser.cookies.set("skinscan_access", "expired", domain="gateway.local")
        picture = await browser.get("/analyses/unknown/image.jpg")
        assert picture.status_code == 303 and picture.headers["location"] == "/signin"

        # The JSON API never takes the session cookie, except for the report download (a GET).
        await _sign_in(browser)
        assert (await browser.get("/v1/patients")).status_code == 401
        report = await browser.get("/v1/analyses/unknown/report.pdf")
        assert report.status_code == 404, report.text

        # An unknown record is a page saying so, not JSON.
        missing = await browser.get("/patients/unknown")
        assert missing.status_code == 404 and "No such patient" not in missing.text
        assert "no patient unknown" in missing.text.lower()

        # Sign-out revokes the refresh token: the old cookies lead to the sign-in page.
        cookies = dict(browser.cookies)
        token = await _csrf(browser, "/patients")
        assert (await browser.post("/signout", data={"csrf_token": token})).status_code == 303
        browser.cookies.clear()
        for name, value in cookies.items():
            browser.cookies.set(name, value, domain="gateway.local")
        browser.cookies.set("skinscan_access", "expired", domain="gateway.local")
        assert (await browser.get("/patients")).headers["location"] == "/signin"

    _with_app(scenario)


def test_a_form_without_its_token_changes_nothing() -> None:
    async def scenario(app: GatewayApp, browser: httpx.AsyncClient) -> None:
        await _sign_in(browser)
        token = await _csrf(browser, "/patients")
        for data in ({"name": "Forged"}, {"name": "Forged", "csrf_token": "f" * 64}):
            answer = await browser.post("/patients", data=data)
            assert answer.status_code == 403 and "reload the page" in answer.text
        cross_site = await browser.post(
            "/patients",
            data={"name": "Forged", "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert cross_site.status_code == 403
        # A token of another browser's cookie does not fit this one's.
        browser.cookies.set("skinscan_csrf", "another-browser", domain="gateway.local")
        assert (
            await browser.post("/patients", data={"name": "Forged", "csrf_token": token})
        ).status_code == 403
        assert (await app.records.patients.search(app.admin)).items == []

    _with_app(scenario)
