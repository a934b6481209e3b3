"""TLS on the gateway's public ports and mutual TLS between the services, on real processes."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from skinscan import Client, UnavailableError
from tests.certificates import make_ca, make_leaf
from tests.conftest import TEST_MODEL_NAME, free_port
from tests.processes import Services

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "tls admin password"


@dataclass
class TlsSystem:
    ca: bytes
    ca_file: Path
    service_cert: Path
    service_key: Path
    grpc_port: int
    rest_port: int
    preprocessor_port: int


@pytest.fixture(scope="module")
def tls_system(
    model_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsSystem]:
    folder = tmp_path_factory.mktemp("tls")
    ca, ca_key, ca_cert = make_ca(folder)
    service = make_leaf(folder, "service", ca_key, ca_cert)
    public = make_leaf(folder, "gateway-public", ca_key, ca_cert)
    ports = {n: free_port() for n in ("inf", "pre", "grpc", "rest")}
    mtls = {
        "SKINSCAN_MTLS_CA_FILE": str(ca.cert),
        "SKINSCAN_MTLS_CERT_FILE": str(service.cert),
        "SKINSCAN_MTLS_KEY_FILE": str(service.key),
    }
    env = {
        **os.environ,
        **mtls,
        "SKINSCAN_MODEL_REPOSITORY": str(model_repository),
        "SKINSCAN_MODEL_NAME": TEST_MODEL_NAME,
        "SKINSCAN_INFERENCE_PORT": str(ports["inf"]),
        "SKINSCAN_INFERENCE_METRICS_PORT": "0",
        "SKINSCAN_INFERENCE_INTRA_OP_THREADS": "1",
        "SKINSCAN_PREPROCESSOR_PORT": str(ports["pre"]),
        "SKINSCAN_PREPROCESSOR_METRICS_PORT": "0",
        "SKINSCAN_PREPROCESSOR_INFERENCE_TARGET": f"127.0.0.1:{ports['inf']}",
        "SKINSCAN_PREPROCESSOR_JOB_WORKERS": "0",
        "SKINSCAN_GATEWAY_GRPC_PORT": str(ports["grpc"]),
        "SKINSCAN_GATEWAY_REST_PORT": str(ports["rest"]),
        "SKINSCAN_GATEWAY_METRICS_PORT": "0",
        "SKINSCAN_GATEWAY_PREPROCESSOR_TARGET": f"127.0.0.1:{ports['pre']}",
        "SKINSCAN_GATEWAY_TLS_CERT_FILE": str(public.cert),
        "SKINSCAN_GATEWAY_TLS_KEY_FILE": str(public.key),
        "SKINSCAN_STATE_DIR": str(folder / "state"),
        "SKINSCAN_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    for inherited in ("SKINSCAN_REDIS_URL", "SKINSCAN_DATABASE_URL"):
        env.pop(inherited, None)
    internal = grpc.ssl_channel_credentials(
        ca.cert.read_bytes(), service.key.read_bytes(), service.cert.read_bytes()
    )
    services = Services(env)
    try:
        services.start("inference", ports["inf"], internal)
        services.start("preprocessor", ports["pre"], internal)
        services.start("gateway", ports["grpc"], grpc.ssl_channel_credentials(ca.cert.read_bytes()))
        yield TlsSystem(
            ca.cert.read_bytes(),
            ca.cert,
            service.cert,
            service.key,
            ports["grpc"],
            ports["rest"],
            ports["pre"],
        )
    finally:
        services.stop_all()


def test_the_gateway_serves_grpc_and_rest_over_tls_end_to_end_through_mtls(
    tls_system: TlsSystem, malignant_jpeg: Path
) -> None:
    target = f"127.0.0.1:{tls_system.grpc_port}"
    with Client(target, root_certificates=tls_system.ca) as client:
        client.login("admin", ADMIN_PASSWORD)
        analysis = client.analyze(malignant_jpeg)
        assert analysis.assessable and analysis.model.version == "1"
        tokens = client.tokens
        assert tokens is not None
    url = f"https://127.0.0.1:{tls_system.rest_port}"
    trusted = ssl.create_default_context(cafile=str(tls_system.ca_file))
    with httpx.Client(verify=trusted, timeout=30) as web:
        me = web.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
        assert me.status_code == 200 and me.json()["role"] == "admin"
    # In the clear, the public ports answer nothing.
    with Client(target) as plain, pytest.raises(UnavailableError):
        plain.login("admin", ADMIN_PASSWORD)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_system.rest_port}/healthz", timeout=5)


def _health(target: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = (
        grpc.insecure_channel(target)
        if credentials is None
        else grpc.secure_channel(target, credentials)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status)


def test_an_internal_service_refuses_a_client_without_a_certificate_the_ca_signed(
    tls_system: TlsSystem, tmp_path: Path
) -> None:
    target = f"127.0.0.1:{tls_system.preprocessor_port}"
    signed = grpc.ssl_channel_credentials(
        tls_system.ca, tls_system.service_key.read_bytes(), tls_system.service_cert.read_bytes()
    )
    assert _health(target, signed) == health_pb2.HealthCheckResponse.SERVING
    _, rogue_key, rogue_ca = make_ca(tmp_path, "rogue CA")
    rogue = make_leaf(tmp_path, "rogue", rogue_key, rogue_ca)
    for credentials in (
        None,  # in the clear
        grpc.ssl_channel_credentials(tls_system.ca),  # TLS, but no client certificate
        grpc.ssl_channel_credentials(
            tls_system.ca, rogue.key.read_bytes(), rogue.cert.read_bytes()
        ),  # a certificate another CA signed
    ):
        with pytest.raises(grpc.RpcError) as refused:
            _health(target, credentials)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
