"""The served graph's acquisition gate: its level, its rates, and whether the older score stays.

The level is read off the served graph (int8 where that is served) on the
gate's validation dermoscopy, as trainer.network.acquisition chooses it. Then the
rates a user meets, on validation and test, per source: the share of each
dermoscopy source that passes, the share of each kind of negative refused, and
refused with its own reason.

The Mahalanobis out-of-distribution score (trainer.network.ood) stays only where, on
top of the head, it still refuses more negatives without refusing what must
pass: at most 1% of any collection's validation dermoscopy refused by the two
together, and 98% of the dermoscopy its statistics never saw (a collection
given only to the gate, e.g. acral/) passing. Otherwise it is retired: its
output stays in the graph, unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skinscan_model.acquisition import DERMOSCOPY
from trainer.export.acquisition_fit import GateFit, GatePixels, collection_of, rates, refusal_codes
from trainer.export.graph import onnx_outputs
from trainer.network.acquisition import GATE_PASS_RATE, MAX_LEVEL, choose_level
from trainer.network.model import ACQUISITION_OUTPUT

__all__ = ["MAX_REFUSED_DERMOSCOPY", "MIN_UNSEEN_PASS_RATE", "served_gate"]

MAX_REFUSED_DERMOSCOPY = 0.01
MIN_UNSEEN_PASS_RATE = 0.98


def _outputs(served: Path, part: GatePixels) -> tuple[np.ndarray, np.ndarray]:
    outputs = onnx_outputs(served, part.pixels, (ACQUISITION_OUTPUT, "ood_score"))
    return outputs[ACQUISITION_OUTPUT].astype(np.float64), outputs["ood_score"]


def _ood_check(
    fit: GateFit,
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    level: float,
    ood_level: float,
    decision_sources: set[str],
) -> dict[str, Any]:
    """The head alone against the head and the Mahalanobis score together."""
    rows: dict[str, Any] = {}
    keep = True
    parts = {"validation": (fit.validation, validation), "test": (fit.test, test)}
    refused_by: dict[str, dict[str, np.ndarray]] = {}
    for name, (_, (probabilities, scores)) in parts.items():
        head = np.array(refusal_codes(probabilities, level)) != ""
        refused_by[name] = {"head": head, "both": head | (scores > ood_level)}
    part, _ = parts["validation"]
    derm = part.classes == DERMOSCOPY
    collections = np.array([collection_of(s) for s in part.sources])
    for collection in sorted(set(collections[derm])):
        mine = derm & (collections == collection)
        refused = float(refused_by["validation"]["both"][mine].mean())
        rows[f"validation dermoscopy refused, {collection}"] = {
            "head": float(refused_by["validation"]["head"][mine].mean()),
            "head_and_ood": refused,
        }
        keep &= refused <= MAX_REFUSED_DERMOSCOPY
    everything = np.concatenate([fit.validation.sources, fit.test.sources])
    classes = np.concatenate([fit.validation.classes, fit.test.classes])
    head = np.concatenate([refused_by[p]["head"] for p in parts])
    both = np.concatenate([refused_by[p]["both"] for p in parts])
    unseen = (classes == DERMOSCOPY) & np.array(
        [collection_of(s) not in decision_sources for s in everything]
    )
    if unseen.any():
        passing = float(1 - both[unseen].mean())
        rows["unseen dermoscopy passing (validation and test)"] = {
            "head": float(1 - head[unseen].mean()),
            "head_and_ood": passing,
            "images": int(unseen.sum()),
        }
        keep &= passing >= MIN_UNSEEN_PASS_RATE
    negatives = classes != DERMOSCOPY
    extra = int((both & ~head & negatives).sum())
    rows["negatives refused (validation and test)"] = {
        "head": float(head[negatives].mean()),
        "head_and_ood": float(both[negatives].mean()),
        "refused_by_ood_alone": extra,
        "images": int(negatives.sum()),
    }
    keep &= extra > 0
    return {"kept": bool(keep), "ood_threshold": ood_level, "rows": rows}


def served_gate(
    served: Path,
    fit: GateFit,
    ood_level: float | None,
    decision_sources: set[str],
) -> tuple[float, dict[str, Any]]:
    """The served level and the gate's report; the report's `ood["kept"]` says whether the
    out-of-distribution score stays."""
    validation, test = _outputs(served, fit.validation), _outputs(served, fit.test)
    derm = fit.validation.classes == DERMOSCOPY
    collections = np.array([collection_of(s) for s in fit.validation.sources[derm]])
    level = choose_level(validation[0][derm], collections)
    report: dict[str, Any] = {
        "method": (
            "outlier exposure: a linear head on the standardised pooled means and spreads of "
            "every backbone stage, trained on augmented dermoscopy against real negatives; "
            f"refused under the level the served graph leaves {GATE_PASS_RATE:.1%} of each "
            f"collection's validation dermoscopy above (at most {MAX_LEVEL})"
        ),
        "level": level,
        "fitting": fit.fitting,
        "validation": rates(validation[0], level, fit.validation.classes, fit.validation.sources),
        "test": rates(test[0], level, fit.test.classes, fit.test.sources),
        "leave_one_out": fit.leave_one_out,
    }
    if ood_level is not None:
        report["ood"] = _ood_check(fit, validation, test, level, ood_level, decision_sources)
    return level, report
