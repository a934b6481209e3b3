"""REST routes of patient records: patients, lesions, recorded analyses, reviews, FHIR, clinic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from gateway.accounts import Principal
from gateway.records import Records
from gateway.rest.auth import Authenticate
from gateway.rest.record_schemas import (
    ClinicBody,
    ClinicUpdateBody,
    LesionBody,
    NewLesionBody,
    NewPatientBody,
    NewReviewBody,
    PatientBody,
    PatientPage,
    RecordedAnalysisBody,
    RecordedAnalysisPage,
    ReviewBody,
    ReviewDecisionBody,
)
from gateway.rest.schemas import jsonable
from gateway.rest.uploads import read_image

__all__ = ["records_router"]

Limit = Annotated[int, Query(ge=1, le=200, description="At most this many per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def records_router(
    records: Records, max_image_bytes: int, authenticated: Authenticate
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["records"])

    @router.post(
        "/patients", status_code=201, summary="Register a patient", response_model=PatientBody
    )
    async def create_patient(
        body: NewPatientBody, caller: Principal = Depends(authenticated)
    ) -> Any:
        return jsonable(
            await records.patients.create(
                caller, body.name, body.sex, body.birth_date, body.age_years, body.identifier
            )
        )

    @router.get(
        "/patients",
        summary="Your clinic's patients, newest first; exact match on name or identifier",
        response_model=PatientPage,
    )
    async def search_patients(
        caller: Principal = Depends(authenticated),
        name: str | None = None,
        identifier: str | None = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:
        return jsonable(await records.patients.search(caller, name, identifier, limit, cursor))

    @router.get("/patients/{patient_id}", summary="One patient", response_model=PatientBody)
    async def get_patient(patient_id: str, caller: Principal = Depends(authenticated)) -> Any:
        return jsonable(await records.patients.get(caller, patient_id))

    @router.get(
        "/patients/{patient_id}/export",
        summary="Everything held about a patient (GDPR article 15)",
    )
    async def export_patient(patient_id: str, caller: Principal = Depends(authenticated)) -> Any:
        return await records.patients.export(caller, patient_id)

    @router.delete(
        "/patients/{patient_id}",
        status_code=204,
        summary="Erase a patient and all their records (GDPR article 17; admins)",
    )
    async def erase_patient(
        patient_id: str, caller: Principal = Depends(authenticated)
    ) -> Response:
        await records.patients.erase(caller, patient_id)
        return Response(status_code=204)

    @router.post(
        "/patients/{patient_id}/lesions",
        status_code=201,
        summary="Add a lesion to a patient",
        response_model=LesionBody,
    )
    async def create_lesion(
        patient_id: str, body: NewLesionBody, caller: Principal = Depends(authenticated)
    ) -> Any:
        return jsonable(
            await records.lesions.create(
                caller, patient_id, body.body_site, body.description, body.first_seen
            )
        )

    @router.get(
        "/patients/{patient_id}/lesions",
        summary="A patient's lesions",
        response_model=list[LesionBody],
    )
    async def list_lesions(patient_id: str, caller: Principal = Depends(authenticated)) -> Any:
        return jsonable(await records.lesions.of_patient(caller, patient_id))

    @router.post(
        "/lesions/{lesion_id}/analyses",
        status_code=201,
        summary="Analyse an image of a lesion and keep the result in its record",
        response_model=RecordedAnalysisBody,
        response_model_exclude_none=True,
    )
    async def analyze_lesion(
        lesion_id: str,
        caller: Principal = Depends(authenticated),
        image: UploadFile = File(..., description="JPEG or PNG"),
    ) -> Any:
        data = await read_image(image, max_image_bytes)
        return jsonable(await records.analyses.analyze(caller, lesion_id, data))

    @router.get(
        "/lesions/{lesion_id}/analyses",
        summary="A lesion's analyses over time, newest first",
        response_model=RecordedAnalysisPage,
        response_model_exclude_none=True,
    )
    async def lesion_history(
        lesion_id: str,
        caller: Principal = Depends(authenticated),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:
        return jsonable(
            await records.analyses.search(
                caller, lesion_id=lesion_id, since=since, until=until, limit=limit, cursor=cursor
            )
        )

    @router.get(
        "/records/analyses",
        summary="Recorded analyses of your clinic, by patient, date and result",
        response_model=RecordedAnalysisPage,
        response_model_exclude_none=True,
    )
    async def search_analyses(
        caller: Principal = Depends(authenticated),
        patient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        label: str | None = Query(None, description="benign, malignant or not_assessable"),
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Any:
        return jsonable(
            await records.analyses.search(
                caller,
                patient_id=patient_id,
                since=since,
                until=until,
                label=label,
                limit=limit,
                cursor=cursor,
            )
        )

    @router.get(
        "/records/analyses/{analysis_id}",
        summary="One recorded analysis",
        response_model=RecordedAnalysisBody,
        response_model_exclude_none=True,
    )
    async def get_analysis(analysis_id: str, caller: Principal = Depends(authenticated)) -> Any:
        return jsonable(await records.analyses.get(caller, analysis_id))

    @router.get(
        "/records/analyses/{analysis_id}/fhir",
        summary="The analysis as a FHIR R4 DiagnosticReport with contained Observations",
        response_class=Response,
        responses={200: {"content": {"application/fhir+json": {}}}},
    )
    async def export_fhir(analysis_id: str, caller: Principal = Depends(authenticated)) -> Response:
        import json

        report = await records.analyses.fhir(caller, analysis_id)
        return Response(json.dumps(report), media_type="application/fhir+json")

    @router.post(
        "/records/analyses/{analysis_id}/reviews",
        status_code=201,
        summary="Send a case to a dermatologist",
        response_model=ReviewBody,
    )
    async def request_review(
        analysis_id: str, body: NewReviewBody, caller: Principal = Depends(authenticated)
    ) -> Any:
        return jsonable(
            await records.reviews.request(caller, analysis_id, body.note, body.assign_to)
        )

    @router.get(
        "/reviews",
        summary="Reviews of your clinic (a dermatologist's queue: theirs and unassigned)",
        response_model=list[ReviewBody],
    )
    async def list_reviews(
        caller: Principal = Depends(authenticated),
        status: str = Query("open", description="open or done"),
        analysis_id: str | None = None,
    ) -> Any:
        return jsonable(await records.reviews.queue(caller, status, analysis_id))

    @router.post(
        "/reviews/{review_id}/decision",
        summary="Record the confirmed diagnosis (dermatologists)",
        response_model=ReviewBody,
    )
    async def decide_review(
        review_id: str, body: ReviewDecisionBody, caller: Principal = Depends(authenticated)
    ) -> Any:
        return jsonable(
            await records.reviews.decide(caller, review_id, body.diagnosis, body.method, body.note)
        )

    @router.get("/clinic", summary="Your clinic and its settings", response_model=ClinicBody)
    async def get_clinic(caller: Principal = Depends(authenticated)) -> Any:
        return jsonable(await records.clinic.get(caller))

    @router.patch(
        "/clinic",
        summary="Keep uploaded images (encrypted) and for how long; the audit share (admins)",
        response_model=ClinicBody,
    )
    async def update_clinic(
        body: ClinicUpdateBody, caller: Principal = Depends(authenticated)
    ) -> Any:
        return jsonable(
            await records.clinic.update(
                caller, body.keep_images, body.image_retention_days, body.audit_share
            )
        )

    return router
