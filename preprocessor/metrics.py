"""Prometheus metrics of the preprocessor, declared once (the pipeline's own, decode and
inference call times, are in skinscan_pipeline.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RPC_SECONDS = Histogram(
    "skinscan_preprocessor_rpc_seconds", "Time to answer one gRPC call.", ["method", "code"]
)
JOBS_TOTAL = Counter(
    "skinscan_preprocessor_jobs_total", "Jobs handled by this worker, by outcome.", ["outcome"]
)
# Every outcome exported from the start at 0, so a rate over them is never "no data".
for _outcome in ("succeeded", "rejected", "retried", "deferred"):
    JOBS_TOTAL.labels(outcome=_outcome)
IN_FLIGHT = Gauge(
    "skinscan_preprocessor_in_flight", "Classify calls in progress (admitted, not yet answered)."
)
REFUSED_TOTAL = Counter(
    "skinscan_preprocessor_refused_total",
    "Classify calls refused at once (RESOURCE_EXHAUSTED): too many in progress.",
)
JOB_WAIT_SECONDS = Histogram(
    "skinscan_preprocessor_job_wait_seconds",
    "Time from a job's queuing to a worker's first claim of it (the queue's age).",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
JOB_QUEUE_DEPTH = Gauge(
    "skinscan_job_queue_depth", "Jobs waiting in the Redis stream or held by a worker."
)
