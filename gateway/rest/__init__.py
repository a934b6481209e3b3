"""The REST face of the gateway (FastAPI): the same domain service and results as gRPC."""

from gateway.rest.app import create_app

__all__ = ["create_app"]
