"""python -m inference: the Open Inference Protocol server."""

from inference.config import InferenceSettings
from inference.server import InferenceServer
from skinscan_kit.runner import run_service

if __name__ == "__main__":
    run_service("inference", InferenceSettings, InferenceServer)
