"""The documented REST bodies are the ones sent: every result shape validates, and nothing is lost."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder

from gateway.rest.schemas import AnalysisBody, JobBody
from skinscan import Analysis, CropBox, Finding, HeatMap, Job, JobStatus, ModelRef, Severity
from tests.gateway_app import gateway_app

MODEL = ModelRef("skinscan-resnet50", "2")
ASSESSED = Analysis(
    request_id="r",
    model=MODEL,
    assessable=True,
    findings=(Finding("greyscale", Severity.WARNING, "no colour", 1.0),),
    label="benign",
    probabilities={"benign": 0.7, "malignant": 0.3},
    malignant_probability=0.3,
    decision_threshold=0.52,
    explanation="malignant probability 0.300, below the referral threshold 0.520: benign",
    heatmap=HeatMap(b"\x89PNG", CropBox(10.0, 0.0, 100.0, 100.0)),
)
REFUSED = Analysis(
    request_id="r",
    model=MODEL,
    assessable=False,
    findings=(Finding("too_dark", Severity.REFUSAL, "black", 1.0),),
)


def _sent(model: type[AnalysisBody] | type[JobBody], body: dict[str, Any]) -> dict[str, Any]:
    """What FastAPI sends for `body` under the route's response model."""
    return jsonable_encoder(model.model_validate(body), exclude_none=True)


def test_every_analysis_shape_is_sent_as_to_dict_makes_it() -> None:
    for analysis in (ASSESSED, REFUSED):
        assert _sent(AnalysisBody, analysis.to_dict()) == analysis.to_dict()
        assert Analysis.from_dict(_sent(AnalysisBody, analysis.to_dict())) == analysis


def test_jobs_are_sent_whole() -> None:
    for job in (
        Job("j", JobStatus.QUEUED, 0, 1.5, 1.5),
        Job("j", JobStatus.SUCCEEDED, 1, 1.5, 2.5, result=ASSESSED),
        Job("j", JobStatus.FAILED, 3, 1.5, 2.5, error="gave up"),
    ):
        assert _sent(JobBody, job.to_dict()) == job.to_dict()


def test_the_openapi_page_documents_the_result_with_examples() -> None:
    async def openapi() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            async with gateway_app(Path(folder), "127.0.0.1:1", 100) as gateway:
                return gateway.app.openapi()

    document = asyncio.run(openapi())
    ok = document["paths"]["/v1/analyses"]["post"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/AnalysisBody")
    schema = document["components"]["schemas"]["AnalysisBody"]
    assert {"assessable", "findings", "explanation", "heatmap"} <= set(schema["properties"])
    assert [example["assessable"] for example in schema["examples"]] == [True, False]
