"""A recorded analysis as a FHIR R4 DiagnosticReport with its Observations, for an EHR.

Built and validated with `fhir.resources` (its R4B models: FHIR 4.3, whose
DiagnosticReport and Observation are R4's), so what leaves is well-formed
FHIR. The Observations travel inside the report (`contained`), so one JSON
document is the whole export. The patient is referred to by id and, where the
clinic recorded one, by its identifier; no name is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from skinscan.analysis import DISCLAIMER
from skinscan.records import Lesion, Patient, RecordedAnalysis

__all__ = ["CODE_SYSTEM", "diagnostic_report"]

# skinscan's own code system: FHIR allows local codes where no standard one
# means exactly this, and a wrong LOINC or SNOMED code would be worse.
CODE_SYSTEM = "https://skinscan.dev/fhir/CodeSystem"
UCUM = "http://unitsofmeasure.org"


def _concept(kind: str, code: str, display: str) -> dict[str, Any]:
    return {
        "coding": [{"system": f"{CODE_SYSTEM}/{kind}", "code": code, "display": display}],
        "text": display,
    }


def _probability(value: float) -> dict[str, Any]:
    return {"value": round(value, 4), "unit": "probability", "system": UCUM, "code": "1"}


def diagnostic_report(
    record: RecordedAnalysis, patient: Patient, lesion: Lesion, issued: datetime
) -> dict[str, Any]:
    analysis = record.analysis
    subject: dict[str, Any] = {"reference": f"Patient/{patient.id}"}
    if patient.identifier:
        subject["identifier"] = {"value": patient.identifier}
    site = {"text": lesion.body_site.replace("_", " ")}
    when = record.created_at.isoformat()
    device = f"skinscan model {analysis.model.name} version {analysis.model.version}"

    def observation(key: str, code: dict[str, Any], **value: Any) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": key,
            "status": "final",
            "code": code,
            "subject": subject,
            "effectiveDateTime": when,
            "bodySite": site,
            "device": {"display": device},
            **value,
        }

    observations = []
    if analysis.assessable:
        observations.append(
            observation(
                "malignant-probability",
                _concept("observation", "malignant-probability", "Probability of malignancy"),
                valueQuantity=_probability(analysis.malignant_probability),
                referenceRange=[
                    {
                        "high": _probability(analysis.decision_threshold),
                        "text": "referral threshold: at or above it, refer to a dermatologist"
                        + (f" ({analysis.threshold_basis})" if analysis.threshold_basis else ""),
                    }
                ],
            )
        )
        observations.append(
            observation(
                "decision",
                _concept("observation", "decision", "Triage decision"),
                valueCodeableConcept=_concept("decision", analysis.label, analysis.label),
                note=[{"text": analysis.explanation}],
            )
        )
        if analysis.diagnosis is not None:
            d = analysis.diagnosis
            observations.append(
                observation(
                    "diagnosis",
                    _concept("observation", "diagnosis", "Most likely diagnosis"),
                    valueCodeableConcept=_concept("diagnosis", d.code, d.name),
                    component=[
                        {
                            "code": _concept("diagnosis", code, code),
                            "valueQuantity": _probability(p),
                        }
                        for code, p in d.probabilities.items()
                    ],
                )
            )
    for index, finding in enumerate(analysis.findings):
        observations.append(
            observation(
                f"finding-{index + 1}",
                _concept("finding", finding.code, finding.code.replace("_", " ")),
                valueQuantity={"value": round(finding.value, 6)},
                interpretation=[
                    _concept("severity", finding.severity.value, finding.severity.value)
                ],
                note=[{"text": finding.reason}],
            )
        )
    conclusion = (
        analysis.explanation
        if analysis.assessable
        else "Not assessable: " + "; ".join(f.reason for f in analysis.refusals)
    )
    report = {
        "resourceType": "DiagnosticReport",
        "id": record.id,
        "identifier": [{"system": f"{CODE_SYSTEM}/analysis-id", "value": record.id}],
        "status": "final",
        "category": [_concept("category", "dermoscopy-triage", "AI-assisted dermoscopy triage")],
        "code": _concept("report", "dermoscopy-triage", "AI-assisted dermoscopy triage"),
        "subject": subject,
        "effectiveDateTime": when,
        "issued": issued.isoformat(),
        "performer": [{"display": device}],
        "contained": observations,
        "result": [{"reference": f"#{o['id']}"} for o in observations],
        "conclusion": f"{conclusion}. {DISCLAIMER}",
    }
    return DiagnosticReport.model_validate(report).model_dump(mode="json", exclude_none=True)
