"""A clinic's own threshold end to end, on the real services and real images: audit cases
drawn, confirmed, measured; a threshold offered only once enough are confirmed; adopted by the
admin alone, cited by every later result of that model version, withdrawn again; every step in
the audit log, and nothing of it seen by another clinic."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pypdf import PdfReader

from gateway.audit import AuditLog
from gateway.database.schema import utc_now
from gateway.reports.content import gather
from gateway.reports.pdf import report_pdf
from gateway.surveillance.statistics import MIN_MALIGNANT
from skinscan.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from skinscan_pipeline.decision import MODEL_THRESHOLD
from tests.integration.test_records import Clinic, clinic  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration

MALIGNANT, BENIGN = MIN_MALIGNANT + 6, 30


def test_a_clinic_adopts_its_own_threshold_from_confirmed_audit_cases(
    clinic: Callable[..., Any],  # noqa: F811
    isic_train: Path,
) -> None:
    malignant = sorted((isic_train / "malignant").glob("*.jpg"))[:MALIGNANT]
    benign = sorted((isic_train / "benign").glob("*.jpg"))[:BENIGN]

    async def scenario(c: Clinic) -> None:
        r = c.records
        thresholds = r.thresholds
        patient = await r.patients.create(c.clinician, "Caroline Herschel", "female")
        lesion = await r.lesions.create(c.clinician, patient.id, "back")
        await r.clinic.update(c.admin, audit_share=1.0)

        async def audit(images: list[Path], diagnosis: str) -> int:
            """Analyses and confirms; how many were assessed (and so drawn, at a share of 1)."""
            assessed = 0
            for image in images:
                recorded = await r.analyses.analyze(c.clinician, lesion.id, image.read_bytes())
                assessed += recorded.analysis.assessable
            queue = await r.reviews.queue(c.dermatologist)
            assert len(queue) == assessed and all(review.audit for review in queue)
            for review in queue:
                await r.reviews.decide(c.dermatologist, review.id, diagnosis, "histopathology")
            return assessed

        # Fewer confirmed malignant audit cases than needed: no threshold, and how many more.
        first_malignant = await audit(malignant[:10], "mel")
        benign_cases = await audit(benign, "nv")
        # A clinician's chosen review stays beside the audit cases, never in them.
        chosen = (await r.analyses.search(c.clinician, lesion_id=lesion.id)).items[0]
        request = await r.reviews.request(c.clinician, chosen.id, "worried")
        await r.reviews.decide(c.dermatologist, request.id, "mel", "follow_up")
        (early,) = await thresholds.performance(c.admin)
        assert early.audit.confirmed == first_malignant + benign_cases
        assert early.chosen.confirmed == 1
        assert early.proposal is not None and early.proposal.threshold is None
        needed = MIN_MALIGNANT - first_malignant
        assert early.proposal.more_malignant_needed == needed
        name, version = early.model_name, early.model_version
        with pytest.raises(InvalidRequestError, match=f"{needed} more malignant"):
            await thresholds.adopt(c.admin, name, version)

        malignant_cases = first_malignant + await audit(malignant[10:], "mel")
        assert malignant_cases >= MIN_MALIGNANT
        (measured,) = await thresholds.performance(c.admin)
        proposal = measured.proposal
        assert proposal is not None and proposal.threshold is not None
        assert measured.audit.sensitivity.total == malignant_cases == proposal.malignant
        assert proposal.sensitivity is not None
        assert proposal.sensitivity.lower_bound is not None
        assert proposal.sensitivity.lower_bound >= proposal.target
        assert measured.threshold_basis == MODEL_THRESHOLD
        assert measured.threshold == measured.model_threshold == proposal.model_threshold

        # Only the clinic's admin adopts; another clinic has nothing to adopt or see.
        with pytest.raises(PermissionDeniedError):
            await thresholds.adopt(c.clinician, name, version)
        with pytest.raises(NotFoundError):
            await thresholds.adopt(c.other_admin, name, version)
        assert await thresholds.performance(c.other_admin) == []
        adopted = await thresholds.adopt(c.admin, name, version)
        assert adopted.threshold == proposal.threshold and adopted.audit_cases == proposal.cases
        assert adopted.basis == (
            f"clinic threshold {proposal.threshold:.3f}, adopted "
            f"{adopted.adopted_at:%Y-%m-%d} from {proposal.cases} audit cases"
        )
        assert await thresholds.history(c.other_admin) == []

        # Later results of that version cite it, and are decided by it.
        later = await r.analyses.analyze(c.clinician, lesion.id, malignant[0].read_bytes())
        assert later.analysis.threshold_basis == adopted.basis
        assert later.analysis.decision_threshold == adopted.threshold
        referred = later.analysis.malignant_probability >= adopted.threshold
        assert later.analysis.label == ("malignant" if referred else "benign")
        assert "the clinic's threshold" in later.analysis.explanation
        # FHIR and the PDF report say which threshold decided, too.
        fhir = await r.analyses.fhir(c.clinician, later.id)
        probability = next(o for o in fhir["contained"] if o["id"] == "malignant-probability")
        assert adopted.basis in probability["referenceRange"][0]["text"]
        pdf = report_pdf(await gather(r, c.clinician, later.id), utc_now())
        text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
        assert adopted.basis in text
        (after,) = await thresholds.performance(c.admin)
        assert after.threshold == adopted.threshold and after.threshold_basis == adopted.basis

        # Withdrawn, the model's own threshold decides again; both stay on record.
        await thresholds.withdraw(c.admin, name, version)
        with pytest.raises(NotFoundError):
            await thresholds.withdraw(c.admin, name, version)
        again = await r.analyses.analyze(c.clinician, lesion.id, malignant[0].read_bytes())
        assert again.analysis.threshold_basis == MODEL_THRESHOLD
        assert again.analysis.decision_threshold == measured.model_threshold
        (history,) = await thresholds.history(c.admin)
        assert history.withdrawn_at is not None and history.withdrawn_by == c.admin.actor

        # What Prometheus sees: the clinic's results by outcome, its audit sensitivity's
        # upper bound against the target (published for every clinic, as the gateway does).
        assert await thresholds.publish_all() == 2
        labels = {"clinic": c.admin.clinic_id, "model": name, "version": version}
        upper = REGISTRY.get_sample_value("skinscan_gateway_clinic_audit_sensitivity_upper", labels)
        interval = measured.audit.sensitivity.interval
        assert interval is not None and upper == pytest.approx(interval[1])
        assert REGISTRY.get_sample_value(
            "skinscan_gateway_clinic_target_sensitivity", labels
        ) == pytest.approx(proposal.target)
        assessed = REGISTRY.get_sample_value(
            "skinscan_gateway_clinic_results_total",
            {"clinic": c.admin.clinic_id, "outcome": "assessed"},
        )
        assert assessed is not None and assessed >= malignant_cases + benign_cases

        actions = [e.action for e in await AuditLog(c.database).entries(c.admin, limit=500)]
        assert {"threshold.adopt", "threshold.withdraw", "review.audit_sample"} <= set(actions)

    clinic(scenario)
