"""The baseline a user would write in thirty lines: LitServe with its dynamic batching,
serving the same ONNX file through the same preprocessing, over HTTP.

Run by `skinscan bench` as its own process: python -m skinscan_cli.bench.litserve_baseline
--port N --model-repository models --model skinscan-resnet50. Needs the `bench` extra.
"""

import argparse
import base64
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np
import onnxruntime as ort

from skinscan_model.preprocessing import load_model_input
from skinscan_model.store import LocalModelStore, ModelVersion


class SkinLesionAPI(ls.LitAPI):
    def __init__(self, version: ModelVersion, max_batch_size: int, batch_timeout: float) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.version = version

    def setup(self, device: str) -> None:
        # A plain session with ONNX Runtime's defaults, as a user would write it: none of
        # the settings skinscan's inference service tunes.
        self.session = ort.InferenceSession(
            str(self.version.onnx_path), providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.size = self.version.metadata.input.size

    # Unannotated: LitServe reads an annotated parameter as a query parameter.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return load_model_input(base64.b64decode(request["image_base64"]), self.size)

    def batch(self, inputs: list[np.ndarray]) -> np.ndarray:
        return np.stack(inputs)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        wanted = [self.version.metadata.probabilities_output]
        return self.session.run(wanted, {self.input_name: pixels})[0]

    def unbatch(self, output: np.ndarray) -> list[np.ndarray]:
        return list(output)

    def encode_response(self, probabilities: np.ndarray) -> dict[str, Any]:
        labels = self.version.metadata.labels
        return {"probabilities": dict(zip(labels, probabilities.tolist(), strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-repository", type=Path, default=Path("models"))
    parser.add_argument("--model", default="skinscan-resnet50")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-timeout", type=float, default=0.005)
    args = parser.parse_args()
    version = LocalModelStore(args.model_repository).fetch(args.model)
    api = SkinLesionAPI(version, args.max_batch_size, args.batch_timeout)
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1)
    server.run(host="127.0.0.1", port=args.port, log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()
