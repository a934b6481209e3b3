"""What a person reads about analyses: the model's record on confirmed cases, a lesion's
follow-up, and the PDF report, over a real SQLite records database."""

from __future__ import annotations

import asyncio
import io
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from gateway.database.schema import AnalysisRecord, new_id, utc_now
from gateway.reports.content import gather
from gateway.reports.pdf import report_pdf
from gateway.surveillance.statistics import Rate
from gateway.web.follow_up import follow_up
from skinscan.analysis import (
    Analysis,
    CropBox,
    Diagnosis,
    Finding,
    HeatMap,
    ModelRef,
    Severity,
)
from tests.conftest import free_port
from tests.gateway_app import GatewayApp, gateway_app


def _heatmap() -> HeatMap:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((32, 32)).save(buffer, "PNG")
    return HeatMap(buffer.getvalue(), CropBox(8, 0, 48, 48))


def _analysis(label: str, malignant: float, version: str = "1") -> Analysis:
    model = ModelRef("skinscan-resnet50", version)
    if label == "not_assessable":
        refusal = Finding("blurred", Severity.REFUSAL, "the image is out of focus", 1.0)
        return Analysis("r", model, assessable=False, findings=(refusal,))
    return Analysis(
        "r",
        model,
        assessable=True,
        label=label,
        probabilities={"benign": 1 - malignant, "malignant": malignant},
        malignant_probability=malignant,
        decision_threshold=0.3,
        heatmap=_heatmap(),
        diagnosis=Diagnosis(
            "bcc", "Basal cell carcinoma", True, {"bcc": 0.6, "nv": 0.3, "mel": 0.1}
        ),
    )


async def _recorded_analysis(
    app: GatewayApp, lesion_id: str, patient_id: str, analysis: Analysis, minutes: int = 0
) -> str:
    """A recorded analysis as the analysis service would have left it (no inference here)."""
    row = AnalysisRecord(
        id=new_id(),
        clinic_id=app.admin.clinic_id,
        lesion_id=lesion_id,
        patient_id=patient_id,
        image_sha256="0" * 64,
        created_at=utc_now() + timedelta(minutes=minutes),
        created_by=app.admin.actor,
        model_name=analysis.model.name,
        model_version=analysis.model.version,
        assessable=analysis.assessable,
        label=analysis.label if analysis.assessable else "not_assessable",
        malignant_probability=analysis.malignant_probability if analysis.assessable else None,
        result=analysis.to_dict(),
    )
    async with app.records.analyses.database.transaction() as session:
        session.add(row)
    return row.id


def _with_app(scenario: Any) -> Any:
    async def run() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            async with gateway_app(Path(folder), f"127.0.0.1:{free_port()}", 10_000) as app:
                return await scenario(app)

    return asyncio.run(run())


def test_wilson_intervals_match_published_values() -> None:
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; Wilson for 8/10 -> 0.4902 to 0.9433.
    assert Rate(81, 263).interval == pytest.approx((0.2553, 0.3662), abs=5e-4)
    assert Rate(8, 10).interval == pytest.approx((0.4902, 0.9433), abs=5e-4)
    assert Rate(0, 10).interval == pytest.approx((0.0, 0.2775), abs=5e-4)
    assert Rate(0, 0).interval is None and Rate(0, 0).value is None


