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
# Per clinic (its id): what its results were, so that a new camera or a new kind of upload
# shows as drift in the share the acquisition gate refuses (gateway.surveillance).
CLINIC_RESULTS_TOTAL = Counter(
    "skinscan_gateway_clinic_results_total",
    "Results answered per clinic: 'assessed', or the code of the refusal that stopped it.",
    ["clinic", "outcome"],
)
# Post-market surveillance, from each clinic's confirmed audit cases at the threshold in force
# (refreshed every SKINSCAN_GATEWAY_SURVEILLANCE_INTERVAL_S): an upper 95% bound under the
# target means the clinic's own cases say the promised sensitivity is not kept.
CLINIC_AUDIT_SENSITIVITY_UPPER = Gauge(
    "skinscan_gateway_clinic_audit_sensitivity_upper",
    "Upper end of the 95% (Wilson) interval of sensitivity on a clinic's audit cases.",
    ["clinic", "model", "version"],
)
CLINIC_AUDIT_MALIGNANT = Gauge(
    "skinscan_gateway_clinic_audit_malignant_cases",
    "Confirmed malignant audit cases behind that interval.",
    ["clinic", "model", "version"],
)
CLINIC_TARGET_SENSITIVITY = Gauge(
    "skinscan_gateway_clinic_target_sensitivity",
    "The sensitivity the model version promises (its threshold's target).",
    ["clinic", "model", "version"],
)
