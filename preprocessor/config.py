"""Preprocessor settings (SKINSCAN_PREPROCESSOR_*, and the shared ones it reads)."""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from skinscan_kit.settings import (
    PORTS,
    PipelineSettings,
    RedisSettings,
    ServiceSettings,
    UploadSettings,
)

__all__ = ["PreprocessorSettings"]


class PreprocessorSettings(ServiceSettings, PipelineSettings, RedisSettings, UploadSettings):
    model_config = SettingsConfigDict(
        env_prefix="SKINSCAN_PREPROCESSOR_", frozen=True, extra="ignore"
    )

    port: int = PORTS["preprocessor"]
    metrics_port: int = PORTS["preprocessor_metrics"]
    # Synchronous Classify calls in progress at once; more are refused at once
    # (RESOURCE_EXHAUSTED). A bound on memory (each holds its upload) and on the
    # decode work waiting for a thread; the gateways' own limits sit below it.
    max_in_flight: int = Field(default=128, ge=1)
    # Job workers in this process; 0 serves only synchronous requests.
    job_workers: int = Field(default=2, ge=0)
    # Jobs a worker claims at once and classifies together (one inference batch): a
    # backlog drains at a lower cost per image. 1: one job at a time.
    job_batch_images: int = Field(default=8, ge=1, le=64)
    # Job workers take a job only while no synchronous analysis is in progress here: jobs
    # use spare capacity. False: they compete with synchronous callers for the CPU.
    jobs_yield_to_synchronous: bool = True
    consumer_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # A job held this long without being acknowledged is taken to belong to a
    # dead worker and is reclaimed. Must exceed the slowest honest analysis.
    job_reclaim_idle_ms: int = Field(default=60_000, ge=100)
    job_max_attempts: int = Field(default=3, ge=1)
