"""Prometheus metrics of the preprocessor, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RPC_SECONDS = Histogram(
    "skinscan_preprocessor_rpc_seconds", "Time to answer one gRPC call.", ["method", "code"]
)
DECODE_SECONDS = Histogram(
    "skinscan_preprocessor_decode_seconds", "Time to decode, check, resize and crop one image."
)
INFERENCE_SECONDS = Histogram(
    "skinscan_preprocessor_inference_call_seconds", "Time of one call to the inference service."
)
JOBS_TOTAL = Counter(
    "skinscan_preprocessor_jobs_total", "Jobs handled by this worker, by outcome.", ["outcome"]
)
IN_FLIGHT = Gauge(
    "skinscan_preprocessor_in_flight", "Classify calls in progress (admitted, not yet answered)."
)
REFUSED_TOTAL = Counter(
    "skinscan_preprocessor_refused_total",
    "Classify calls refused at once (RESOURCE_EXHAUSTED): too many in progress.",
)
JOB_QUEUE_DEPTH = Gauge(
    "skinscan_job_queue_depth", "Jobs waiting in the Redis stream or held by a worker."
)
