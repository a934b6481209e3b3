"""Prometheus metrics of the gateway, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RPC_SECONDS = Histogram(
    "skinscan_gateway_rpc_seconds", "Time to answer one gRPC call.", ["method", "code"]
)
HTTP_SECONDS = Histogram(
    "skinscan_gateway_http_request_seconds",
    "Time to answer one REST request.",
    ["method", "route", "status"],
)
JOBS_SUBMITTED_TOTAL = Counter("skinscan_gateway_jobs_submitted_total", "Jobs queued.")
ANALYSES_IN_FLIGHT = Gauge(
    "skinscan_gateway_analyses_in_flight", "Synchronous analyses in progress (gRPC, REST, web)."
)
BATCH_GROUP_IMAGES = Histogram(
    "skinscan_gateway_batch_group_images",
    "Images per group that a call of several (AnalyzeBatch, REST batch) sent on together.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
REFUSED_TOTAL = Counter(
    "skinscan_gateway_refused_total",
    "Requests refused at once because skinscan was at capacity, by what was full.",
    ["reason"],
)
# Every reason exported from the start at 0, so the capacity alert's rate is never "no data".
for _reason in ("analyses", "batch_calls", "job_queue", "job_wait"):
    REFUSED_TOTAL.labels(reason=_reason)
