"""Steps a person takes in the web app, each checked with axe-core and kept as a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

_AXE = Axe()


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A and AA violations on the page, one line each."""
    results = _AXE.run(
        page,
        options={
            "resultTypes": ["violations"],
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        },
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
    ]


class Walk:
    """One person's walk through the app: `step` screenshots and checks every page seen."""

    def __init__(self, page: Page, artifacts: Path, name: str) -> None:
        self.page = page
        self.artifacts = artifacts
        self.name = name
        self.count = 0

    def step(self, label: str, check_access: bool = True) -> None:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        self.page.screenshot(
            path=str(self.artifacts / f"{self.name}-{self.count:02d}-{slug}.png"), full_page=True
        )
        if check_access:
            problems = axe_violations(self.page)
            assert not problems, f"axe-core on '{label}' ({self.page.url}):\n" + "\n".join(problems)

    def sign_in(self, username: str, password: str) -> None:
        page = self.page
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/signin$"))
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(password)
        self.step(f"sign in as {username}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page).to_have_url(re.compile(r"/signin$"))

    def analyze(self, image: Path, label: str) -> None:
        """Chooses `image`, sees its preview and the progress state, and waits for the result page."""
        page = self.page
        page.locator("#image").set_input_files(str(image))
        expect(page.locator("[data-preview-image]")).to_be_visible()
        expect(page.get_by_role("button", name="New Image")).to_be_visible()
        self.step(f"{label}: preview")
        # The first submit is held in the page (the analysis is too quick to see its
        # progress state otherwise); then the form is sent for real.
        form = page.locator("form[data-capture]")
        form.evaluate(
            "form => form.addEventListener('submit', e => e.preventDefault(), {once: true})"
        )
        page.get_by_role("button", name="Analyze Image").click()
        expect(page.locator("[data-progress]")).to_be_visible()
        expect(page.get_by_role("button", name="Analyze Image")).to_be_disabled()
        self.step(f"{label}: analysing", check_access=False)
        form.evaluate("form => setTimeout(() => form.submit(), 0)")
        expect(page).to_have_url(re.compile(r"/analyses/[0-9a-f-]+$"), timeout=60_000)
