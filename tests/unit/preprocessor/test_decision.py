"""The decision a clinician reads: refused with reasons, or explained against the referral threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from skinscan.analysis import DISCLAIMER, Analysis, CropBox, HeatMap, ModelRef, Severity
from skinscan_model.quality import Limit, QualityLimits, QualityMeasures
from skinscan_pipeline.decision import MODEL_THRESHOLD, ModelOutputs, at_threshold, decide

LABELS = ("benign", "malignant")
MODEL = ModelRef("m", "3")
GOOD = QualityMeasures(
    sharpness=80.0, dark_fraction=0.0, bright_fraction=0.0, greyscale=False, short_side=224
)
LIMITS = QualityLimits(
    blurred=Limit(warn=15.0, refuse=5.0),
    noisy=Limit(warn=1300.0, refuse=7000.0),
    too_dark=Limit(warn=0.01, refuse=0.57),
    overexposed=Limit(warn=0.45, refuse=0.94),
    images=1000,
)


def _outputs(malignant: float, threshold: float, **more: Any) -> ModelOutputs:
    return ModelOutputs(
        probabilities=np.array([1 - malignant, malignant], np.float32),
        labels=LABELS,
        positive_label="malignant",
        decision_threshold=threshold,
        model=MODEL,
        input_size=128,
        quality_limits=LIMITS,
        **more,
    )


def _decide(malignant: float, threshold: float, measures: QualityMeasures = GOOD) -> Analysis:
    return decide("r", _outputs(malignant, threshold), measures)


@pytest.mark.parametrize(
    ("malignant", "threshold", "label", "relation"),
    [
        (0.31, 0.2, "malignant", "at or above"),
        (0.19, 0.3, "benign", "below"),
        (0.7, 0.5, "malignant", "at or above"),
        (0.4, 0.5, "benign", "below"),
    ],
)
def test_the_threshold_decides_and_the_explanation_says_how(
    malignant: float, threshold: float, label: str, relation: str
) -> None:
    analysis = _decide(malignant, threshold)
    assert analysis.assessable and analysis.label == label
    assert analysis.malignant_probability == pytest.approx(malignant)
    assert analysis.explanation == (
        f"malignant probability {malignant:.3f}, {relation} the referral threshold "
        f"{threshold:.3f}: {label}"
    )
    assert sum(analysis.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert list(analysis.probabilities) == ["benign", "malignant"]
    assert analysis.disclaimer == DISCLAIMER
    assert analysis.to_dict()["model"] == {"name": "m", "version": "3"}
    assert analysis.findings == ()


def test_a_decision_near_the_threshold_warns_that_it_is_borderline() -> None:
    # Benign by 0.014: the case that used to read "benign, confidence 0.490".
    analysis = _decide(0.510, 0.524)
    assert analysis.label == "benign"
    (finding,) = analysis.findings
    assert finding.code == "borderline" and finding.severity is Severity.WARNING
    assert finding.value == pytest.approx(-0.014, abs=1e-6)


def test_a_refused_image_has_no_label_and_no_probabilities() -> None:
    black = QualityMeasures(
        sharpness=0.0, dark_fraction=1.0, bright_fraction=0.0, greyscale=True, short_side=300
    )
    analysis = _decide(0.997, 0.5, black)
    assert not analysis.assessable
    assert [(f.code, f.severity) for f in analysis.findings] == [
        ("blurred", Severity.REFUSAL),
        ("too_dark", Severity.REFUSAL),
        ("greyscale", Severity.WARNING),
    ]
    body = analysis.to_dict()
    assert not {"label", "probabilities", "malignant_probability", "explanation"} & set(body)
    assert body["disclaimer"] == DISCLAIMER and body["model"]["version"] == "3"


def test_an_image_unlike_dermoscopy_is_refused_whatever_the_model_says() -> None:
    heatmap = HeatMap(b"png", CropBox(0, 0, 224, 224))
    unlike = _outputs(0.9, 0.5, ood_score=812.0, ood_threshold=300.0, heatmap=heatmap)
    analysis = decide("r", unlike, GOOD)
    assert not analysis.assessable and analysis.heatmap is None
    (finding,) = analysis.findings
    assert finding.code == "out_of_distribution" and finding.value == 812.0
    alike = _outputs(0.9, 0.5, ood_score=120.0, ood_threshold=300.0, heatmap=heatmap)
    assert decide("r", alike, GOOD).heatmap == heatmap


def test_the_diagnosis_is_named_and_a_conflict_with_the_decision_is_a_warning() -> None:
    codes = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    nevus = np.array([0.02, 0.03, 0.05, 0.01, 0.09, 0.78, 0.02], np.float32)
    analysis = decide(
        "r",
        _outputs(0.71, 0.5, diagnosis_probabilities=nevus, diagnosis_codes=codes),
        GOOD,
    )
    assert analysis.label == "malignant" and analysis.diagnosis is not None
    assert analysis.diagnosis.code == "nv" and analysis.diagnosis.name == "Melanocytic nevus"
    assert not analysis.diagnosis.malignant
    assert sum(analysis.diagnosis.probabilities.values()) == pytest.approx(1.0)
    (conflict,) = analysis.findings
    assert conflict.code == "conflicting_evidence" and conflict.value == pytest.approx(0.78, 1e-3)
    assert "Melanocytic nevus (78%), is benign" in conflict.reason
    agreeing = decide(
        "r", _outputs(0.2, 0.5, diagnosis_probabilities=nevus, diagnosis_codes=codes), GOOD
    )
    assert agreeing.label == "benign" and agreeing.findings == ()


def test_non_finite_probabilities_are_refused_not_reported() -> None:
    with pytest.raises(ValueError, match="finite"):
        decide("r", _outputs(float("nan"), 0.5), GOOD)


def test_the_result_says_the_model_s_threshold_decided_and_what_it_was_chosen_for() -> None:
    analysis = decide("r", _outputs(0.7, 0.5, target_sensitivity=0.9), GOOD)
    assert analysis.threshold_basis == MODEL_THRESHOLD and analysis.target_sensitivity == 0.9
    assert Analysis.from_dict(analysis.to_dict()) == analysis
    assert _decide(0.7, 0.5).target_sensitivity == 0.0  # a model that declares none


def test_a_clinic_threshold_decides_again_with_its_warnings_and_its_words() -> None:
    codes = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    nevus = np.array([0.02, 0.03, 0.05, 0.01, 0.09, 0.78, 0.02], np.float32)
    first = decide(
        "r",
        _outputs(
            0.45, 0.5, diagnosis_probabilities=nevus, diagnosis_codes=codes, target_sensitivity=0.9
        ),
        GOOD,
    )
    assert first.label == "benign" and [f.code for f in first.findings] == []
    basis = "clinic threshold 0.420, adopted 2026-12-20 from 64 audit cases"
    again = at_threshold(first, 0.42, basis)
    # Referred now; the nevus diagnosis disagrees and the probability is close to the threshold.
    assert again.label == "malignant" and again.decision_threshold == 0.42
    assert again.threshold_basis == basis and again.target_sensitivity == 0.9
    assert again.explanation == (
        "malignant probability 0.450, at or above the clinic's threshold 0.420: malignant"
    )
    assert [f.code for f in again.findings] == ["conflicting_evidence", "borderline"]
    assert again.probabilities == first.probabilities and again.diagnosis == first.diagnosis
    # Back at the model's threshold it is the first decision again, warnings and all.
    assert at_threshold(again, 0.5, MODEL_THRESHOLD) == first
    refused = _decide(0.9, 0.5, replace(GOOD, sharpness=1.0))
    assert at_threshold(refused, 0.42, basis) == refused
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        at_threshold(first, 1.2, basis)
