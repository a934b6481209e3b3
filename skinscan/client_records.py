"""The Client's patient-record calls (skinscan.v1.RecordService), kept apart from the rest."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import grpc

from skinscan.grpc_status import raise_domain_error
from skinscan.record_convert import (
    create_patient_request,
    lesion_from_proto,
    lesion_image_upload,
    patient_from_proto,
    recorded_from_proto,
    review_from_proto,
    stamp,
)
from skinscan.records import Lesion, Page, Patient, RecordedAnalysis, Review
from skinscan.v1 import record_service_pb2 as pb

__all__ = ["RecordCalls"]


class RecordCalls:
    """Mixed into Client, which provides `_record_call`, `_records`, `_metadata`, `_timeout`."""

    _records: Any
    _timeout: float
    _wait_for_ready: bool

    def _record_call(self, method: str, request: object) -> Any:  # pragma: no cover - Client's
        raise NotImplementedError

    def _metadata(self) -> tuple[tuple[str, str], ...]:  # pragma: no cover - Client's
        raise NotImplementedError

    def create_patient(
        self,
        name: str,
        sex: str,
        birth_date: date | None = None,
        age_years: int | None = None,
        identifier: str | None = None,
    ) -> Patient:
        response = self._record_call(
            "CreatePatient",
            create_patient_request(name, sex, birth_date, age_years, identifier),
        )
        return patient_from_proto(response.patient)

    def search_patients(
        self,
        name: str | None = None,
        identifier: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Patient]:
        response = self._record_call(
            "SearchPatients",
            pb.SearchPatientsRequest(
                name=name or "", identifier=identifier or "", limit=limit, cursor=cursor or ""
            ),
        )
        return Page(
            [patient_from_proto(p) for p in response.patients], response.next_cursor or None
        )

    def get_patient(self, patient_id: str) -> Patient:
        response = self._record_call("GetPatient", pb.GetPatientRequest(patient_id=patient_id))
        return patient_from_proto(response.patient)

    def create_lesion(
        self,
        patient_id: str,
        body_site: str,
        description: str | None = None,
        first_seen: date | None = None,
    ) -> Lesion:
        response = self._record_call(
            "CreateLesion",
            pb.CreateLesionRequest(
                patient_id=patient_id,
                body_site=body_site,
                description=description or "",
                first_seen=first_seen.isoformat() if first_seen else "",
            ),
        )
        return lesion_from_proto(response.lesion)

    def list_lesions(self, patient_id: str) -> list[Lesion]:
        response = self._record_call("ListLesions", pb.ListLesionsRequest(patient_id=patient_id))
        return [lesion_from_proto(x) for x in response.lesions]

    def analyze_lesion(self, lesion_id: str, image: str | Path | bytes) -> RecordedAnalysis:
        """Analyses an image of a lesion and keeps the result in the lesion's record."""
        messages = lesion_image_upload(lesion_id, image)
        try:
            response = self._records.AnalyzeLesion(
                iter(messages),
                timeout=self._timeout,
                metadata=self._metadata(),
                wait_for_ready=self._wait_for_ready,
            )
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")
        return recorded_from_proto(response.recorded)

    def list_recorded_analyses(
        self,
        lesion_id: str | None = None,
        patient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        label: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RecordedAnalysis]:
        """A lesion's (or patient's, or the clinic's) analyses over time, newest first."""
        response = self._record_call(
            "ListRecordedAnalyses",
            pb.ListRecordedAnalysesRequest(
                lesion_id=lesion_id or "",
                patient_id=patient_id or "",
                since=stamp(since),
                until=stamp(until),
                label=label or "",
                limit=limit,
                cursor=cursor or "",
            ),
        )
        return Page(
            [recorded_from_proto(r) for r in response.analyses], response.next_cursor or None
        )

    def export_fhir(self, analysis_id: str) -> dict[str, Any]:
        """The recorded analysis as a FHIR R4 DiagnosticReport resource (parsed JSON)."""
        response = self._record_call("ExportFhir", pb.ExportFhirRequest(analysis_id=analysis_id))
        report: dict[str, Any] = json.loads(response.diagnostic_report_json)
        return report

    def request_review(
        self, analysis_id: str, note: str | None = None, assign_to: str | None = None
    ) -> Review:
        response = self._record_call(
            "RequestReview",
            pb.RequestReviewRequest(
                analysis_id=analysis_id, note=note or "", assign_to=assign_to or ""
            ),
        )
        return review_from_proto(response.review)

    def list_reviews(self, status: str = "open", analysis_id: str | None = None) -> list[Review]:
        response = self._record_call(
            "ListReviews", pb.ListReviewsRequest(status=status, analysis_id=analysis_id or "")
        )
        return [review_from_proto(r) for r in response.reviews]

    def decide_review(
        self, review_id: str, diagnosis: str, method: str, note: str | None = None
    ) -> Review:
        response = self._record_call(
            "DecideReview",
            pb.DecideReviewRequest(
                review_id=review_id, diagnosis=diagnosis, method=method, note=note or ""
            ),
        )
        return review_from_proto(response.review)
