"""Settings every service shares. Each service composes its own in its config.py.

All variables start with SKINSCAN_. A setting that several processes must
agree on has one global name (SKINSCAN_REDIS_URL, SKINSCAN_MODEL_NAME,
SKINSCAN_MODEL_REPOSITORY, SKINSCAN_MAX_IMAGE_BYTES) and is declared once here;
the rest carry their service's prefix. Settings are read and validated once,
at start-up, and passed down.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from skinscan_kit.request_id import RequestIdFilter
from skinscan_kit.tls import MtlsSettings
from skinscan_model.preprocessing import ImageLimits
from skinscan_model.repositories import open_store
from skinscan_model.store import DEFAULT_MODEL_NAME, ModelStore

__all__ = [
    "MAX_BATCH_IMAGES",
    "MAX_IMAGE_BYTES",
    "PORTS",
    "DatabaseSettings",
    "ModelRepositorySettings",
    "ModelSettings",
    "PipelineSettings",
    "RedisSettings",
    "ServiceSettings",
    "SettingsError",
    "UploadSettings",
    "configure_logging",
    "read_settings",
]

# Admits 20 MB dermoscopy originals with room to spare.
MAX_IMAGE_BYTES = 32 * 1024 * 1024
# A day's photos of a busy clinic in one call; more take more calls.
MAX_BATCH_IMAGES = 256
# Where each service listens unless told otherwise; `skinscan up` starts,
# waits on and prints the same ones.
PORTS = {
    "gateway_grpc": 50051,
    "gateway_rest": 8080,
    "gateway_metrics": 9101,
    "preprocessor": 50052,
    "preprocessor_metrics": 9102,
    "inference": 50053,
    "inference_metrics": 9103,
}


class ServiceSettings(MtlsSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    metrics_port: int = 0
    log_level: str = "INFO"
    # json: one object per line (time, level, service, logger, message, request_id).
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("SKINSCAN_LOG_FORMAT")
    )
    # Shorter than Kubernetes' default terminationGracePeriodSeconds (30 s), so
    # in-flight requests finish before the kubelet's SIGKILL.
    shutdown_grace_s: float = 20.0


class RedisSettings(BaseSettings):
    """Where the job queue lives; unset means no jobs."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("SKINSCAN_REDIS_URL"))


class UploadSettings(BaseSettings):
    """The upload limits, the same at every edge that receives an image's bytes."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    max_image_bytes: int = Field(
        default=MAX_IMAGE_BYTES, gt=0, validation_alias=AliasChoices("SKINSCAN_MAX_IMAGE_BYTES")
    )
    # Images in one call of several (AnalyzeBatch, POST /v1/analyses:batch): a bound on
    # what one call can hold the services for; a caller with more makes more calls.
    max_batch_images: int = Field(
        default=MAX_BATCH_IMAGES,
        ge=1,
        le=4096,
        validation_alias=AliasChoices("SKINSCAN_MAX_BATCH_IMAGES"),
    )


class ModelSettings(BaseSettings):
    """Which model is served: inference loads it, the preprocessor asks for it by name."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # A folder and key name in the repository: no separators, no leading dot (no "..").
    model_name: str = Field(
        default=DEFAULT_MODEL_NAME,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        validation_alias=AliasChoices("SKINSCAN_MODEL_NAME"),
    )


class PipelineSettings(ModelSettings):
    """What running the image pipeline (skinscan_pipeline) takes: the inference service to
    call and the image limits. Read with the prefix of the service that runs it."""

    inference_target: str = f"127.0.0.1:{PORTS['inference']}"
    # Timeout of one call to inference; a batch under load takes well under this.
    inference_timeout_s: float = 30.0
    max_image_pixels: int = ImageLimits.max_pixels
    min_image_side: int = ImageLimits.min_side

    @property
    def image_limits(self) -> ImageLimits:
        return ImageLimits(self.max_image_pixels, self.min_image_side)


class ModelRepositorySettings(BaseSettings):
    """Where model versions are stored: a folder, or `s3://bucket/prefix`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    model_repository: str = Field(
        default="models", validation_alias=AliasChoices("SKINSCAN_MODEL_REPOSITORY")
    )
    # Where versions from an S3 repository are downloaded to be loaded (unused
    # for a folder). In a pod, an emptyDir: a restart re-verifies what is there.
    model_cache_dir: Path = Field(
        default_factory=lambda: default_state_dir() / "model-cache",
        validation_alias=AliasChoices("SKINSCAN_MODEL_CACHE_DIR"),
    )

    def model_store(self) -> ModelStore:
        return open_store(self.model_repository, self.model_cache_dir)


def default_state_dir() -> Path:
    """Where an installation keeps its state when nothing says otherwise (XDG base directories)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "skinscan"


class DatabaseSettings(BaseSettings):
    """The records database and the state folder that holds the embedded one.

    Unset, SKINSCAN_DATABASE_URL means an SQLite file in SKINSCAN_STATE_DIR, so
    a first `make run` needs no server; production sets a PostgreSQL URL.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_DATABASE_URL")
    )
    state_dir: Path = Field(
        default_factory=default_state_dir, validation_alias=AliasChoices("SKINSCAN_STATE_DIR")
    )

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir.expanduser() / 'skinscan.db'}"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable to fix."""


Settings = TypeVar("Settings", bound=BaseSettings)


def read_settings(settings_type: type[Settings]) -> Settings:
    """Reads and validates `settings_type` from the environment, once."""
    try:
        return settings_type()
    except ValidationError as error:
        prefix = settings_type.model_config.get("env_prefix", "")
        problems = []
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            variable = name if name.startswith("SKINSCAN_") else f"{prefix}{name}".upper()
            problems.append(f"{variable}={problem.get('input')!r}: {problem['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from error


def configure_logging(service: str, level: str, log_format: str = "text") -> None:
    """Text for a terminal; JSON, one object per line, for a log pipeline (Kubernetes)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields={"service": service},
                timestamp="time",  # ISO 8601, UTC
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s {service} %(levelname)s %(name)s [%(request_id)s]: %(message)s"
            )
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
