"""python -m gateway: the public gRPC and REST entry."""

from gateway.config import GatewaySettings
from gateway.server import GatewayServer
from skinscan_kit.runner import run_service

if __name__ == "__main__":
    settings = GatewaySettings()
    run_service("gateway", settings, lambda: GatewayServer(settings))
