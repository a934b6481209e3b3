"""Prometheus metrics of the gateway, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RPC_SECONDS = Histogram(
    "skinscan_gateway_rpc_seconds", "Time to answer one gRPC call.", ["method", "code"]
)
HTTP_SECONDS = Histogram(
    "skinscan_gateway_http_request_seconds",
    "Time to answer one REST request.",
    ["method", "route", "status"],
)
JOBS_SUBMITTED_TOTAL = Counter("skinscan_gateway_jobs_submitted_total", "Jobs queued.")
