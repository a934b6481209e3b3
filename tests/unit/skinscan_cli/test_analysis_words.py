"""What `skinscan analyze` prints of a result: the decision, and which threshold made it."""

from __future__ import annotations

from pathlib import Path

from skinscan.analysis import MODEL_THRESHOLD, Analysis, ModelRef
from skinscan_cli.analyze import _describe

RESULT = Analysis(
    request_id="r",
    model=ModelRef("skinscan-resnet50", "4"),
    assessable=True,
    label="malignant",
    probabilities={"benign": 0.4, "malignant": 0.6},
    malignant_probability=0.6,
    decision_threshold=0.52,
    explanation="malignant probability 0.600, at or above the referral threshold 0.520: malignant",
    threshold_basis=MODEL_THRESHOLD,
)


def test_a_clinic_threshold_is_named_and_the_model_s_goes_without_saying() -> None:
    plain = _describe(Path("a.jpg"), RESULT)
    assert plain.startswith("a.jpg: malignant (malignant probability 0.600")
    assert "decided by" not in plain
    basis = "clinic threshold 0.410, adopted 2026-12-20 from 64 audit cases"
    clinic = Analysis.from_dict({**RESULT.to_dict(), "threshold_basis": basis})
    assert f"  decided by the {basis}" in _describe(Path("a.jpg"), clinic).splitlines()
