"""python -m preprocessor: the image preprocessing service and job workers."""

from preprocessor.config import PreprocessorSettings
from preprocessor.server import PreprocessorServer
from skinscan_kit.runner import run_service

if __name__ == "__main__":
    run_service("preprocessor", PreprocessorSettings, PreprocessorServer)
