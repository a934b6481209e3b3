"""REST routes of a clinic's own thresholds: measured performance, adoption, withdrawal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from gateway.accounts import Principal
from gateway.records import Records
from gateway.rest.auth import Authenticate
from gateway.rest.record_schemas import AdoptThresholdBody, ModelPerformanceBody, ThresholdBody

__all__ = ["thresholds_router"]


def thresholds_router(records: Records, authenticated: Authenticate) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["clinic thresholds"])
    thresholds = records.thresholds

    @router.get(
        "/reviews/performance",
        summary="Each model version at your clinic: sensitivity and specificity on audit cases "
        "at the threshold in force (95% intervals), chosen cases beside them, and the "
        "threshold the audit cases support",
        response_model=list[ModelPerformanceBody],
    )
    async def performance(caller: Principal = Depends(authenticated)) -> Any:
        return [ModelPerformanceBody.of(model) for model in await thresholds.performance(caller)]

    @router.get(
        "/clinic/thresholds",
        summary="Every threshold your clinic adopted, newest first, withdrawn ones included",
        response_model=list[ThresholdBody],
    )
    async def history(caller: Principal = Depends(authenticated)) -> Any:
        return [ThresholdBody.of(t) for t in await thresholds.history(caller)]

    @router.post(
        "/clinic/thresholds",
        status_code=201,
        summary="Adopt, for a model version, the threshold your confirmed audit cases support "
        "now (admins); later results of that version are decided by it",
        response_model=ThresholdBody,
    )
    async def adopt(body: AdoptThresholdBody, caller: Principal = Depends(authenticated)) -> Any:
        return ThresholdBody.of(await thresholds.adopt(caller, body.model_name, body.model_version))

    @router.delete(
        "/clinic/thresholds/{model_name}/{model_version}",
        summary="Withdraw the clinic threshold of a model version (admins): the model's own "
        "decides again",
        response_model=ThresholdBody,
    )
    async def withdraw(
        model_name: str, model_version: str, caller: Principal = Depends(authenticated)
    ) -> Any:
        return ThresholdBody.of(await thresholds.withdraw(caller, model_name, model_version))

    return router
