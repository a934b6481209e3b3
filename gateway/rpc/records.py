"""skinscan.v1.RecordService servicer: protobuf in and out over the record services."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc

from gateway.records import Records
from gateway.rpc.auth import caller
from skinscan.record_convert import (
    lesion_to_proto,
    optional_date,
    optional_moment,
    patient_to_proto,
    recorded_to_proto,
    review_to_proto,
)
from skinscan.v1 import record_service_pb2 as pb
from skinscan.v1 import record_service_pb2_grpc as pb_grpc
from skinscan_kit.uploads import collect_upload

__all__ = ["RecordServicer"]


class RecordServicer(pb_grpc.RecordServiceServicer):
    def __init__(self, records: Records, max_image_bytes: int) -> None:
        self.records = records
        self.max_image_bytes = max_image_bytes

    async def CreatePatient(
        self, request: pb.CreatePatientRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePatientResponse:
        patient = await self.records.patients.create(
            caller(),
            request.name,
            request.sex,
            optional_date(request.birth_date, "birth_date"),
            request.age_years if request.HasField("age_years") else None,
            request.identifier or None,
        )
        return pb.CreatePatientResponse(patient=patient_to_proto(patient))

    async def SearchPatients(
        self, request: pb.SearchPatientsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchPatientsResponse:
        page = await self.records.patients.search(
            caller(),
            request.name or None,
            request.identifier or None,
            request.limit or 50,
            request.cursor or None,
        )
        return pb.SearchPatientsResponse(
            patients=[patient_to_proto(p) for p in page.items], next_cursor=page.next_cursor or ""
        )

    async def GetPatient(
        self, request: pb.GetPatientRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPatientResponse:
        patient = await self.records.patients.get(caller(), request.patient_id)
        return pb.GetPatientResponse(patient=patient_to_proto(patient))

    async def CreateLesion(
        self, request: pb.CreateLesionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateLesionResponse:
        lesion = await self.records.lesions.create(
            caller(),
            request.patient_id,
            request.body_site,
            request.description or None,
            optional_date(request.first_seen, "first_seen"),
        )
        return pb.CreateLesionResponse(lesion=lesion_to_proto(lesion))

    async def ListLesions(
        self, request: pb.ListLesionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLesionsResponse:
        lesions = await self.records.lesions.of_patient(caller(), request.patient_id)
        return pb.ListLesionsResponse(lesions=[lesion_to_proto(x) for x in lesions])

    async def AnalyzeLesion(
        self,
        request_iterator: AsyncIterator[pb.AnalyzeLesionRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.AnalyzeLesionResponse:
        metadata, data = await collect_upload(request_iterator, "metadata", self.max_image_bytes)
        recorded = await self.records.analyses.analyze(caller(), metadata.lesion_id, data)
        return pb.AnalyzeLesionResponse(recorded=recorded_to_proto(recorded))

    async def ListRecordedAnalyses(
        self, request: pb.ListRecordedAnalysesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRecordedAnalysesResponse:
        page = await self.records.analyses.search(
            caller(),
            lesion_id=request.lesion_id or None,
            patient_id=request.patient_id or None,
            since=optional_moment(request, "since"),
            until=optional_moment(request, "until"),
            label=request.label or None,
            limit=request.limit or 50,
            cursor=request.cursor or None,
        )
        return pb.ListRecordedAnalysesResponse(
            analyses=[recorded_to_proto(r) for r in page.items], next_cursor=page.next_cursor or ""
        )

    async def ExportFhir(
        self, request: pb.ExportFhirRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportFhirResponse:
        report = await self.records.analyses.fhir(caller(), request.analysis_id)
        return pb.ExportFhirResponse(diagnostic_report_json=json.dumps(report))

    async def RequestReview(
        self, request: pb.RequestReviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestReviewResponse:
        review = await self.records.reviews.request(
            caller(), request.analysis_id, request.note or None, request.assign_to or None
        )
        return pb.RequestReviewResponse(review=review_to_proto(review))

    async def ListReviews(
        self, request: pb.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReviewsResponse:
        reviews = await self.records.reviews.queue(
            caller(), request.status or "open", request.analysis_id or None
        )
        return pb.ListReviewsResponse(reviews=[review_to_proto(r) for r in reviews])

    async def DecideReview(
        self, request: pb.DecideReviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecideReviewResponse:
        review = await self.records.reviews.decide(
            caller(), request.review_id, request.diagnosis, request.method, request.note or None
        )
        return pb.DecideReviewResponse(review=review_to_proto(review))
