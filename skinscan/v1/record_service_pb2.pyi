import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skinscan.v1 import analysis_pb2 as _analysis_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Patient(_message.Message):
    __slots__ = ("id", "name", "sex", "birth_date", "age_years", "identifier", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    AGE_YEARS_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    sex: str
    birth_date: str
    age_years: int
    identifier: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., sex: _Optional[str] = ..., birth_date: _Optional[str] = ..., age_years: _Optional[int] = ..., identifier: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Lesion(_message.Message):
    __slots__ = ("id", "patient_id", "body_site", "description", "first_seen", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_SITE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    patient_id: str
    body_site: str
    description: str
    first_seen: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., patient_id: _Optional[str] = ..., body_site: _Optional[str] = ..., description: _Optional[str] = ..., first_seen: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordedAnalysis(_message.Message):
    __slots__ = ("id", "lesion_id", "patient_id", "created_at", "created_by", "image_sha256", "image_kept", "analysis")
    ID_FIELD_NUMBER: _ClassVar[int]
    LESION_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SHA256_FIELD_NUMBER: _ClassVar[int]
    IMAGE_KEPT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    id: str
    lesion_id: str
    patient_id: str
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    image_sha256: str
    image_kept: bool
    analysis: _analysis_pb2.Analysis
    def __init__(self, id: _Optional[str] = ..., lesion_id: _Optional[str] = ..., patient_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., image_sha256: _Optional[str] = ..., image_kept: _Optional[bool] = ..., analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("id", "analysis_id", "patient_id", "status", "requested_by", "requested_at", "note", "assigned_to", "diagnosis", "method", "review_note", "reviewed_by", "reviewed_at", "audit")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_TO_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REVIEW_NOTE_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    id: str
    analysis_id: str
    patient_id: str
    status: str
    requested_by: str
    requested_at: _timestamp_pb2.Timestamp
    note: str
    assigned_to: str
    diagnosis: str
    method: str
    review_note: str
    reviewed_by: str
    reviewed_at: _timestamp_pb2.Timestamp
    audit: bool
    def __init__(self, id: _Optional[str] = ..., analysis_id: _Optional[str] = ..., patient_id: _Optional[str] = ..., status: _Optional[str] = ..., requested_by: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ..., assigned_to: _Optional[str] = ..., diagnosis: _Optional[str] = ..., method: _Optional[str] = ..., review_note: _Optional[str] = ..., reviewed_by: _Optional[str] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., audit: _Optional[bool] = ...) -> None: ...

class CreatePatientRequest(_message.Message):
    __slots__ = ("name", "sex", "birth_date", "age_years", "identifier")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    AGE_YEARS_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    name: str
    sex: str
    birth_date: str
    age_years: int
    identifier: str
    def __init__(self, name: _Optional[str] = ..., sex: _Optional[str] = ..., birth_date: _Optional[str] = ..., age_years: _Optional[int] = ..., identifier: _Optional[str] = ...) -> None: ...

class CreatePatientResponse(_message.Message):
    __slots__ = ("patient",)
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    patient: Patient
    def __init__(self, patient: _Optional[_Union[Patient, _Mapping]] = ...) -> None: ...

class SearchPatientsRequest(_message.Message):
    __slots__ = ("name", "identifier", "limit", "cursor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    identifier: str
    limit: int
    cursor: str
    def __init__(self, name: _Optional[str] = ..., identifier: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class SearchPatientsResponse(_message.Message):
    __slots__ = ("patients", "next_cursor")
    PATIENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    patients: _containers.RepeatedCompositeFieldContainer[Patient]
    next_cursor: str
    def __init__(self, patients: _Optional[_Iterable[_Union[Patient, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetPatientRequest(_message.Message):
    __slots__ = ("patient_id",)
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    def __init__(self, patient_id: _Optional[str] = ...) -> None: ...

class GetPatientResponse(_message.Message):
    __slots__ = ("patient",)
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    patient: Patient
    def __init__(self, patient: _Optional[_Union[Patient, _Mapping]] = ...) -> None: ...

class CreateLesionRequest(_message.Message):
    __slots__ = ("patient_id", "body_site", "description", "first_seen")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_SITE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    body_site: str
    description: str
    first_seen: str
    def __init__(self, patient_id: _Optional[str] = ..., body_site: _Optional[str] = ..., description: _Optional[str] = ..., first_seen: _Optional[str] = ...) -> None: ...

class CreateLesionResponse(_message.Message):
    __slots__ = ("lesion",)
    LESION_FIELD_NUMBER: _ClassVar[int]
    lesion: Lesion
    def __init__(self, lesion: _Optional[_Union[Lesion, _Mapping]] = ...) -> None: ...

class ListLesionsRequest(_message.Message):
    __slots__ = ("patient_id",)
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    def __init__(self, patient_id: _Optional[str] = ...) -> None: ...

class ListLesionsResponse(_message.Message):
    __slots__ = ("lesions",)
    LESIONS_FIELD_NUMBER: _ClassVar[int]
    lesions: _containers.RepeatedCompositeFieldContainer[Lesion]
    def __init__(self, lesions: _Optional[_Iterable[_Union[Lesion, _Mapping]]] = ...) -> None: ...

class LesionImageMetadata(_message.Message):
    __slots__ = ("lesion_id", "image")
    LESION_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    lesion_id: str
    image: _analysis_pb2.ImageMetadata
    def __init__(self, lesion_id: _Optional[str] = ..., image: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ...) -> None: ...

class AnalyzeLesionRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: LesionImageMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[LesionImageMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class AnalyzeLesionResponse(_message.Message):
    __slots__ = ("recorded",)
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    recorded: RecordedAnalysis
    def __init__(self, recorded: _Optional[_Union[RecordedAnalysis, _Mapping]] = ...) -> None: ...

class ListRecordedAnalysesRequest(_message.Message):
    __slots__ = ("lesion_id", "patient_id", "since", "until", "label", "limit", "cursor")
    LESION_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    lesion_id: str
    patient_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    label: str
    limit: int
    cursor: str
    def __init__(self, lesion_id: _Optional[str] = ..., patient_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., label: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListRecordedAnalysesResponse(_message.Message):
    __slots__ = ("analyses", "next_cursor")
    ANALYSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    analyses: _containers.RepeatedCompositeFieldContainer[RecordedAnalysis]
    next_cursor: str
    def __init__(self, analyses: _Optional[_Iterable[_Union[RecordedAnalysis, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ExportFhirRequest(_message.Message):
    __slots__ = ("analysis_id",)
    ANALYSIS_ID_FIELD_NUMBER: _ClassVar[int]
    analysis_id: str
    def __init__(self, analysis_id: _Optional[str] = ...) -> None: ...

class ExportFhirResponse(_message.Message):
    __slots__ = ("diagnostic_report_json",)
    DIAGNOSTIC_REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    diagnostic_report_json: str
    def __init__(self, diagnostic_report_json: _Optional[str] = ...) -> None: ...

class RequestReviewRequest(_message.Message):
    __slots__ = ("analysis_id", "note", "assign_to")
    ANALYSIS_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_TO_FIELD_NUMBER: _ClassVar[int]
    analysis_id: str
    note: str
    assign_to: str
    def __init__(self, analysis_id: _Optional[str] = ..., note: _Optional[str] = ..., assign_to: _Optional[str] = ...) -> None: ...

class RequestReviewResponse(_message.Message):
    __slots__ = ("review",)
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    review: Review
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("status", "analysis_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    analysis_id: str
    def __init__(self, status: _Optional[str] = ..., analysis_id: _Optional[str] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews",)
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ...) -> None: ...

class DecideReviewRequest(_message.Message):
    __slots__ = ("review_id", "diagnosis", "method", "note")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    diagnosis: str
    method: str
    note: str
    def __init__(self, review_id: _Optional[str] = ..., diagnosis: _Optional[str] = ..., method: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class DecideReviewResponse(_message.Message):
    __slots__ = ("review",)
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    review: Review
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ...) -> None: ...
