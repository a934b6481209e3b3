from skinscan.v1 import analysis_pb2 as _analysis_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: _analysis_pb2.ImageMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class AnalyzeImageRequest(_message.Message):
    __slots__ = ("metadata", "image")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    metadata: _analysis_pb2.ImageMetadata
    image: bytes
    def __init__(self, metadata: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ..., image: _Optional[bytes] = ...) -> None: ...

class AnalyzeImageResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: _analysis_pb2.Analysis
    def __init__(self, analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: _analysis_pb2.Analysis
    def __init__(self, analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ...) -> None: ...

class AnalyzeBatchRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: _analysis_pb2.ImageMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class AnalyzeBatchResponse(_message.Message):
    __slots__ = ("index", "analysis", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    analysis: _analysis_pb2.Analysis
    error: _analysis_pb2.ImageError
    def __init__(self, index: _Optional[int] = ..., analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ..., error: _Optional[_Union[_analysis_pb2.ImageError, _Mapping]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: _analysis_pb2.ImageMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _analysis_pb2.Job
    def __init__(self, job: _Optional[_Union[_analysis_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "wait_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_S_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    wait_s: float
    def __init__(self, job_id: _Optional[str] = ..., wait_s: _Optional[float] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _analysis_pb2.Job
    def __init__(self, job: _Optional[_Union[_analysis_pb2.Job, _Mapping]] = ...) -> None: ...
