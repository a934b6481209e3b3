"""Settings every service shares. Each service extends ServiceSettings in its own config.py.

All variables start with SKINSCAN_; a few that several services read have one
global name (SKINSCAN_REDIS_URL, SKINSCAN_MODEL_REPOSITORY). Settings are read
and validated once, at start-up, and passed down.
"""

from __future__ import annotations

import logging

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings", "configure_logging"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    metrics_port: int = 0
    log_level: str = "INFO"
    # Shorter than Kubernetes' default terminationGracePeriodSeconds (30 s), so
    # in-flight requests finish before the kubelet's SIGKILL.
    shutdown_grace_s: float = 20.0


def configure_logging(service: str, level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
