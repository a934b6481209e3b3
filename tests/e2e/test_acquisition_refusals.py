"""The served default model's acquisition gate, end to end: `skinscan up` with models/.

A phone photograph of a lesion (no dermatoscope) is refused with its own code and words
over REST, gRPC, the CLI and the web app (a GP on a phone, in a real browser), and its PDF
report says why there is no result; a photograph
of something else is refused as no picture of skin; dermoscopy from each institution of
acral/ passes the gate. The images are real ones from ../shared/data that the gate never
trained on (its own validation and test splits, gate_split.csv).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from skinscan import Client
from skinscan_model.acquisition import CLINICAL_PHOTOGRAPH, NOT_SKIN
from skinscan_model.store import DEFAULT_MODEL_NAME, LocalModelStore
from tests.browser.conftest import PHONE, launch_chromium, new_page
from tests.browser.pages import Walk
from tests.conftest import ROOT
from tests.processes import SkinscanUp
from trainer.data.acquisition_data import GATE_SPLIT_FILE

pytestmark = pytest.mark.e2e

ACQUISITION_CODES = {CLINICAL_PHOTOGRAPH, NOT_SKIN}
CLINICIAN = ("gp.phone", "clinician-password-1")


@dataclass(frozen=True)
class Served:
    grpc_target: str
    rest_url: str
    env: dict[str, str]
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self) -> Client:
        return Client(self.grpc_target, api_key=self.api_key)


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    up = SkinscanUp.first_start(
        ROOT / "models", DEFAULT_MODEL_NAME, redis_url, tmp_path_factory.mktemp("state")
    )
    up.start(timeout_s=180)
    with Client(up.grpc_target) as admin:
        admin.login("admin", up.admin_password)
        _, api_key = admin.create_api_key("acquisition e2e", "clinician")
        admin.create_user(*CLINICIAN, "clinician")
    yield Served(up.grpc_target, up.rest_url, {**up.env, "SKINSCAN_API_KEY": api_key}, api_key)
    up.stop()


def _held_out(acral: Path, not_dermoscopy_data: Path) -> dict[tuple[str, str], list[Path]]:
    """(kind, source) -> the served version's never-trained-on gate images, in split order."""
    version = LocalModelStore(ROOT / "models").fetch(DEFAULT_MODEL_NAME)
    roots = {"acral": acral, "not-dermoscopy": not_dermoscopy_data}
    found: dict[tuple[str, str], list[Path]] = {}
    with (version.path / GATE_SPLIT_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            root = roots.get(Path(row["root"]).name)
            if row["split"] == "train" or root is None:
                continue
            found.setdefault((row["kind"], row["source"]), []).append(root / row["path"])
    return found


@pytest.fixture(scope="module")
def held_out(acral: Path, not_dermoscopy_data: Path) -> dict[tuple[str, str], list[Path]]:
    return _held_out(acral, not_dermoscopy_data)


def _refusal_codes(body: dict) -> set[str]:
    return {f["code"] for f in body["findings"] if f["severity"] == "refusal"}


def _analyse_over_rest(served: Served, image: Path) -> dict:
    response = httpx.post(
        f"{served.rest_url}/v1/analyses",
        files={"image": (image.name, image.read_bytes())},
        headers=served.headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def _first_refused(served: Served, images: list[Path], code: str) -> tuple[Path, dict]:
    """The first image the served gate refuses with `code`; the gate's rates are the card's
    business, these tests follow one refusal through every door."""
    for image in images:
        body = _analyse_over_rest(served, image)
        if code in _refusal_codes(body):
            return image, body
    raise AssertionError(f"none of {len(images)} images refused with {code}")


def test_a_phone_photo_of_a_lesion_is_refused_as_such_everywhere(
    served: Served, held_out: dict[tuple[str, str], list[Path]], tmp_path: Path
) -> None:
    photos = held_out[("clinical", "clinical/sd198")]
    image, body = _first_refused(served, photos, CLINICAL_PHOTOGRAPH)
    assert body["assessable"] is False
    assert not {"label", "probabilities", "malignant_probability"} & set(body)
    finding = next(f for f in body["findings"] if f["code"] == CLINICAL_PHOTOGRAPH)
    assert "dermatoscope" in finding["reason"]
    assert "dermatologist" in body["disclaimer"] and body["model"]["name"] == DEFAULT_MODEL_NAME

    with served.client() as client:
        analysis = client.analyze(image.read_bytes())
        assert not analysis.assessable and analysis.label == ""
        assert CLINICAL_PHOTOGRAPH in {f.code for f in analysis.refusals}
        # On record, its PDF report says why there is no result.
        patient = client.create_patient("Ada Lovelace", "female")
        lesion = client.create_lesion(patient.id, "upper_extremity", "right forearm")
        recorded = client.analyze_lesion(lesion.id, image)
    assert not recorded.analysis.assessable
    answer = httpx.get(
        f"{served.rest_url}/v1/analyses/{recorded.id}/report.pdf",
        headers=served.headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    text = " ".join(PdfReader(io.BytesIO(answer.content)).pages[0].extract_text().split())
    assert "Cannot be assessed" in text and "Taken without a dermatoscope" in text

    # The CLI, as a person reads it and as a script does.
    for extra in ((), ("--json",)):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "skinscan_cli",
                "analyze",
                *extra,
                "--target",
                served.grpc_target,
                str(image),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=served.env,
        )
        assert result.returncode == 0, result.stderr
        if extra:
            printed = json.loads(result.stdout.strip().splitlines()[-1])
            assert CLINICAL_PHOTOGRAPH in _refusal_codes(printed)
        else:
            assert "without a dermatoscope" in result.stdout, result.stdout


def test_a_photograph_of_something_else_is_refused_as_no_picture_of_skin(
    served: Served, held_out: dict[tuple[str, str], list[Path]]
) -> None:
    photos = held_out[("everyday", "everyday/imagenet-samples")]
    image, body = _first_refused(served, photos, NOT_SKIN)
    assert body["assessable"] is False
    finding = next(f for f in body["findings"] if f["code"] == NOT_SKIN)
    assert "skin" in finding["reason"]
    with served.client() as client:
        assert NOT_SKIN in {f.code for f in client.analyze(image.read_bytes()).refusals}


def test_dermoscopy_from_each_institution_passes_the_gate(
    served: Served, held_out: dict[tuple[str, str], list[Path]]
) -> None:
    institutions = [
        source for kind, source in held_out if kind == "dermoscopy" and source.startswith("acral")
    ]
    assert len(institutions) >= 3
    for institution in institutions:
        for image in held_out[("dermoscopy", institution)][:3]:
            body = _analyse_over_rest(served, image)
            assert not _refusal_codes(body) & ACQUISITION_CODES, (institution, image, body)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


def test_a_gp_on_a_phone_sees_both_refusals_in_the_web_app(
    served: Served,
    held_out: dict[tuple[str, str], list[Path]],
    browser: Browser,
    tmp_path: Path,
) -> None:
    photo, _ = _first_refused(served, held_out[("clinical", "clinical/sd198")], CLINICAL_PHOTOGRAPH)
    everyday, _ = _first_refused(
        served, held_out[("everyday", "everyday/imagenet-samples")], NOT_SKIN
    )
    with served.client() as client:
        patient = client.create_patient("Grace Hopper", "female")
        lesion = client.create_lesion(patient.id, "back", "new mole")
    context, page = new_page(browser, served.rest_url, PHONE)
    walk = Walk(page, tmp_path, "acquisition")
    walk.sign_in(*CLINICIAN)
    for image, title, words in (
        (photo, "Taken without a dermatoscope", "dermatoscope"),
        (everyday, "Not a picture of skin", "skin"),
    ):
        page.goto(f"/lesions/{lesion.id}")
        walk.analyze(image, title)
        expect(page.locator("#prediction")).to_have_text("Cannot be assessed")
        refusal = page.locator(".findings .refusal")
        expect(refusal.first).to_contain_text(title)
        expect(refusal.first).to_contain_text(words)
        expect(page.locator("table.probabilities")).to_have_count(0)
        expect(page.locator("#disclaimer")).to_contain_text("not a substitute for a dermatologist")
        expect(page.locator("#model")).to_contain_text(DEFAULT_MODEL_NAME)
        walk.step(f"{title}: result")
    context.close()
