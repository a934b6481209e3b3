"""Gateway settings (SKINSCAN_GATEWAY_*, and the shared ones it reads)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from skinscan_kit.settings import PORTS, RedisSettings, ServiceSettings, UploadSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, RedisSettings, UploadSettings):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_GATEWAY_", frozen=True, extra="ignore")

    grpc_port: int = PORTS["gateway_grpc"]
    rest_port: int = PORTS["gateway_rest"]
    metrics_port: int = PORTS["gateway_metrics"]
    preprocessor_target: str = f"127.0.0.1:{PORTS['preprocessor']}"
    # Covers decoding plus a queued batch on a loaded CPU; the client's own
    # deadline, when shorter, wins.
    preprocessor_timeout_s: float = 60.0
    # How long job records and results stay in Redis.
    job_ttl_s: int = 7 * 24 * 3600
