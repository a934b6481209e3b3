"""Takes the README's screenshots of the web app's result page (phone and desktop).

Run against a fresh `skinscan up` (the default model), with its printed admin password:

    .venv/bin/python tools/readme_screenshots.py --url http://127.0.0.1:8080 \\
        --admin-password '...' --image ../shared/data/isic-binary/train/malignant/<name>.jpg

It keeps images for the clinic, adds a clinician, analyses the image as them
and saves docs/images/web-result-{phone,desktop}.png, with the model version they show in
docs/images/screenshots.json (the docs check compares it with the version `make run` serves).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CLINICIAN = ("dr.example", "example clinician password")
SHOWN_FILE = "screenshots.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    options = parser.parse_args()
    with httpx.Client(base_url=options.url) as rest:
        token = (
            rest.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "admin",
                    "password": options.admin_password,
                },
            )
            .raise_for_status()
            .json()["access_token"]
        )
        headers = {"Authorization": f"Bearer {token}"}
        rest.patch("/v1/clinic", json={"keep_images": True}, headers=headers).raise_for_status()
        added = rest.post(
            "/v1/users",
            json={"username": CLINICIAN[0], "password": CLINICIAN[1], "role": "clinician"},
            headers=headers,
        )
        if added.status_code != 409:  # 409: added by an earlier run
            added.raise_for_status()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=options.chromium, args=ARGS)
        result_url = ""
        for screen, viewport, scale in (
            ("desktop", {"width": 1440, "height": 900}, 1),
            ("phone", {"width": 390, "height": 844}, 1),
        ):
            context = browser.new_context(
                base_url=options.url, viewport=viewport, device_scale_factor=scale
            )
            page = context.new_page()
            page.goto("/signin")
            page.get_by_label("User name").fill(CLINICIAN[0])
            page.get_by_label("Password").fill(CLINICIAN[1])
            page.get_by_role("button", name="Sign in").click()
            if not result_url:
                form = page.locator("form[action='/patients']")
                form.get_by_label("Full name").fill("Jane Example")
                form.get_by_label("or age in years").fill("47")
                form.get_by_label("Sex").select_option("female")
                form.get_by_role("button", name="Create patient").click()
                page.get_by_label("Body site").select_option("back")
                page.get_by_role("button", name="Add lesion").click()
                page.locator("#image").set_input_files(str(options.image))
                page.get_by_role("button", name="Analyze Image").click()
                expect(page).to_have_url(re.compile(r"/analyses/"), timeout=60_000)
                result_url = page.url
            else:
                page.goto(result_url)
            expect(page.locator("#prediction")).to_be_visible()
            shown = page.locator("#model").inner_text()
            page.screenshot(path=str(OUT / f"web-result-{screen}.png"), full_page=True)
            context.close()
        browser.close()
    name, version = re.search(r"Model (\S+), version (\S+)", shown).groups()  # type: ignore[union-attr]
    (OUT / SHOWN_FILE).write_text(json.dumps({"model": name, "version": version}) + "\n")
    print(f"saved {OUT}/web-result-desktop.png and web-result-phone.png ({name} {version})")


if __name__ == "__main__":
    main()
