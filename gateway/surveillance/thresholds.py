"""A clinic's own referral thresholds: measured, proposed, adopted, in force, withdrawn.

The admin adopts what the audit cases support at that moment: the threshold
is computed here from the confirmed audit cases (gateway.surveillance.statistics),
never taken from the caller, so no one can adopt a value the clinic's cases do
not back. Adoption is per model version (a new version starts from its own
threshold again), audit-logged, and reversible: a withdrawn threshold stays on
record and the model's threshold decides again.

Each gateway keeps the thresholds in force for CACHE_S seconds, so deciding
costs no query per image; an adoption or withdrawal shows on every gateway
within that time (at once on the one that made it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.accounts.roles import Action, Principal
from gateway.audit import record
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Clinic, ClinicThreshold, Review, utc_now
from gateway.surveillance.monitoring import publish_performance
from gateway.surveillance.performance import Case, VersionPerformance, version_performance
from skinscan.analysis import Analysis
from skinscan.errors import InvalidRequestError, NotFoundError
from skinscan.records import ReviewStatus
from skinscan_pipeline.decision import at_threshold

__all__ = ["CACHE_S", "ClinicThresholds", "ThresholdInForce"]

CACHE_S = 10.0


@dataclass(frozen=True)
class ThresholdInForce:
    id: str
    model_name: str
    model_version: str
    threshold: float
    model_threshold: float
    target_sensitivity: float
    audit_cases: int
    malignant_cases: int
    sensitivity_lower_bound: float
    adopted_at: datetime
    adopted_by: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    @property
    def basis(self) -> str:
        """What a result decided by it says."""
        return (
            f"clinic threshold {self.threshold:.3f}, adopted {self.adopted_at:%Y-%m-%d} "
            f"from {self.audit_cases} audit cases"
        )


def _info(row: ClinicThreshold) -> ThresholdInForce:
    return ThresholdInForce(
        row.id,
        row.model_name,
        row.model_version,
        row.threshold,
        row.model_threshold,
        row.target_sensitivity,
        row.audit_cases,
        row.malignant_cases,
        row.sensitivity_lower_bound,
        row.adopted_at,
        row.adopted_by,
        row.withdrawn_at,
        row.withdrawn_by,
    )


class ClinicThresholds:
    def __init__(self, database: Database, cache_s: float = CACHE_S) -> None:
        self.database = database
        self.cache_s = cache_s
        # clinic id -> (read at, {(model name, version): threshold in force})
        self._cache: dict[str, tuple[float, dict[tuple[str, str], ThresholdInForce]]] = {}

    async def _in_force(self, clinic_id: str) -> dict[tuple[str, str], ThresholdInForce]:
        cached = self._cache.get(clinic_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        query = select(ClinicThreshold).where(
            ClinicThreshold.clinic_id == clinic_id, ClinicThreshold.withdrawn_at.is_(None)
        )
        async with self.database.transaction() as session:
            rows = (await session.scalars(query)).all()
        in_force = {(r.model_name, r.model_version): _info(r) for r in rows}
        self._cache[clinic_id] = (time.monotonic(), in_force)
        return in_force

    async def apply(self, clinic_id: str, analysis: Analysis) -> Analysis:
        """`analysis` decided at the clinic's threshold for its model version, if adopted."""
        if not analysis.assessable:
            return analysis
        adopted = (await self._in_force(clinic_id)).get(
            (analysis.model.name, analysis.model.version)
        )
        if adopted is None:
            return analysis
        return at_threshold(analysis, adopted.threshold, adopted.basis)

    async def _cases(self, clinic_id: str) -> list[Case]:
        query = (
            select(
                AnalysisRecord.id,
                AnalysisRecord.model_name,
                AnalysisRecord.model_version,
                AnalysisRecord.label,
                AnalysisRecord.malignant_probability,
                AnalysisRecord.result,
                Review.audit,
                Review.diagnosis,
            )
            .join(Review, Review.analysis_id == AnalysisRecord.id)
            .where(
                AnalysisRecord.clinic_id == clinic_id,
                Review.clinic_id == clinic_id,
                Review.status == ReviewStatus.DONE.value,
            )
            .order_by(Review.reviewed_at)
        )
        async with self.database.transaction() as session:
            rows = (await session.execute(query)).all()
        # An analysis may be an audit case and a chosen one; a later review of the same
        # analysis of the same kind replaces an earlier one.
        latest = {(row.id, row.audit): row for row in rows}
        return [
            Case(
                row.model_name,
                row.model_version,
                bool(row.audit),
                row.label,
                row.malignant_probability,
                row.diagnosis,
                row.result,
            )
            for row in latest.values()
        ]

    async def performance(self, by: Principal) -> list[VersionPerformance]:
        """Per model version, oldest first: audit cases at the threshold in force, chosen
        cases beside them, and the threshold the audit cases support."""
        by.require(Action.READ_RECORDS)
        measured, cases = await self._measure(by.clinic_id)
        async with self.database.transaction() as session:
            record(session, by.actor, "review.performance", by.clinic_id, count=cases)
        return measured

    async def _measure(self, clinic_id: str) -> tuple[list[VersionPerformance], int]:
        cases = await self._cases(clinic_id)
        in_force = await self._in_force_now(clinic_id)
        versions = sorted(
            {(c.model_name, c.model_version) for c in cases} | set(in_force),
            key=lambda key: (key[0], _version_key(key[1])),
        )
        measured = [
            version_performance(
                name,
                version,
                [c for c in cases if (c.model_name, c.model_version) == (name, version)],
                _in_force_tuple(in_force.get((name, version))),
            )
            for name, version in versions
        ]
        publish_performance(clinic_id, measured)
        return measured, len(cases)

    async def publish_all(self) -> int:
        """Every clinic's audit figures to the metrics (the gateway does it periodically, so
        the alert needs nobody to open a page); the number of clinics."""
        async with self.database.transaction() as session:
            clinics = (await session.scalars(select(Clinic.id))).all()
        for clinic_id in clinics:
            await self._measure(clinic_id)
        return len(clinics)

    async def _in_force_now(self, clinic_id: str) -> dict[tuple[str, str], ThresholdInForce]:
        self._cache.pop(clinic_id, None)
        return await self._in_force(clinic_id)

    async def adopt(self, by: Principal, model_name: str, model_version: str) -> ThresholdInForce:
        """Adopts the threshold the clinic's audit cases support now for that version."""
        by.require(Action.MANAGE_CLINIC)
        versions, _ = await self._measure(by.clinic_id)
        measured = next(
            (p for p in versions if (p.model_name, p.model_version) == (model_name, model_version)),
            None,
        )
        if measured is None:
            raise NotFoundError(
                f"no confirmed case of {model_name} version {model_version} at this clinic"
            )
        proposal = measured.proposal
        if proposal is None:
            raise InvalidRequestError(
                f"{model_name} version {model_version} declares no target sensitivity to fit "
                "a clinic threshold to"
            )
        if proposal.threshold is None or proposal.sensitivity is None:
            raise InvalidRequestError(
                f"not enough confirmed audit cases yet: {proposal.more_malignant_needed} more "
                f"malignant ones are needed (there are {proposal.malignant})"
            )
        bound = proposal.sensitivity.lower_bound
        assert bound is not None
        now = utc_now()
        async with self.database.transaction() as session:
            for old in await session.scalars(
                select(ClinicThreshold).where(
                    ClinicThreshold.clinic_id == by.clinic_id,
                    ClinicThreshold.model_name == model_name,
                    ClinicThreshold.model_version == model_version,
                    ClinicThreshold.withdrawn_at.is_(None),
                )
            ):
                old.withdrawn_at, old.withdrawn_by = now, by.actor
            row = ClinicThreshold(
                clinic_id=by.clinic_id,
                model_name=model_name,
                model_version=model_version,
                threshold=proposal.threshold,
                model_threshold=proposal.model_threshold,
                target_sensitivity=proposal.target,
                audit_cases=proposal.cases,
                malignant_cases=proposal.malignant,
                sensitivity_lower_bound=bound,
                adopted_at=now,
                adopted_by=by.actor,
            )
            session.add(row)
            await session.flush()
            record(
                session,
                by.actor,
                "threshold.adopt",
                by.clinic_id,
                "clinic_threshold",
                row.id,
                model=f"{model_name}:{model_version}",
                threshold=round(proposal.threshold, 4),
                model_threshold=round(proposal.model_threshold, 4),
                audit_cases=proposal.cases,
                malignant_cases=proposal.malignant,
            )
        self._cache.pop(by.clinic_id, None)
        return _info(row)

    async def withdraw(
        self, by: Principal, model_name: str, model_version: str
    ) -> ThresholdInForce:
        """The model's own threshold decides that version's results again."""
        by.require(Action.MANAGE_CLINIC)
        async with self.database.transaction() as session:
            row = await session.scalar(
                select(ClinicThreshold).where(
                    ClinicThreshold.clinic_id == by.clinic_id,
                    ClinicThreshold.model_name == model_name,
                    ClinicThreshold.model_version == model_version,
                    ClinicThreshold.withdrawn_at.is_(None),
                )
            )
            if row is None:
                raise NotFoundError(
                    f"no clinic threshold is in force for {model_name} version {model_version}"
                )
            row.withdrawn_at, row.withdrawn_by = utc_now(), by.actor
            record(
                session,
                by.actor,
                "threshold.withdraw",
                by.clinic_id,
                "clinic_threshold",
                row.id,
                model=f"{model_name}:{model_version}",
            )
        self._cache.pop(by.clinic_id, None)
        return _info(row)

    async def history(self, by: Principal) -> list[ThresholdInForce]:
        """Every threshold the clinic adopted, newest first, withdrawn ones included."""
        by.require(Action.READ_RECORDS)
        async with self.database.transaction() as session:
            rows = (
                await session.scalars(
                    select(ClinicThreshold)
                    .where(ClinicThreshold.clinic_id == by.clinic_id)
                    .order_by(ClinicThreshold.adopted_at.desc())
                )
            ).all()
        return [_info(r) for r in rows]


def _in_force_tuple(adopted: ThresholdInForce | None) -> tuple[float, str, float] | None:
    if adopted is None:
        return None
    return adopted.threshold, adopted.basis, adopted.model_threshold


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)
