"""The trainer's metrics against scikit-learn and the ISIC challenge's official scoring code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics
from isic_challenge_scoring import metrics as isic

from trainer.evaluation.metrics import (
    balanced_accuracy,
    binary_report,
    roc_auc,
    sensitivity_at_specificity,
)


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 400)
    malignant = np.clip(0.3 * labels + 0.7 * rng.random(400), 0, 1)
    malignant[:20] = 0.5  # ties must be handled as sklearn handles them
    return np.stack([1 - malignant, malignant], axis=1), labels


def test_metrics_agree_with_scikit_learn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    probabilities, labels = scored
    scores = probabilities[:, 1]
    predicted = (scores >= 0.6).astype(int)
    report = binary_report(probabilities, labels, positive=1, threshold=0.6, resamples=50)

    def value(name: str) -> float:
        return report[name]["value"]  # type: ignore[index, no-any-return]

    assert value("roc_auc") == pytest.approx(sklearn.metrics.roc_auc_score(labels, scores))
    assert value("accuracy") == pytest.approx(sklearn.metrics.accuracy_score(labels, predicted))
    assert value("precision") == pytest.approx(sklearn.metrics.precision_score(labels, predicted))
    assert value("recall") == pytest.approx(sklearn.metrics.recall_score(labels, predicted))
    assert value("specificity") == pytest.approx(
        sklearn.metrics.recall_score(labels, predicted, pos_label=0)
    )
    assert value("f1") == pytest.approx(sklearn.metrics.f1_score(labels, predicted))
    assert value("balanced_accuracy") == pytest.approx(
        sklearn.metrics.balanced_accuracy_score(labels, predicted)
    )
    assert report["confusion_matrix"]["matrix"] == (  # type: ignore[index]
        sklearn.metrics.confusion_matrix(labels, predicted).tolist()
    )
    fpr, tpr, _ = sklearn.metrics.roc_curve(labels, scores)
    assert sensitivity_at_specificity(labels == 1, scores, 0.9) == pytest.approx(
        tpr[fpr <= 0.1].max()
    )
    for name in ("roc_auc", "accuracy", "f1"):
        low, high = report[name]["ci95"]  # type: ignore[index]
        assert low < value(name) < high


def test_metrics_agree_with_isic_challenge_scoring(scored: tuple[np.ndarray, np.ndarray]) -> None:
    probabilities, labels = scored
    truth = pd.DataFrame({"benign": 1 - labels, "malignant": labels}).astype(float)
    prediction = pd.DataFrame(probabilities, columns=["benign", "malignant"])
    weights = pd.Series(np.ones(len(labels)))
    # The challenge decides by argmax, i.e. a 0.5 threshold for two classes.
    untied = probabilities[:, 1] != 0.5
    official_bacc = isic.balanced_multiclass_accuracy(
        truth[untied], prediction[untied], weights[untied]
    )
    ours = balanced_accuracy(labels[untied], probabilities[untied].argmax(1))
    assert ours == pytest.approx(official_bacc)
    assert roc_auc(labels == 1, probabilities[:, 1]) == pytest.approx(
        isic.auc(truth["malignant"], prediction["malignant"], weights)
    )
