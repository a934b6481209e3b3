"""`skinscan up`: Redis (embedded unless configured), inference, preprocessor, gateway.

Starts each service as its own process, as in production, waits until each
reports SERVING on standard gRPC health, keeps them running (a crashed service
is restarted while the others serve; see skinscan_cli.supervisor) and on Ctrl-C
or SIGTERM stops them front to back (gateway first) so no accepted request is cut
off. The embedded Redis keeps its data in the state folder.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import grpc

from skinscan.errors import ModelNotFoundError, UnavailableError
from skinscan_cli.embedded_redis import EmbeddedRedis
from skinscan_cli.state_lock import StateInUse, holding_state
from skinscan_cli.supervisor import (
    ChildSpec,
    RestartPolicy,
    StartError,
    StopRequested,
    Supervisor,
    say,
)
from skinscan_cli.system import SystemSettings
from skinscan_kit.readiness import wait_until_serving
from skinscan_kit.settings import SettingsError, read_settings
from skinscan_kit.tls import aio_channel

__all__ = ["run_system"]


def _service(
    name: str, target: str, credentials: grpc.ChannelCredentials | None, env: dict[str, str],
    grace_s: float,
) -> ChildSpec:  # fmt: skip
    async def ready() -> None:
        async with aio_channel(target, credentials) as channel:
            await wait_until_serving(channel, name)

    return ChildSpec(name, [sys.executable, "-m", name], env, ready, stop_timeout_s=grace_s + 10)


def _banner(s: SystemSettings) -> str:
    web = "https" if s.gateway_tls_cert_file else "http"
    return (
        f"\nskinscan is up\n"
        f"  web app  {web}://{s.host}:{s.gateway_rest_port}/  (sign in as admin)\n"
        f"  REST     {web}://{s.host}:{s.gateway_rest_port}/v1  (docs: /docs)\n"
        f"  gRPC     {s.host}:{s.gateway_grpc_port}  (skinscan.v1)\n"
        f"  sign in  skinscan login --username admin   then   skinscan analyze IMAGE.jpg\n"
        f"  metrics  http://{s.host}:{s.gateway_metrics_port}/metrics (gateway), "
        f":{s.preprocessor_metrics_port} (preprocessor), :{s.inference_metrics_port} (inference)\n"
        f"Press Ctrl-C to stop.\n"
    )


async def _run(settings: SystemSettings, redis: EmbeddedRedis | None) -> int:
    s = settings
    redis_url = redis.url if redis else s.redis_url
    assert redis_url
    env = s.child_environment(os.environ, redis_url)
    internal = s.mtls_channel_credentials()
    grace = s.shutdown_grace_s
    specs = []
    if redis is not None:
        specs.append(ChildSpec("redis", redis.command(), dict(os.environ), redis.ready))
    specs += [
        _service("inference", s.target(s.inference_port), internal, env, grace),
        _service("preprocessor", s.target(s.preprocessor_port), internal, env, grace),
        _service("gateway", s.target(s.gateway_grpc_port), s.gateway_credentials(), env, grace),
    ]
    supervisor = Supervisor(
        specs,
        RestartPolicy(s.restart_limit, s.restart_window_s, s.restart_backoff_s),
    )
    loop = asyncio.get_running_loop()
    # The children run in their own process groups: a terminal's Ctrl-C reaches only
    # this process, which stops them in order.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.request_stop, sig.name)
    try:
        await supervisor.start()
        print(_banner(s), flush=True)
        return await supervisor.wait()
    except StopRequested:
        return 0
    except StartError as error:
        say(f"failed: {error}")
        return 1
    finally:
        await supervisor.stop()
        say("stopped")


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
    try:
        with holding_state(settings.state_dir):
            return _serve(settings)
    except StateInUse as error:
        print(f"skinscan up: {error}", file=sys.stderr)
        return 2


def _serve(settings: SystemSettings) -> int:
    redis = None
    if not settings.redis_url:
        try:
            redis = EmbeddedRedis(settings.state_dir)
        except ValueError as error:
            print(f"skinscan up: {error}", file=sys.stderr)
            return 2
        print(f"embedded Redis in {redis.folder} (set SKINSCAN_REDIS_URL to use your own)")
    return asyncio.run(_run(settings, redis))
