"""TLS: mutual TLS between the services, and the credentials gRPC takes for it.

With SKINSCAN_MTLS_CA_FILE, SKINSCAN_MTLS_CERT_FILE and SKINSCAN_MTLS_KEY_FILE
set (all three or none), each internal server accepts only clients whose
certificate the CA signed, and each service presents its own certificate when
it calls another. Unset, the services talk in the clear, which is right only
on one machine or inside a network that already encrypts (a service mesh).
The gateway's public port has its own certificate (gateway.config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import grpc
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MtlsSettings", "aio_channel", "read_pem"]


def read_pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the {what} at {path}: {error.strerror}") from None


class MtlsSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    mtls_ca_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_MTLS_CA_FILE")
    )
    mtls_cert_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_MTLS_CERT_FILE")
    )
    mtls_key_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("SKINSCAN_MTLS_KEY_FILE")
    )

    @model_validator(mode="after")
    def _all_or_none(self) -> Self:
        given = [self.mtls_ca_file, self.mtls_cert_file, self.mtls_key_file]
        if any(given) and not all(given):
            raise ValueError(
                "set all of SKINSCAN_MTLS_CA_FILE, SKINSCAN_MTLS_CERT_FILE and "
                "SKINSCAN_MTLS_KEY_FILE, or none"
            )
        for path in given:
            if path is not None and not path.is_file():
                raise ValueError(f"no such file: {path}")
        return self

    @property
    def mtls(self) -> bool:
        return self.mtls_ca_file is not None

    def mtls_server_credentials(self) -> grpc.ServerCredentials | None:
        """Credentials of an internal server: its certificate, and client certificates required."""
        if not self.mtls:
            return None
        assert self.mtls_ca_file and self.mtls_cert_file and self.mtls_key_file
        return grpc.ssl_server_credentials(
            [(read_pem(self.mtls_key_file, "key"), read_pem(self.mtls_cert_file, "certificate"))],
            root_certificates=read_pem(self.mtls_ca_file, "CA certificate"),
            require_client_auth=True,
        )

    def mtls_channel_credentials(self) -> grpc.ChannelCredentials | None:
        """Credentials of a call to another service: trust the CA, present our certificate."""
        if not self.mtls:
            return None
        assert self.mtls_ca_file and self.mtls_cert_file and self.mtls_key_file
        return grpc.ssl_channel_credentials(
            root_certificates=read_pem(self.mtls_ca_file, "CA certificate"),
            private_key=read_pem(self.mtls_key_file, "key"),
            certificate_chain=read_pem(self.mtls_cert_file, "certificate"),
        )


def aio_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: list[tuple[str, Any]] | None = None,
) -> grpc.aio.Channel:
    # A dns:/// target (a headless Kubernetes Service) names every replica: calls
    # go to each in turn, not all to whichever the first connection reached (HTTP/2
    # keeps one connection for all calls), and the name is re-resolved as replicas
    # come and go. A single address keeps gRPC's default, pick_first, which
    # reconnects at the next call after a restart; round robin would refuse calls
    # for its reconnection backoff.
    balanced = list(options or [])
    if target.startswith("dns:"):
        balanced.insert(0, ("grpc.lb_policy_name", "round_robin"))
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=balanced)
    return grpc.aio.secure_channel(target, credentials, options=balanced)
