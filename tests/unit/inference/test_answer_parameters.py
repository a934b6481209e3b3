"""What every inference answer tells the preprocessor about the outputs it may read."""

from __future__ import annotations

from dataclasses import replace

from inference.servicer import _answer_parameters
from skinscan_model.metadata import InputSpec, ModelMetadata

META = ModelMetadata(
    name="m",
    labels=("benign", "malignant"),
    positive_label="malignant",
    decision_threshold=0.5,
    input=InputSpec(size=32),
    ood_threshold=3.0,
    diagnoses=("nv", "mel"),
)


def test_served_outputs_are_named() -> None:
    parameters = _answer_parameters(META)
    assert parameters["skinscan.heatmap_output"].string_param == "heatmap"
    assert parameters["skinscan.ood_threshold"].double_param == 3.0
    assert parameters["skinscan.diagnosis_output"].string_param == "diagnosis_probabilities"


def test_withheld_outputs_are_not_named_so_nothing_downstream_shows_them() -> None:
    withheld = replace(META, heatmap_output=None, diagnoses=())
    parameters = _answer_parameters(withheld)
    assert "skinscan.heatmap_output" not in parameters
    assert "skinscan.diagnoses" not in parameters and "skinscan.diagnosis_output" not in parameters
    # The refusal of images that are not dermoscopy is served on its own.
    assert parameters["skinscan.ood_threshold"].double_param == 3.0
