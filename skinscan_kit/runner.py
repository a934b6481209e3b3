"""The run loop every service's __main__ uses: start, wait for a signal, stop gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol, TypeVar

from prometheus_client import start_http_server

from skinscan.errors import SkinscanError
from skinscan_kit.settings import ServiceSettings, SettingsError, configure_logging, read_settings
from skinscan_kit.tracing import configure_tracing, flush_traces

__all__ = ["Service", "run_service", "wait_for_signal"]

log = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def wait_for_signal() -> signal.Signals:
    """Returns when SIGTERM or SIGINT arrives."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def deliver(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, deliver, sig)
    sig = await received
    log.info("received %s, shutting down", sig.name)
    return sig


async def _run(make_service: Callable[[], Service]) -> None:
    # gRPC's aio server binds to the loop it is created in: create it in this one.
    service = make_service()
    stop_signal = asyncio.create_task(wait_for_signal())
    starting = asyncio.create_task(service.start())
    # A signal during a slow start (model loading, waiting for a dependency)
    # must still stop the service.
    done, _ = await asyncio.wait({stop_signal, starting}, return_when=asyncio.FIRST_COMPLETED)
    try:
        if starting in done:
            starting.result()
            await stop_signal
        else:
            starting.cancel()
    finally:
        stop_signal.cancel()
        await service.stop()
        log.info("stopped")


Settings = TypeVar("Settings", bound=ServiceSettings)


def run_service(
    name: str, settings_type: type[Settings], make_service: Callable[[Settings], Service]
) -> None:
    """A service's whole life: settings, logging, metrics, start, serve until a signal, stop."""
    try:
        settings = read_settings(settings_type)
    except SettingsError as error:
        configure_logging(name, "INFO")
        log.error("cannot start: %s", error)
        raise SystemExit(2) from error
    configure_logging(name, settings.log_level, settings.log_format)
    configure_tracing(name)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.host)
    try:
        asyncio.run(_run(lambda: make_service(settings)))
    except SkinscanError as error:
        log.error("cannot start: %s", error)
        raise SystemExit(1) from error
    finally:
        flush_traces()
