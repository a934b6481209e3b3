"""SystemSettings: `skinscan up` tells its three services one consistent story."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.config import GatewaySettings
from inference.config import InferenceSettings
from preprocessor.config import PreprocessorSettings
from skinscan_cli.system import SystemSettings, free_port, free_port_settings


def _children(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> dict[str, str]:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return SystemSettings().child_environment(environment, "redis://127.0.0.1:6379/3")


def _as_child(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def test_moved_ports_move_the_targets_that_point_at_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _children(
        monkeypatch,
        {"SKINSCAN_PREPROCESSOR_PORT": "6002", "SKINSCAN_INFERENCE_PORT": "6003"},
    )
    _as_child(monkeypatch, env)
    gateway, preprocessor, inference = (
        GatewaySettings(),
        PreprocessorSettings(),
        InferenceSettings(),
    )
    assert gateway.preprocessor_target == "127.0.0.1:6002" == f"127.0.0.1:{preprocessor.port}"
    assert preprocessor.inference_target == "127.0.0.1:6003" == f"127.0.0.1:{inference.port}"
    assert gateway.redis_url == preprocessor.redis_url == "redis://127.0.0.1:6379/3"
    assert preprocessor.model_name == inference.model_name == SystemSettings().model_name


def test_what_the_user_set_for_one_service_wins_except_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _children(
        monkeypatch,
        {
            "SKINSCAN_GATEWAY_PREPROCESSOR_TARGET": "10.0.0.5:50052",
            "SKINSCAN_GATEWAY_HOST": "0.0.0.0",
            "SKINSCAN_REDIS_URL": "",
        },
    )
    assert env["SKINSCAN_GATEWAY_PREPROCESSOR_TARGET"] == "10.0.0.5:50052"
    assert env["SKINSCAN_GATEWAY_HOST"] == "0.0.0.0"
    assert env["SKINSCAN_PREPROCESSOR_HOST"] == "127.0.0.1"
    # The launcher's Redis (embedded when none was set) is the one every child uses.
    assert env["SKINSCAN_REDIS_URL"] == "redis://127.0.0.1:6379/3"


def test_free_ports_are_distinct_bindable_and_below_the_outgoing_range() -> None:
    """Below the kernel's range for outgoing connections, so none of those can take a port
    between its choice and the service binding it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [int(port) for port in free_port_settings().values()]
    assert len(set(ports)) == len(ports) == 7
    for port in ports:
        # (On a kernel whose range starts near 10000 any free port is taken instead.)
        assert 10000 <= port < low or low < 11000
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    taken = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        assert all(free_port(frozenset({ports[0]})) not in (taken, ports[0]) for _ in range(50))