def test_confirmed_cases_score_each_model_version() -> None:
    async def scenario(app: GatewayApp) -> None:
        records, admin = app.records, app.admin
        patient = await records.patients.create(admin, "Ada Lovelace", "female")
        lesion = await records.lesions.create(admin, patient.id, "back")
        await app.accounts.create_user(admin, "derm.x", "dermatologist pw", "dermatologist")
        derm = await app.accounts.authenticate(
            (await app.accounts.login("derm.x", "dermatologist pw")).access_token
        )
        # (what the model said, what the dermatologist confirmed, model version)
        cases = [
            ("malignant", "mel", "1"),  # true positive
            ("benign", "bcc", "1"),  # missed
            ("benign", "nv", "1"),  # true negative
            ("malignant", "nv", "1"),  # false alarm
            ("not_assessable", "nv", "1"),
            ("malignant", "akiec", "2"),
        ]
        for index, (label, truth, version) in enumerate(cases):
            analysis_id = await _recorded_analysis(
                app, lesion.id, patient.id, _analysis(label, 0.6, version), index
            )
            review = await records.reviews.request(admin, analysis_id, "please look")
            await records.reviews.decide(derm, review.id, truth, "histopathology")
        # A second review of the missed case corrects it to benign: the latest counts.
        missed = (await records.analyses.search(admin, label="benign")).items[-1]
        again = await records.reviews.request(admin, missed.id)
        await records.reviews.decide(derm, again.id, "df", "expert_consensus")

        first, second = await records.thresholds.performance(admin)
        assert (first.model_version, second.model_version) == ("1", "2")
        # Every case here was chosen by a clinician: none is an audit case.
        assert first.audit.confirmed == 0 and first.chosen == first.recorded
        chosen = first.chosen
        assert (chosen.true_positives, chosen.false_negatives) == (1, 0)
        assert (chosen.true_negatives, chosen.false_positives) == (2, 1)
        assert chosen.not_assessable == 1 and chosen.confirmed == 5
        assert chosen.sensitivity.value == 1.0
        assert chosen.specificity.value == pytest.approx(2 / 3)
        assert (second.chosen.true_positives, second.chosen.specificity.total) == (1, 0)

        answer = await app.client.get("/v1/reviews/performance", headers=app.key_headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [m["model_version"] for m in body] == ["1", "2"]
        assert body[0]["specificity"]["hits"] == 2 and body[0]["specificity"]["total"] == 3
        assert (
            body[0]["specificity"]["interval_95"][0]
            < 2 / 3
            < body[0]["specificity"]["interval_95"][1]
        )

    _with_app(scenario)


def test_follow_up_marks_a_rise_in_malignancy_and_a_turn_to_malignant() -> None:
    async def scenario(app: GatewayApp) -> None:
        records, admin = app.records, app.admin
        patient = await records.patients.create(admin, "Ada Lovelace", "female")
        lesion = await records.lesions.create(admin, patient.id, "back")
        for minutes, (label, p) in enumerate(
            [
                ("benign", 0.10),
                ("benign", 0.15),
                ("not_assessable", 0.0),
                ("benign", 0.27),
                ("malignant", 0.31),
            ]
        ):
            await _recorded_analysis(app, lesion.id, patient.id, _analysis(label, p), minutes)
        history = await records.analyses.search(admin, lesion_id=lesion.id)
        entries = follow_up(history.items)  # given newest first, answered oldest first
        changes = [None if e.change is None else round(e.change, 2) for e in entries]
        assert changes == [None, 0.05, None, 0.12, 0.04]
        assert [e.alert for e in entries] == [False, False, False, True, True]

    _with_app(scenario)


def test_the_pdf_report_holds_the_case_and_keeps_markup_as_text() -> None:
    async def scenario(app: GatewayApp) -> None:
        records, admin = app.records, app.admin
        name = "Ann <b>O'Neil</b> & <font size=40>Co</font>"
        patient = await records.patients.create(admin, name, "female", age_years=54)
        lesion = await records.lesions.create(admin, patient.id, "upper_extremity", "<i>x</i>")
        analysis_id = await _recorded_analysis(
            app, lesion.id, patient.id, _analysis("malignant", 0.62)
        )
        content = await gather(records, admin, analysis_id)
        assert content.image is None  # the clinic keeps no images by default
        text = " ".join(
            " ".join(page.extract_text().split())
            for page in PdfReader(io.BytesIO(report_pdf(content, utc_now()))).pages
        )
        for expected in (
            "Test clinic",
            name,
            "Upper extremity",
            "<i>x</i>",
            "Basal cell carcinoma — malignant",
            "62%",
            "skinscan-resnet50, version 1",
            "not a substitute for a dermatologist",
            "The image was not kept",
        ):
            assert expected in text, f"{expected!r} missing from {text!r}"

        refused = await _recorded_analysis(
            app, lesion.id, patient.id, _analysis("not_assessable", 0.0), 1
        )
        answer = await app.client.get(f"/v1/analyses/{refused}/report.pdf", headers=app.key_headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        refused_text = " ".join(
            PdfReader(io.BytesIO(answer.content)).pages[0].extract_text().split()
        )
        assert "Cannot be assessed" in refused_text and "Out of focus" in refused_text
        assert "Basal cell carcinoma" not in refused_text

    _with_app(scenario)
