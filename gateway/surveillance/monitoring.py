"""What Prometheus sees of each clinic: its results by outcome (drift in what the gate
refuses), and its audit sensitivity against the promise (the alert
SkinscanClinicSensitivityBelowTarget in k8s/components/monitoring)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway import metrics
from gateway.surveillance.performance import VersionPerformance
from skinscan.analysis import Analysis

__all__ = ["count_result", "publish_performance"]


def count_result(clinic_id: str, analysis: Analysis) -> None:
    """One answered result of the clinic: assessed, or the first refusal's code."""
    refusals = analysis.refusals
    outcome = "assessed" if analysis.assessable or not refusals else refusals[0].code
    metrics.CLINIC_RESULTS_TOTAL.labels(clinic=clinic_id, outcome=outcome).inc()


def publish_performance(clinic_id: str, versions: Iterable[VersionPerformance]) -> None:
    """The clinic's audit sensitivity per model version, where it has malignant audit cases
    and the version declares its target."""
    for version in versions:
        labels = {
            "clinic": clinic_id,
            "model": version.model_name,
            "version": version.model_version,
        }
        interval = version.audit.sensitivity.interval
        if interval is None or version.target_sensitivity is None:
            continue
        metrics.CLINIC_AUDIT_SENSITIVITY_UPPER.labels(**labels).set(interval[1])
        metrics.CLINIC_AUDIT_MALIGNANT.labels(**labels).set(version.audit.sensitivity.total)
        metrics.CLINIC_TARGET_SENSITIVITY.labels(**labels).set(version.target_sensitivity)
