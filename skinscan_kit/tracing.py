"""OpenTelemetry traces, when an OTLP endpoint is configured; nothing otherwise.

Configured by OpenTelemetry's own variables, so an SRE's usual settings apply:
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) turns it on,
OTEL_SERVICE_NAME overrides `skinscan-<service>`, OTEL_TRACES_SAMPLER and
OTEL_BSP_* tune sampling and batching. Every gRPC server and client is
instrumented (the trace context travels in the metadata, beside x-request-id),
and so is the gateway's REST app: one analysis is one trace across the gateway,
the preprocessor and inference. Must run before any server, channel or FastAPI
app is created, as it instruments their constructors.
"""

from __future__ import annotations

import logging
import os

__all__ = ["configure_tracing", "flush_traces", "tracing_enabled"]

log = logging.getLogger(__name__)


def tracing_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_tracing(service: str) -> None:
    if not tracing_enabled():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
        filters,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"skinscan-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    # Health checks and reflection are not traced: probes would flood the traces, and
    # the instrumentation cannot wrap health's streaming Watch (written as a coroutine).
    untraced = filters.negate(
        filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection"))
    )
    GrpcAioInstrumentorServer(filter_=untraced).instrument()
    GrpcAioInstrumentorClient(filter_=untraced).instrument()
    FastAPIInstrumentor().instrument()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    log.info("traces go to %s as %s", endpoint, name)


def flush_traces() -> None:
    """Sends the spans still batched (at shutdown)."""
    if not tracing_enabled():
        return
    from opentelemetry import trace

    shutdown = getattr(trace.get_tracer_provider(), "shutdown", None)
    if shutdown is not None:
        shutdown()
