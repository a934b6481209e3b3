"""The acquisition gate's refusals: its own code and words for each kind of image refused."""

from __future__ import annotations

import numpy as np
import pytest

from skinscan.analysis import Severity
from skinscan_model.acquisition import CLINICAL_PHOTOGRAPH, NOT_SKIN, acquisition_finding
from skinscan_model.assessment import image_findings, is_refused
from skinscan_model.quality import measure


def test_dermoscopy_at_or_above_the_level_passes() -> None:
    assert acquisition_finding(np.array([0.2, 0.5, 0.3]), 0.2) is None
    assert acquisition_finding(None, 0.2) is None
    assert acquisition_finding(np.array([0.0, 1.0, 0.0]), None) is None


def test_a_clinical_photograph_is_refused_with_its_own_reason() -> None:
    finding = acquisition_finding(np.array([0.05, 0.7, 0.25]), 0.2)
    assert finding is not None and finding.code == CLINICAL_PHOTOGRAPH
    assert finding.severity is Severity.REFUSAL
    assert "without a dermatoscope" in finding.reason and "dermatoscope" in finding.reason
    assert finding.value == pytest.approx(0.05)


def test_anything_else_is_refused_as_no_picture_of_skin() -> None:
    finding = acquisition_finding(np.array([0.01, 0.09, 0.9]), 0.2)
    assert finding is not None and finding.code == NOT_SKIN
    assert "not look like a picture of skin" in finding.reason


def test_malformed_probabilities_are_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError):
        acquisition_finding(np.array([0.5, 0.5]), 0.2)
    with pytest.raises(ValueError):
        acquisition_finding(np.array([np.nan, 0.5, 0.5]), 0.2)


def test_the_gate_refuses_before_quality_is_judged() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    findings = image_findings(
        measure(pixels, 64), None, 64, None, None, np.array([0.0, 0.1, 0.9]), 0.3
    )
    assert is_refused(findings) and findings[0].code == NOT_SKIN
