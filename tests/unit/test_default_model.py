"""The committed default model: what `make run` serves must load, be int8, and keep its card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from skinscan.analysis import DISCLAIMER
from skinscan_model.preprocessing import load_model_input
from skinscan_model.store import DEFAULT_MODEL_NAME, LocalModelStore
from skinscan_model.trials import trial_rows
from tests.conftest import ROOT
from trainer.card.curve import CURVE_PAGE, render_curve_page


def test_the_default_model_is_int8_small_calibrated_and_documented(malignant_jpeg: Path) -> None:
    store = LocalModelStore(ROOT / "models")
    version = store.fetch(DEFAULT_MODEL_NAME)
    # Its checksum is recorded, so verification really compares the file.
    assert len(version.metadata.model_sha256) == 64
    store.verify(version)
    metadata = version.metadata
    assert metadata.precision == "int8"
    assert version.onnx_path.stat().st_size <= 30 * 1024 * 1024
    assert 0 < metadata.decision_threshold < 1
    assert metadata.metrics["int8_parity"]["decision_agreement"] >= 0.995
    assert metadata.metrics["int8_parity"]["roc_auc_drop"] <= 0.005
    card = (version.path / "MODEL_CARD.md").read_text()
    assert DISCLAIMER in card and "non-commercial" in card and "skinscan train" in card
    assert f"{metadata.metrics['validation']['roc_auc']['value']:.3f}" in card

    session = ort.InferenceSession(str(version.onnx_path), providers=["CPUExecutionProvider"])
    pixels = np.array(load_model_input(malignant_jpeg.read_bytes(), metadata.input.size))[None]
    (probabilities,) = session.run(["probabilities"], {"pixels": pixels})
    assert probabilities.shape == (1, 2) and abs(float(probabilities.sum()) - 1.0) < 1e-5


def test_the_curve_page_is_the_one_the_repository_writes() -> None:
    """CURVE.md is written from the versions and trial records: a page edited by hand, or a
    trial recorded without rewriting it (`skinscan models curve --write`), shows here."""
    store = LocalModelStore(ROOT / "models")
    page = (ROOT / "models" / DEFAULT_MODEL_NAME / CURVE_PAGE).read_text()
    assert page == render_curve_page(store, DEFAULT_MODEL_NAME)
    served = store.fetch(DEFAULT_MODEL_NAME)
    tried = trial_rows(store, DEFAULT_MODEL_NAME, served.metadata.model_sha256)
    assert page.count("\n| trial | ") == len(tried)
    if not tried:
        version = served.version
        assert f"No run trained on from version {version} has been recorded yet" in page
