"""An analysis in plain words: the result line, the findings' titles, body sites, diagnoses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from skinscan.analysis import Analysis, Finding, Severity
from skinscan_model.diagnoses import DIAGNOSES

__all__ = [
    "SHORT_DISCLAIMER",
    "ResultWords",
    "age_words",
    "body_site_words",
    "diagnosis_words",
    "finding_title",
    "result_words",
    "when_words",
]

# The banner on every result; the full disclaimer travels with the result too.
SHORT_DISCLAIMER = "AI-assisted assessment; not a substitute for a dermatologist."

_FINDING_TITLES = {
    "out_of_distribution": "Not a dermoscopic image of a lesion",
    "clinical_photograph": "Taken without a dermatoscope",
    "not_skin": "Not a picture of skin",
    "blurred": "Out of focus",
    "noisy": "Grainy or noisy",
    "too_dark": "Too dark",
    "overexposed": "Overexposed",
    "low_resolution": "Low resolution",
    "greyscale": "No colour",
    "conflicting_evidence": "Conflicting evidence",
    "borderline": "Borderline result",
}


def when_words(moment: datetime | None) -> str:
    """A moment in UTC, as the pages and the PDF print it (stored times without a zone are UTC)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def age_words(birth: date | None, age_years: int | None, today: date | None = None) -> str:
    """The age from a date of birth, else the age given when the patient was registered."""
    if birth is not None:
        on = today or date.today()
        years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        return f"{years} years (born {birth.isoformat()})"
    if age_years is not None:
        return f"{age_years} years when registered"
    return "age not recorded"


def finding_title(finding: Finding) -> str:
    return _FINDING_TITLES.get(finding.code, finding.code.replace("_", " ").capitalize())


def body_site_words(site: str) -> str:
    return site.replace("_", " ").capitalize()


def diagnosis_words(code: str | None) -> str:
    diagnosis = DIAGNOSES.get(code or "")
    if diagnosis is None:
        return code or "—"
    return f"{diagnosis.name} ({'malignant' if diagnosis.malignant else 'benign'})"


@dataclass(frozen=True)
class ResultWords:
    headline: str  # "Basal cell carcinoma — malignant", or "Cannot be assessed"
    tone: str  # "malignant", "benign" or "refused": how the page colours it
    confidence: float | None  # the probability of the decided label
    refusals: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    diagnoses: tuple[tuple[str, str, float], ...]  # (code, name, probability), likeliest first


def result_words(analysis: Analysis) -> ResultWords:
    refusals = tuple(f for f in analysis.findings if f.severity is Severity.REFUSAL)
    warnings = tuple(f for f in analysis.findings if f.severity is Severity.WARNING)
    if not analysis.assessable:
        return ResultWords("Cannot be assessed", "refused", None, refusals, warnings, ())
    decided = analysis.label.capitalize()
    diagnoses: tuple[tuple[str, str, float], ...] = ()
    if analysis.diagnosis is not None:
        headline = f"{analysis.diagnosis.name} — {analysis.label}"
        diagnoses = tuple(
            sorted(
                (
                    (code, DIAGNOSES[code].name if code in DIAGNOSES else code, p)
                    for code, p in analysis.diagnosis.probabilities.items()
                ),
                key=lambda item: -item[2],
            )
        )
    else:
        headline = decided
    return ResultWords(
        headline,
        analysis.label if analysis.label in ("malignant", "benign") else "benign",
        analysis.probabilities.get(analysis.label),
        refusals,
        warnings,
        diagnoses,
    )
