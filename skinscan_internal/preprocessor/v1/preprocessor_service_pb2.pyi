from skinscan.v1 import analysis_pb2 as _analysis_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClassifyHeader(_message.Message):
    __slots__ = ("request_id", "image")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    image: _analysis_pb2.ImageMetadata
    def __init__(self, request_id: _Optional[str] = ..., image: _Optional[_Union[_analysis_pb2.ImageMetadata, _Mapping]] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ClassifyHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ClassifyHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ClassifyImageRequest(_message.Message):
    __slots__ = ("header", "image")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    header: ClassifyHeader
    image: bytes
    def __init__(self, header: _Optional[_Union[ClassifyHeader, _Mapping]] = ..., image: _Optional[bytes] = ...) -> None: ...

class ClassifyImageResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: _analysis_pb2.Analysis
    def __init__(self, analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ...) -> None: ...

class ClassifyBatchRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ClassifyHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ClassifyHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: _analysis_pb2.Analysis
    def __init__(self, analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ...) -> None: ...

class ClassifyOutcome(_message.Message):
    __slots__ = ("analysis", "error")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    analysis: _analysis_pb2.Analysis
    error: _analysis_pb2.ImageError
    def __init__(self, analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ..., error: _Optional[_Union[_analysis_pb2.ImageError, _Mapping]] = ...) -> None: ...

class ClassifyBatchResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[ClassifyOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[ClassifyOutcome, _Mapping]]] = ...) -> None: ...
