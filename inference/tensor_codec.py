"""Open Inference Protocol tensors <-> numpy arrays."""

from __future__ import annotations

import numpy as np

from skinscan.errors import InvalidRequestError
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb

__all__ = ["decode_inputs", "encode_outputs"]

DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
# Which typed field of InferTensorContents carries each datatype.
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}
DATATYPE_OF = {dtype: name for name, dtype in DATATYPES.items()}


def decode_inputs(request: pb.ModelInferRequest) -> dict[str, np.ndarray]:
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidRequestError(
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; send one per input"
        )
    arrays: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(request.inputs):
        dtype = DATATYPES.get(tensor.datatype)
        if dtype is None:
            raise InvalidRequestError(
                f"input {tensor.name!r}: unsupported datatype {tensor.datatype!r}"
            )
        shape = tuple(tensor.shape)
        if any(d < 0 for d in shape):
            raise InvalidRequestError(f"input {tensor.name!r}: negative dimension in shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        if raw:
            if len(raw[index]) != count * dtype.itemsize:
                raise InvalidRequestError(
                    f"input {tensor.name!r}: {len(raw[index])} bytes of raw data, but shape "
                    f"{list(shape)} of {tensor.datatype} needs {count * dtype.itemsize}"
                )
            array = np.frombuffer(raw[index], dtype=dtype.newbyteorder("<"))
        else:
            field = CONTENTS_FIELD.get(tensor.datatype)
            values = getattr(tensor.contents, field) if field else []
            if len(values) != count:
                raise InvalidRequestError(
                    f"input {tensor.name!r}: {len(values)} values for shape {list(shape)}"
                )
            array = np.asarray(values).astype(dtype)
        arrays[tensor.name] = array.reshape(shape)
    return arrays


def encode_outputs(response: pb.ModelInferResponse, outputs: dict[str, np.ndarray]) -> None:
    """Adds `outputs` to `response` as raw little-endian contents, the compact form."""
    for name, array in outputs.items():
        tensor = response.outputs.add()
        tensor.name = name
        tensor.datatype = DATATYPE_OF[array.dtype]
        tensor.shape.extend(array.shape)
        response.raw_output_contents.append(
            np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
        )
