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


def test_every_web_page_without_a_session_sends_to_sign_in_and_shows_nothing() -> None:
    """Enumerated from the app's own routes (the pages are outside the OpenAPI document),
    so a page added later is covered; forged, expired and foreign cookies read as none."""
    from fastapi.routing import APIRoute

    # Public by design: sign-in, the API docs, and the installable app's manifest, service
    # worker and offline page (the same for everyone, no data).
    open_paths = {
        "/signin",
        "/healthz",
        "/openapi.json",
        "/docs",
        "/manifest.webmanifest",
        "/sw.js",
        "/offline",
    }

    def routes(container: Any) -> list[Any]:
        # FastAPI 0.16x keeps an included router whole (`original_router`); the web
        # pages are included without a prefix, so their paths are the served ones.
        found = []
        for route in container.routes:
            inner = getattr(route, "original_router", None)
            found += routes(inner) if inner is not None else [route]
        return found

    async def scenario(app: GatewayApp, browser: httpx.AsyncClient) -> None:
        pages = [
            (method, route.path)
            for route in routes(app.app)
            if isinstance(route, APIRoute) and not route.include_in_schema
            for method in route.methods or ()
            if route.path not in open_paths and not route.path.startswith(("/static", "/assets"))
        ]
        assert len(pages) >= 10, pages
        cookies = [
            {},
            {"skinscan_access": "not.a.token", "skinscan_refresh": "nothing"},
            {"skinscan_access": "e" * 200},
        ]
        print(f"web pages without a session: {len(pages)} method-paths x {len(cookies)} cookies")
        for method, path in pages:
            concrete = re.sub(r"\{[^}]+\}", "0" * 32, path)
            for jar in cookies:
                browser.cookies.clear()
                for name, value in jar.items():
                    browser.cookies.set(name, value, domain="gateway")
                answer = await browser.request(method, concrete)
                assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
                if answer.status_code == 303:
                    assert answer.headers["location"] == "/signin", (method, path)

    _with_app(scenario)
