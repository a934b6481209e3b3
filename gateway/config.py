"""Gateway settings (SKINSCAN_GATEWAY_*)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from skinscan.preprocessing import ImageLimits
from skinscan.settings import ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_GATEWAY_", frozen=True, extra="ignore")

    grpc_port: int = 50051
    rest_port: int = 8080
    metrics_port: int = 9101
    preprocessor_target: str = "127.0.0.1:50052"
    # Covers decoding plus a queued batch on a loaded CPU; the client's own
    # deadline, when shorter, wins.
    preprocessor_timeout_s: float = 60.0
    max_image_bytes: int = ImageLimits.max_bytes
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("SKINSCAN_REDIS_URL"))
    # How long job records and results stay in Redis.
    job_ttl_s: int = 7 * 24 * 3600
