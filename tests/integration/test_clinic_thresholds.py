"""Clinics the model never saw, from real images: the served model's scores on each acral/
institution with enough melanomas, taken as a clinic in turn, as it is and with its scores
shifted lower (a dermatoscope under which lesions look more benign).

Each repetition draws the clinic's cases in a random order; the first half are its audit
cases, confirmed, from which gateway.surveillance.statistics proposes a threshold; the second
half are its later cases, on which the adopted threshold's sensitivity is measured. The
promise: within 0.05 of the target (at least 0.85 for 0.90) in 90% of repetitions, including
where the model's own threshold misses it.
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gateway.surveillance.statistics import propose_threshold, rate_at
from skinscan_model.preprocessing import load_model_input
from skinscan_model.store import DEFAULT_MODEL_NAME, LocalModelStore
from tests.conftest import ROOT
from trainer.export.graph import onnx_outputs

pytestmark = pytest.mark.integration

CLINICS = (
    "Hospital Clínic de Barcelona",
    "Imperial College London",
    "International Dermoscopy Society",
)
REPETITIONS = 200
# On the logit: the shifted clinic's lesions score as if one unit more benign.
SHIFT = -1.0


def _scores(acral: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float, float]:
    """Per clinic (malignant probability, malignant), the model's threshold and its target."""
    version = LocalModelStore(ROOT / "models").fetch(DEFAULT_MODEL_NAME)
    metadata = version.metadata
    with (acral / "metadata.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["institution"] in CLINICS]
    size = metadata.input.size

    def load(row: dict[str, str]) -> np.ndarray:
        data = (acral / "images" / f"{row['image_id']}.jpg").read_bytes()
        return np.asarray(load_model_input(data, size))

    with ThreadPoolExecutor(4) as pool:
        pixels = np.stack(list(pool.map(load, rows)))
    positive = metadata.labels.index(metadata.positive_label)
    outputs = onnx_outputs(version.onnx_path, pixels, ("probabilities",))
    probabilities = outputs["probabilities"][:, positive]
    institution = np.array([r["institution"] for r in rows])
    malignant = np.array([r["benign_malignant"] == "malignant" for r in rows])
    clinics = {c: (probabilities[institution == c], malignant[institution == c]) for c in CLINICS}
    assert metadata.target_sensitivity is not None
    return clinics, metadata.decision_threshold, metadata.target_sensitivity


def _shifted(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    return 1 / (1 + np.exp(-(np.log(clipped / (1 - clipped)) + SHIFT)))


def test_a_clinic_s_own_threshold_keeps_the_promise_on_its_later_cases(acral: Path) -> None:
    clinics, model_threshold, target = _scores(acral)
    rng = np.random.default_rng(0)
    missed_by_the_model = 0
    for name, (plain, malignant) in clinics.items():
        for label, scores in (("as it is", plain), ("shifted", _shifted(plain))):
            kept = model_kept = 0
            adopted, specificity, model_specificity = [], [], []
            for _ in range(REPETITIONS):
                order = rng.permutation(len(scores))
                audit, later = order[: len(order) // 2], order[len(order) // 2 :]
                proposal = propose_threshold(
                    scores[audit], malignant[audit], target, model_threshold, draws=100
                )
                assert proposal.threshold is not None, (name, proposal.more_malignant_needed)
                ours, our_specificity = rate_at(scores[later], malignant[later], proposal.threshold)
                theirs, their_specificity = rate_at(
                    scores[later], malignant[later], model_threshold
                )
                specificity.append(our_specificity.hits / our_specificity.total)
                model_specificity.append(their_specificity.hits / their_specificity.total)
                kept += ours.hits / ours.total >= target - 0.05
                model_kept += theirs.hits / theirs.total >= target - 0.05
                adopted.append(ours.hits / ours.total)
            print(
                f"{name} ({label}, {int(malignant.sum())} malignant of {len(scores)}): clinic "
                f"threshold within 0.05 of {target:.2f} in {kept / REPETITIONS:.0%} of "
                f"repetitions (mean later sensitivity {np.mean(adopted):.3f}, specificity "
                f"{np.mean(specificity):.3f}); the model's {model_threshold:.3f} in "
                f"{model_kept / REPETITIONS:.0%} (specificity {np.mean(model_specificity):.3f})"
            )
            assert kept / REPETITIONS >= 0.9, (name, label)
            missed_by_the_model += model_kept / REPETITIONS < 0.9
    # The shifted clinics are where the model's own threshold breaks its promise.
    assert missed_by_the_model >= len(CLINICS)
