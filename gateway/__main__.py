"""python -m gateway: the public gRPC and REST entry."""

from gateway.config import GatewaySettings
from gateway.server import GatewayServer
from skinscan_kit.runner import run_service

if __name__ == "__main__":
    run_service("gateway", GatewaySettings, GatewayServer)
