"""`--init-from`: the trainer's network rebuilt from an exported graph computes what the graph does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skinscan.errors import ModelNotFoundError
from skinscan_model.repositories import resolve_version
from skinscan_model.store import DEFAULT_MODEL_NAME, LocalModelStore, ModelVersion
from tests.conftest import ROOT, TEST_MODEL_NAME
from trainer.data.datasets import load_dataset
from trainer.data.samples import decode
from trainer.evaluate import select_split
from trainer.export.graph import onnx_outputs
from trainer.export.onnx_import import GraphImportError, import_model, module_path

# int8 rounds every activation of the graph; the rebuilt network computes in float.
INT8_MIN_AGREEMENT = 0.995


def _probabilities(model: ModelVersion, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The graph's probabilities and the rebuilt network's, with the graph's temperature."""
    imported = import_model(model)
    with torch.no_grad():
        logits = torch.cat(
            [
                imported.classifier(torch.from_numpy(pixels[i : i + 64]))
                for i in range(0, len(pixels), 64)
            ]
        )
    classes = len(model.metadata.labels)
    rebuilt = torch.softmax(logits[:, :classes] / imported.temperature, dim=1).numpy()
    graph = onnx_outputs(model.onnx_path, pixels, ("probabilities",))["probabilities"]
    return graph, rebuilt


def _agreement(model: ModelVersion, graph: np.ndarray, rebuilt: np.ndarray) -> float:
    positive = model.metadata.labels.index(model.metadata.positive_label)
    threshold = model.metadata.decision_threshold
    return float(np.mean((graph[:, positive] >= threshold) == (rebuilt[:, positive] >= threshold)))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("/classifier/backbone/layer4/layer4.2/conv3/Conv", "backbone.layer4.2.conv3"),
        (
            "/backbone.layer1/layer1.0/downsample/downsample.0/Conv",
            "backbone.layer1.0.downsample.0",
        ),
        ("/backbone.0/backbone.0.0/Conv", "backbone.0.0"),
        ("/classifier/head/head.1/BatchNormalization", "head.1"),
        ("/diagnosis_stage/diagnosis_stage.0/conv1/Conv", "diagnosis_stage.0.conv1"),
        ("/Div", None),
    ],
)
def test_node_names_lead_back_to_modules(name: str, path: str | None) -> None:
    assert module_path(name) == path


def test_the_default_model_is_rebuilt_from_its_int8_graph(isic_train: Path) -> None:
    """The served version, int8 with BatchNorm folded: its weights dequantized, its decisions kept."""
    version = LocalModelStore(ROOT / "models").fetch(DEFAULT_MODEL_NAME)
    dataset = load_dataset(isic_train, "binary")
    samples = [
        *select_split(dataset, version, "validation").samples,
        *select_split(dataset, version, "test").samples,
    ]
    pixels = decode(samples, version.metadata.input.size).pixels
    graph, rebuilt = _probabilities(version, pixels)
    agreement = _agreement(version, graph, rebuilt)
    difference = np.abs(graph - rebuilt)
    print(
        f"{len(pixels)} held-out images: decisions agree on {agreement:.2%}; |probability "
        f"difference| mean {difference.mean():.4f}, max {difference.max():.4f}"
    )
    assert agreement >= INT8_MIN_AGREEMENT
    assert difference.mean() < 0.01


def test_a_float_graph_is_rebuilt_exactly(model_repository: Path, small_dataset: Path) -> None:
    """The tests' model, exported in fp32: the same probabilities to float rounding."""
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME, "1")
    pixels = decode(load_dataset(small_dataset, "binary").samples, 32).pixels
    graph, rebuilt = _probabilities(version, pixels)
    np.testing.assert_allclose(rebuilt, graph, atol=1e-5)
    imported = import_model(version)
    assert imported.classifier.diagnosis_head is not None  # trained with HAM10000's diagnoses
    assert imported.diagnosis_temperature > 0


def test_a_graph_of_another_network_is_refused(model_repository: Path, tmp_path: Path) -> None:
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME)
    wrong = ModelVersion(
        version.name,
        version.version,
        version.path,
        type(version.metadata).from_dict(
            {**version.metadata.to_dict(), "architecture": "resnet50"}
        ),
    )
    with pytest.raises(GraphImportError, match="another network"):
        import_model(wrong)


def test_a_diagnosis_head_that_is_not_served_is_rebuilt_from_the_graph(
    model_repository: Path,
) -> None:
    """A version whose diagnosis is withheld (trainer.export.output_gates) lists no diagnoses, but
    its graph has the head, and the next version builds on it."""
    version = LocalModelStore(model_repository).fetch(TEST_MODEL_NAME)
    assert version.metadata.diagnoses
    withheld = ModelVersion(
        version.name,
        version.version,
        version.path,
        type(version.metadata).from_dict(
            {**version.metadata.to_dict(), "diagnoses": [], "heatmap_output": None}
        ),
    )
    served, rebuilt = import_model(version), import_model(withheld)
    assert rebuilt.classifier.diagnosis_head is not None
    for (name, theirs), (_, ours) in zip(
        served.classifier.state_dict().items(), rebuilt.classifier.state_dict().items(), strict=True
    ):
        assert torch.equal(theirs, ours), name
    assert rebuilt.diagnosis_temperature == served.diagnosis_temperature


def test_a_version_is_named_by_repository_name_and_number_or_its_newest(
    model_repository: Path,
) -> None:
    by_number = resolve_version(f"{model_repository}/{TEST_MODEL_NAME}/1", Path("cache"))
    newest = resolve_version(model_repository / TEST_MODEL_NAME, Path("cache"))
    assert by_number.path == newest.path == model_repository / TEST_MODEL_NAME / "1"
    with pytest.raises(ModelNotFoundError, match="no version 9"):
        resolve_version(f"{model_repository}/{TEST_MODEL_NAME}/9", Path("cache"))
    with pytest.raises(ModelNotFoundError, match="holds no version of model 'nothing'"):
        resolve_version("nothing", Path("cache"))
