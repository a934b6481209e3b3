"""Whether a new version beats its parent, on the same held-out images: the publishing rule.

A version that continues training its parent (`--init-from`) is compared with it on the
parent's own split, image by image. Both graphs score the same images, so the question is the
difference of their ROC-AUCs, and its uncertainty is that of a *paired* bootstrap: each
resample draws lesions (all images of a lesion together, as the split keeps them) and scores
both models on the same draw. Two intervals computed apart would be far wider than the paired
one and would hide a real gain; a gain on pooled images can also hide a loss on one collection,
so every source is compared on its own too.

The rule (issue 27): publish when the pooled difference's 95% interval lies above 0 and no
source is worse beyond its noise, i.e. no source's interval lies wholly below 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skinscan_model.metadata import ModelMetadata
from trainer.evaluation.metrics import BOOTSTRAP_RESAMPLES, roc_auc

__all__ = [
    "HeldOutScores",
    "compare_with_parent",
    "format_comparison",
    "is_published",
    "paired_auc_difference",
]


@dataclass(frozen=True)
class HeldOutScores:
    """The same held-out images, scored by both versions (each its malignant probability)."""

    positives: np.ndarray  # bool, per image
    child: np.ndarray
    parent: np.ndarray
    groups: np.ndarray  # lesion group per image: resampled together
    sources: np.ndarray  # index into source_names, per image
    source_names: tuple[str, ...]

    def __post_init__(self) -> None:
        lengths = {
            len(a) for a in (self.positives, self.child, self.parent, self.groups, self.sources)
        }
        if len(lengths) != 1:
            raise ValueError(f"the arrays describe different numbers of images: {sorted(lengths)}")

    def where(self, mask: np.ndarray) -> HeldOutScores:
        return HeldOutScores(
            self.positives[mask],
            self.child[mask],
            self.parent[mask],
            self.groups[mask],
            self.sources[mask],
            self.source_names,
        )


def _members(groups: np.ndarray) -> list[np.ndarray]:
    """The image indices of each group."""
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def paired_auc_difference(
    positives: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    groups: np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Child AUC, parent AUC and their difference with a paired lesion bootstrap 95% interval."""
    positives = np.asarray(positives, dtype=bool)
    members = _members(np.asarray(groups))
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        drawn = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        difference = roc_auc(positives[drawn], child[drawn]) - roc_auc(
            positives[drawn], parent[drawn]
        )
        if np.isfinite(difference):  # a draw with one class only has no AUC
            differences.append(difference)
    ours, theirs = roc_auc(positives, child), roc_auc(positives, parent)
    low, high = np.percentile(differences, [2.5, 97.5]) if differences else (np.nan, np.nan)
    return {
        "child": ours,
        "parent": theirs,
        "difference": ours - theirs,
        "ci95": [float(low), float(high)],
        "images": len(positives),
        "positives": int(positives.sum()),
        "lesions": len(members),
    }


def _at_threshold(positives: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    called = scores >= threshold
    return {
        "sensitivity": float(np.mean(called[positives])) if positives.any() else float("nan"),
        "specificity": float(np.mean(~called[~positives])) if (~positives).any() else float("nan"),
    }


def compare_with_parent(
    scores: HeldOutScores,
    child_threshold: float,
    parent_threshold: float,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The pooled and per-source comparison, each model at its own served threshold, and the
    verdict: {"publish": bool, "reasons": [...]} under the rule in the module's docstring."""

    def one(part: HeldOutScores) -> dict[str, Any]:
        report = paired_auc_difference(
            part.positives, part.child, part.parent, part.groups, resamples, seed
        )
        report["child_at_threshold"] = _at_threshold(part.positives, part.child, child_threshold)
        report["parent_at_threshold"] = _at_threshold(part.positives, part.parent, parent_threshold)
        return report

    pooled = one(scores)
    by_source = {
        name: one(scores.where(scores.sources == index))
        for index, name in enumerate(scores.source_names)
        if np.any(scores.sources == index)
    }
    reasons = []
    low, high = pooled["ci95"]
    if not low > 0:
        reasons.append(
            f"pooled ROC-AUC {pooled['child']:.4f} against the parent's {pooled['parent']:.4f}: "
            f"difference {pooled['difference']:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}] "
            "does not lie above 0"
        )
    for name, report in by_source.items():
        if report["ci95"][1] < 0:
            reasons.append(
                f"{name}: ROC-AUC {report['child']:.4f} against {report['parent']:.4f}, worse "
                f"beyond its noise (interval [{report['ci95'][0]:+.4f}, {report['ci95'][1]:+.4f}])"
            )
    return {
        "pooled": pooled,
        "by_source": by_source,
        "child_threshold": child_threshold,
        "parent_threshold": parent_threshold,
        "bootstrap_resamples": resamples,
        "publish": not reasons,
        "reasons": reasons,
    }


def format_comparison(comparison: dict[str, Any], parent: str, split: str) -> Sequence[str]:
    """Markdown lines: the table the model card shows, and the verdict."""
    lines = [
        f"Against **{parent}** on the same {split} images (its split), each at its own served "
        "threshold; the interval of the difference is a paired bootstrap over lesions "
        f"({comparison['bootstrap_resamples']} resamples).",
        "",
        "| images | ROC-AUC, this version | parent | difference (95% CI) | sensitivity / specificity, this version | parent |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("all sources", comparison["pooled"]), *comparison["by_source"].items()]
    for name, report in rows:
        ours, theirs = report["child_at_threshold"], report["parent_at_threshold"]
        low, high = report["ci95"]
        lines.append(
            f"| {name}: {report['images']} ({report['positives']} malignant) "
            f"| {report['child']:.4f} | {report['parent']:.4f} "
            f"| {report['difference']:+.4f} ({low:+.4f} to {high:+.4f}) "
            f"| {ours['sensitivity']:.3f} / {ours['specificity']:.3f} "
            f"| {theirs['sensitivity']:.3f} / {theirs['specificity']:.3f} |"
        )
    lines.append("")
    if comparison["publish"]:
        lines.append("Better than its parent under the publishing rule: published.")
    else:
        lines.append("Not better than its parent under the publishing rule:")
        lines += [f"- {reason}" for reason in comparison["reasons"]]
    return lines


def is_published(metadata: ModelMetadata) -> bool:
    """False for a candidate that was compared with its parent and did not beat it."""
    return bool(metadata.metrics.get("versus_parent", {}).get("publish", True))
