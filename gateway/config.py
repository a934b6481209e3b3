"""Gateway settings (SKINSCAN_GATEWAY_*, and the shared ones it reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import grpc
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from skinscan_kit.cores import usable_cores
from skinscan_kit.settings import (
    PORTS,
    DatabaseSettings,
    PipelineSettings,
    RedisSettings,
    ServiceSettings,
    UploadSettings,
)

__all__ = ["GatewaySettings"]


class GatewaySettings(
    ServiceSettings, RedisSettings, UploadSettings, DatabaseSettings, PipelineSettings
):
    model_config = SettingsConfigDict(env_prefix="SKINSCAN_GATEWAY_", frozen=True, extra="ignore")

    grpc_port: int = PORTS["gateway_grpc"]
    rest_port: int = PORTS["gateway_rest"]
    metrics_port: int = PORTS["gateway_metrics"]
    preprocessor_target: str = f"127.0.0.1:{PORTS['preprocessor']}"
    # Covers decoding plus a queued batch on a loaded CPU; the client's own
    # deadline, when shorter, wins.
    preprocessor_timeout_s: float = 60.0
    # True: decode images and call inference (SKINSCAN_GATEWAY_INFERENCE_TARGET, with the
    # pipeline's own SKINSCAN_GATEWAY_INFERENCE_TIMEOUT_S, _MAX_IMAGE_PIXELS, _MIN_IMAGE_SIDE)
    # in this process instead of calling the preprocessor: one gRPC hop fewer per image, for
    # one host (measured on 2 cores: 1.3 CPU-ms less per image on gRPC, 0.9 on REST, 0.6 on
    # AnalyzeBatch; a lone request 1.7-2.3 ms faster). Decoding then shares the gateway's cores; jobs still go to the preprocessor.
    preprocess_in_process: bool = False
    # Synchronous analyses in progress at once, over gRPC, REST and the web app.
    # Little's law sizes it: throughput x the latency an accepted request may
    # take. 0: 2 per CPU core, at least 4 (skinscan_kit.admission says why a
    # short line behind it beats a higher limit). With a GPU, set it from its rate.
    max_in_flight: int = Field(default=0, ge=0)
    # Past that limit, this many more wait for a place (a burst, or more callers
    # than places), each at most analysis_max_wait_s, less while the line
    # overflows; the rest are refused at once with RESOURCE_EXHAUSTED / 429 and
    # Retry-After (the SDK sends them again after it). 0: as many as
    # max_in_flight. analysis_max_wait_s=0 turns the line off.
    max_waiting_analyses: int = Field(default=0, ge=0)
    analysis_max_wait_s: float = Field(default=0.5, ge=0, le=30)
    # The most images of a call of several (AnalyzeBatch) sent on together: one call to
    # the preprocessor, one inference batch. Inference's max_batch_size (16) is the most
    # that still runs as one batch.
    batch_group_images: int = Field(default=16, ge=1, le=256)
    # Calls of several images in progress at once; more are refused at their start. Each
    # buffers at most 16 MiB of images (or one image of any allowed size): a memory bound.
    max_batch_calls: int = Field(default=32, ge=1)
    # Jobs waiting or running, beyond which a new one is refused the same way:
    # a bound on what Redis holds (each job keeps its image until it is done).
    max_queued_jobs: int = Field(default=2000, ge=1)
    # And while the oldest job no worker has taken yet has waited this long, new
    # ones are refused too: a queue that is minutes behind only makes the wait
    # longer, and the caller is better told now (and can go elsewhere) than
    # answered late. The count bound alone lets a queue fall this far behind
    # whenever workers are slower than it is long. 0: no bound by age.
    max_job_wait_s: float = Field(default=300.0, ge=0)
    # How long job records and results stay in Redis.
    job_ttl_s: int = 7 * 24 * 3600

    # Access tokens are short-lived: a stolen one is worth minutes. Refresh
    # tokens keep a clinician signed in through a working fortnight.
    access_token_ttl_s: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_s: int = Field(default=14 * 24 * 3600, gt=0)
    # A checked API key or token is trusted this long without a database read
    # (per request it cost more CPU than the rest of the gateway's work). A
    # revocation through this gateway applies at once; through another replica,
    # within this time. 0 reads the database on every request.
    auth_cache_s: float = Field(default=5.0, ge=0, le=60)
    # Per user or API key; a burst admits a client sending a folder at once.
    rate_limit_per_minute: int = Field(default=600, gt=0)
    rate_limit_burst: int = Field(default=60, gt=0)
    login_failures_per_account: int = Field(default=5, gt=0)
    login_failures_per_address: int = Field(default=50, gt=0)
    login_window_s: int = Field(default=15 * 60, gt=0)
    # HS256 signing key for access tokens: set it (from a secret store) when
    # several gateways run; unset, one is generated in the state folder.
    jwt_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_JWT_SECRET")
    )
    # The first admin, created when the database has no user at all.
    admin_username: str = Field(
        default="admin", validation_alias=AliasChoices("SKINSCAN_ADMIN_USERNAME")
    )
    admin_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_ADMIN_PASSWORD")
    )
    clinic_name: str = Field(
        default="My clinic", validation_alias=AliasChoices("SKINSCAN_CLINIC_NAME")
    )
    # Fernet keys for identifying fields and kept images, comma-separated,
    # newest first (rotation: add a new key first, re-encrypt, drop the old).
    # Unset, one is generated in the state folder.
    field_keys: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_FIELD_KEYS")
    )
    # The key of the keyed hashes that find patients by name or identifier.
    search_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_SEARCH_KEY")
    )
    # Where kept images go: empty, the state folder's images/ (one gateway);
    # s3://bucket/prefix when several gateways run or pods come and go.
    image_store: str = Field(default="", pattern=r"^(s3://[a-z0-9][a-z0-9.-]+(/.*)?)?$")
    # How often images past their clinic's retention are deleted.
    image_purge_interval_s: float = Field(default=3600.0, gt=0)
    # How often every clinic's audit sensitivity is published to the metrics (the alert on a
    # clinic whose own cases say the promise is broken reads it).
    surveillance_interval_s: float = Field(default=600.0, gt=0)
    # TLS on the public ports (gRPC and REST) when both are set: PEM files of
    # the certificate (with its chain) and its private key.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                "set both SKINSCAN_GATEWAY_TLS_CERT_FILE and SKINSCAN_GATEWAY_TLS_KEY_FILE, or neither"
            )
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"no such file: {path}")
        return self

    @property
    def images_location(self) -> str | Path:
        """Where a clinic that keeps images has them, encrypted: S3 or a folder."""
        return self.image_store or self.state_dir / "images"

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    def public_server_credentials(self) -> grpc.ServerCredentials | None:
        if self.tls_cert_file is None or self.tls_key_file is None:
            return None
        return grpc.ssl_server_credentials(
            [(self.tls_key_file.read_bytes(), self.tls_cert_file.read_bytes())]
        )

    @property
    def analyses_in_flight(self) -> int:
        """max_in_flight, or its default for this machine."""
        return self.max_in_flight or max(4, 2 * usable_cores())

    @property
    def analyses_waiting(self) -> int:
        """max_waiting_analyses, or its default: as many as may be in progress."""
        return self.max_waiting_analyses or self.analyses_in_flight
