"""Which of the graph's explanations the version serves: each only once its check holds.

A heat map that points at the skin beside the lesion, or a diagnosis named
wrongly half the time, shown to a clinician beside a decision, is a wrong
answer delivered confidently. The graph still computes them (their figures
go in the model card, so the next version can be compared), but the version's
metadata names only the outputs whose validation check reached its level; the
services serve nothing else, and the app says the version draws no heat map
or names no diagnosis, as it does for a version without them.

The levels are issue 25's targets, and `skinscan train` options: the tests'
tiny models set them to 0, so that the services' handling of every output is
exercised on real graphs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["withheld_outputs"]


def withheld_outputs(
    evaluations: dict[str, Any],
    has_heatmap: bool,
    has_diagnosis: bool,
    min_heatmap_on_lesion: float,
    min_diagnosis_accuracy: float,
) -> dict[str, str]:
    """Each withheld output ("heatmap", "diagnosis") with the reason, from the run's
    validation figures (trainer.finalize's evaluations)."""
    withheld: dict[str, str] = {}
    heatmap = evaluations.get("heatmap") or {}
    if has_heatmap and min_heatmap_on_lesion > 0:
        rate = heatmap.get("peak_on_lesion_rate")
        if rate is None:
            withheld["heatmap"] = "no validation images to check that it looks at the lesion"
        elif not rate >= min_heatmap_on_lesion:
            withheld["heatmap"] = (
                f"its peak lies on the lesion for {rate:.1%} of {heatmap['images']} validation "
                f"images, under the {min_heatmap_on_lesion:.0%} it must reach"
            )
    diagnosis = (evaluations.get("diagnosis") or {}).get("validation")
    if has_diagnosis and min_diagnosis_accuracy > 0:
        if diagnosis is None:
            withheld["diagnosis"] = "no validation images with a diagnosis to check it on"
        else:
            accuracy = diagnosis["balanced_accuracy"]
            if not accuracy["value"] >= min_diagnosis_accuracy:
                low, high = accuracy["ci95"]
                withheld["diagnosis"] = (
                    f"its balanced accuracy on {diagnosis['images']} validation images is "
                    f"{accuracy['value']:.3f} ({low:.3f}-{high:.3f}), under the "
                    f"{min_diagnosis_accuracy:.2f} it must reach"
                )
    return withheld
