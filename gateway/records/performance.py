"""How the served models have done on cases a dermatologist confirmed, by model version.

The truth is the confirmed diagnosis (malignant or not, as the diagnoses table
says); the prediction is the recorded label. Refused images are counted apart:
they were never a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gateway.accounts.roles import Action, Principal
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Review
from gateway.surveillance.statistics import Rate
from skinscan.records import ReviewStatus
from skinscan_model.diagnoses import DIAGNOSES

__all__ = ["ModelPerformance", "Rate", "model_performance"]


@dataclass(frozen=True)
class ModelPerformance:
    model_name: str
    model_version: str
    true_positives: int
    false_negatives: int
    true_negatives: int
    false_positives: int
    not_assessable: int

    @property
    def confirmed(self) -> int:
        return (
            self.true_positives
            + self.false_negatives
            + self.true_negatives
            + self.false_positives
            + self.not_assessable
        )

    @property
    def sensitivity(self) -> Rate:
        return Rate(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def specificity(self) -> Rate:
        return Rate(self.true_negatives, self.true_negatives + self.false_positives)


async def model_performance(database: Database, by: Principal) -> list[ModelPerformance]:
    """The clinic's confirmed cases scored per model version, newest review deciding a case."""
    by.require(Action.READ_RECORDS)
    query = (
        select(
            AnalysisRecord.id,
            AnalysisRecord.model_name,
            AnalysisRecord.model_version,
            AnalysisRecord.label,
            Review.diagnosis,
        )
        .join(Review, Review.analysis_id == AnalysisRecord.id)
        .where(
            AnalysisRecord.clinic_id == by.clinic_id,
            Review.status == ReviewStatus.DONE.value,
        )
        .order_by(Review.reviewed_at)
    )
    async with database.transaction() as session:
        rows = (await session.execute(query)).all()
        record(session, by.actor, "review.performance", by.clinic_id, count=len(rows))
    # A later review of the same analysis replaces an earlier one.
    latest = {row.id: row for row in rows}
    counts: dict[tuple[str, str], list[int]] = {}
    for row in latest.values():
        tally = counts.setdefault((row.model_name, row.model_version), [0, 0, 0, 0, 0])
        diagnosis = DIAGNOSES.get(row.diagnosis or "")
        if row.label == "not_assessable" or diagnosis is None:
            tally[4] += 1
            continue
        predicted = row.label == "malignant"
        tally[(0 if predicted else 1) if diagnosis.malignant else (3 if predicted else 2)] += 1
    return [
        ModelPerformance(name, version, *tally)
        for (name, version), tally in sorted(counts.items(), key=lambda item: item[0][1])
    ]
