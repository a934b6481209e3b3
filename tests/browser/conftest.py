"""The web app in a real browser: Debian's chromium driven by Playwright, on the real system.

`skinscan up` serves the session's test model (trained on real images, with
a diagnosis head, heat maps and the out-of-distribution check, like the
released model) from a fresh state folder; each test signs in as the users it
needs.
Screenshots of each step go to test-artifacts/browser/ (not committed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from tests.conftest import IN_CI, ROOT, TEST_MODEL_NAME
from tests.processes import SkinscanUp

ARTIFACTS = ROOT / "test-artifacts" / "browser"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
# As the machine's notes advise for a closed network: no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class WebSystem:
    url: str
    admin_password: str
    clinician_password: str = "clinician-password-1"
    dermatologist_password: str = "dermatologist-password-1"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# Per module: Playwright's sync API holds an event loop while it runs, and the
# tests after these start their own with asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright (skipped, or failed in CI, where it is missing)."""
    path = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Per module too: its job workers share the tests' Redis database, and must be
# gone before other tests' workers count on the job queue being theirs.
@pytest.fixture(scope="module")
def web(
    model_repository: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebSystem]:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    system = SkinscanUp.first_start(
        model_repository, TEST_MODEL_NAME, redis_url, tmp_path_factory.mktemp("web-state")
    )
    system.start()
    web = WebSystem(system.rest_url, system.admin_password)
    _staff_the_clinic(web)
    yield web
    system.stop()


def _staff_the_clinic(web: WebSystem) -> None:
    """A clinician and a dermatologist, and images kept: through the REST API, so each
    test stands alone (the admin's own walk through the web app adds others)."""
    with httpx.Client(base_url=web.url, timeout=30) as rest:
        token = (
            rest.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "admin",
                    "password": web.admin_password,
                },
            )
            .raise_for_status()
            .json()["access_token"]
        )
        headers = {"Authorization": f"Bearer {token}"}
        for username, password, role in (
            ("gp.smith", web.clinician_password, "clinician"),
            ("derm.jones", web.dermatologist_password, "dermatologist"),
        ):
            rest.post(
                "/v1/users",
                json={"username": username, "password": password, "role": role},
                headers=headers,
            ).raise_for_status()
        rest.patch("/v1/clinic", json={"keep_images": True}, headers=headers).raise_for_status()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def new_page(
    browser: Browser, base_url: str, viewport: ViewportSize
) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (no cookies) at `viewport`, phone-like when narrow."""
    phone = viewport["width"] < 600
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        accept_downloads=True,
    )
    context.set_default_timeout(30_000)
    return context, context.new_page()
