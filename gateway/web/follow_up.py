"""A lesion's analyses over time, and whether it is changing.

A rise in malignancy probability of at least CHANGE_ALERT between consecutive
assessable analyses, or a decision turning malignant, marks the later one:
change over time is itself a warning sign (the E of ABCDE).
"""

from __future__ import annotations

from dataclasses import dataclass

from skinscan.records import RecordedAnalysis

__all__ = ["CHANGE_ALERT", "FollowUpEntry", "follow_up"]

CHANGE_ALERT = 0.10


@dataclass(frozen=True)
class FollowUpEntry:
    recorded: RecordedAnalysis
    change: float | None  # in malignancy probability since the previous assessable analysis
    alert: bool


def follow_up(history: list[RecordedAnalysis]) -> list[FollowUpEntry]:
    """`history` in any order -> entries oldest first, each with its change."""
    entries: list[FollowUpEntry] = []
    previous: RecordedAnalysis | None = None
    for recorded in sorted(history, key=lambda r: (r.created_at, r.id)):
        analysis = recorded.analysis
        if not analysis.assessable:
            entries.append(FollowUpEntry(recorded, None, False))
            continue
        change = None
        alert = False
        if previous is not None:
            change = analysis.malignant_probability - previous.analysis.malignant_probability
            turned = analysis.label == "malignant" and previous.analysis.label != "malignant"
            alert = change >= CHANGE_ALERT or turned
        entries.append(FollowUpEntry(recorded, change, alert))
        previous = recorded
    return entries
