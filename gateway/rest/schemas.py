"""The REST bodies as OpenAPI documents them: the same fields as skinscan.v1, with examples.

Routes return `Analysis.to_dict()` / `Job.to_dict()`; FastAPI checks each
answer against these models, so the documented shape is the one sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skinscan.analysis import DISCLAIMER, Analysis

__all__ = ["AnalysisBody", "BatchBody", "ImageErrorBody", "JobBody", "jsonable"]


class FindingBody(BaseModel):
    code: str = Field(description="Stable machine code, e.g. too_dark, blurred, borderline.")
    severity: Literal["warning", "refusal"] = Field(
        description="A refusal makes the image not assessable; a warning travels with a result."
    )
    reason: str = Field(description="What was found and what to do, for a person to read.")
    value: float = Field(description="The measured value the finding rests on.")


class CropBoxBody(BaseModel):
    left: float
    top: float
    width: float
    height: float


class HeatMapBody(BaseModel):
    png_base64: str = Field(
        description="Base64 of an 8-bit greyscale PNG at the model's input size; brighter where "
        "the decided class drew more evidence."
    )
    crop: CropBoxBody = Field(
        description="The square of the upright upload the model saw: stretch the PNG over it."
    )


class DiagnosisBody(BaseModel):
    code: str = Field(description="The most probable HAM10000 diagnosis code, e.g. bcc.")
    name: str = Field(description="Its name in plain language, e.g. Basal cell carcinoma.")
    malignant: bool = Field(description="Whether it is malignant or pre-malignant.")
    probabilities: dict[str, float] = Field(
        description="Calibrated probability of each of the seven codes, in a stable order."
    )


class ModelRefBody(BaseModel):
    name: str
    version: str


class AnalysisBody(BaseModel):
    """One analysed image. When `assessable` is false only the findings say why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "6f1c0e9b2a7d4c55b8e1f0a3d2c4b6a8",
                    "assessable": True,
                    "label": "malignant",
                    "probabilities": {"benign": 0.4482, "malignant": 0.5518},
                    "malignant_probability": 0.5518,
                    "decision_threshold": 0.5239,
                    "threshold_basis": "the model's threshold",
                    "target_sensitivity": 0.9,
                    "explanation": "malignant probability 0.552, at or above the referral "
                    "threshold 0.524: malignant",
                    "diagnosis": {
                        "code": "bcc",
                        "name": "Basal cell carcinoma",
                        "malignant": True,
                        "probabilities": {
                            "akiec": 0.05,
                            "bcc": 0.62,
                            "bkl": 0.08,
                            "df": 0.02,
                            "mel": 0.1,
                            "nv": 0.12,
                            "vasc": 0.01,
                        },
                    },
                    "heatmap": {
                        "png_base64": "iVBORw0KGgo...",
                        "crop": {"left": 0.0, "top": 0.0, "width": 224.0, "height": 224.0},
                    },
                    "findings": [
                        {
                            "code": "borderline",
                            "severity": "warning",
                            "reason": "the malignant probability is within 0.05 of the referral "
                            "threshold: the decision could go either way; have a dermatologist "
                            "review it",
                            "value": 0.0279,
                        }
                    ],
                    "model": {"name": "skinscan-resnet50", "version": "3"},
                    "disclaimer": DISCLAIMER,
                },
                {
                    "request_id": "0b7e3f1a9c2d4e6f8a1b3c5d7e9f0a2b",
                    "assessable": False,
                    "findings": [
                        {
                            "code": "too_dark",
                            "severity": "refusal",
                            "reason": "100.0% of the image is black: light the lesion "
                            "(dermatoscope light on, contact with the skin) and retake it",
                            "value": 1.0,
                        }
                    ],
                    "model": {"name": "skinscan-resnet50", "version": "3"},
                    "disclaimer": DISCLAIMER,
                },
            ]
        }
    )

    request_id: str
    assessable: bool
    label: str | None = Field(None, description="The decision; absent when not assessable.")
    probabilities: dict[str, float] | None = Field(
        None, description="Calibrated probability of each label, in a stable order."
    )
    malignant_probability: float | None = None
    decision_threshold: float | None = Field(
        None, description="The referral threshold, chosen for a target sensitivity."
    )
    threshold_basis: str | None = Field(
        None,
        description="Which threshold decided: \"the model's threshold\", or the clinic's own "
        '("clinic threshold 0.710, adopted 2026-12-20 from 64 audit cases").',
    )
    target_sensitivity: float | None = Field(
        None, description="The sensitivity the threshold was chosen for; 0 if not declared."
    )
    explanation: str | None = Field(None, description="The decision in words.")
    diagnosis: DiagnosisBody | None = None
    heatmap: HeatMapBody | None = None
    findings: list[FindingBody]
    model: ModelRefBody
    disclaimer: str


class JobBody(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    attempts: int
    created_at: float = Field(description="Seconds since the Unix epoch.")
    updated_at: float
    result: AnalysisBody | None = Field(None, description="Set once the job has succeeded.")
    error: str | None = Field(None, description="Why the job failed.")


class ImageErrorBody(BaseModel):
    """Why one image of several has no analysis: what a call for it alone would have answered."""

    status: int = Field(description="The HTTP status a call for this image alone would have had")
    error: str = Field(description="What went wrong and what to do about it")
    retry_after_s: float | None = Field(
        default=None, description="For 429 and 503: seconds to wait before sending it again"
    )


class BatchItemBody(BaseModel):
    """One image of a batch: its analysis, or why it has none."""

    index: int = Field(description="The image's position among the uploaded files, from 0")
    filename: str
    analysis: AnalysisBody | None = None
    error: ImageErrorBody | None = None


class BatchBody(BaseModel):
    """One entry per uploaded image, in the order they were uploaded."""

    results: list[BatchItemBody]


def jsonable(value: Any) -> Any:
    """A route's answer from the SDK's dataclasses: plain dicts, an Analysis as its to_dict()."""
    if isinstance(value, Analysis):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
