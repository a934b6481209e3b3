"""python -m preprocessor: the image preprocessing service and job workers."""

from preprocessor.config import PreprocessorSettings
from preprocessor.server import PreprocessorServer
from skinscan_kit.runner import run_service

if __name__ == "__main__":
    settings = PreprocessorSettings()
    run_service("preprocessor", settings, lambda: PreprocessorServer(settings))
