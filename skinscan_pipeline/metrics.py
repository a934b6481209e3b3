"""Prometheus metrics of the pipeline, declared once, exported by whichever process runs it
(the preprocessor, or a gateway that preprocesses in its own process). The names are the
preprocessor's, which the dashboards and alerts already read."""

from __future__ import annotations

from prometheus_client import Histogram

DECODE_SECONDS = Histogram(
    "skinscan_preprocessor_decode_seconds", "Time to decode, check, resize and crop one image."
)
INFERENCE_SECONDS = Histogram(
    "skinscan_preprocessor_inference_call_seconds", "Time of one call to the inference service."
)
