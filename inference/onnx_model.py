"""An exported skinscan model loaded in ONNX Runtime."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from inference import metrics
from skinscan.errors import ModelNotFoundError, UnavailableError
from skinscan_model.store import ModelVersion

__all__ = ["DISABLED_OPTIMIZERS", "OnnxModel", "TensorSpec", "choose_providers"]

log = logging.getLogger(__name__)

ORT_TO_DATATYPE = {
    "tensor(uint8)": "UINT8",
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
}

# ONNX Runtime moves an int8 model's QuantizeLinear above the stem's MaxPool, which
# then runs on uint8 in ONNX Runtime's plain NCHW kernel: 12% of the whole forward
# pass on two cores. Left where the exporter put it, the MaxPool stays in float,
# fused into the blocked (NCHWc) stem convolution, and costs next to nothing; the
# outputs are the same bit for bit (a max commutes with a monotonic quantization),
# and int8 throughput rises 11-15% (measured at batch 1, 4 and 8 on 2 cores).
DISABLED_OPTIMIZERS = ["QDQPropagationTransformer"]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 marks the dynamic batch axis


def choose_providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        _load_cuda_libraries()
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise UnavailableError(
            f"SKINSCAN_INFERENCE_DEVICE=cuda but ONNX Runtime offers only {available}: "
            "install the `gpu` extra on a machine with an NVIDIA GPU"
        )
    return ["CPUExecutionProvider"]


def _load_cuda_libraries() -> None:
    """onnxruntime-gpu finds CUDA and cuDNN installed as NVIDIA's pip wheels (the inference
    image's way) only once they are loaded; with system libraries this changes nothing."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception as error:  # a system CUDA may still be found by the loader
        log.warning("could not preload the CUDA libraries from pip wheels: %s", error)


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
    return TensorSpec(arg.name, ORT_TO_DATATYPE.get(arg.type, arg.type), shape)


def _session(
    version: ModelVersion, providers: list[str], threads: int, spin_wait: bool
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if not spin_wait:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        str(version.onnx_path),
        options,
        providers=providers,
        disabled_optimizers=DISABLED_OPTIMIZERS,
    )


class OnnxModel:
    """One ONNX Runtime session over one model version, checked against its metadata."""

    def __init__(
        self,
        version: ModelVersion,
        device: str = "auto",
        intra_op_threads: int = 0,
        spin_wait: bool = True,
        alone_threads: int = 0,
    ):
        """`spin_wait=False` makes ONNX Runtime's idle threads sleep instead of busy-waiting for
        the next batch: slower alone, but it leaves the cores to the processes beside it.

        `alone_threads` above `intra_op_threads` (CPU only) adds a second session over that
        many threads, for `run_alone`: a batch that runs while no other does may use the
        cores the others would have (a lone request's latency: 15 against 20 ms on two
        cores, AVX2, int8 at 128 px)."""
        self.version = version
        providers = choose_providers(device)
        self.session = _session(version, providers, intra_op_threads, spin_wait)
        # One thread on the CPU: the run's CPU time is the calling thread's, so it is counted.
        self._accounted = providers[0] == "CPUExecutionProvider" and intra_op_threads == 1
        self.alone_session = None
        # intra_op_threads 0 already spreads every batch over every core.
        if providers[0] == "CPUExecutionProvider" and 0 < intra_op_threads < alone_threads:
            self.alone_session = _session(version, providers, alone_threads, spin_wait)
        self.provider = self.session.get_providers()[0]
        log.info("loaded %s version %s with %s", version.name, version.version, self.provider)
        inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = tuple(_spec(a) for a in self.session.get_outputs())
        meta = version.metadata
        expected = (-1, meta.input.size, meta.input.size, 3)
        if len(inputs) != 1 or inputs[0].name != meta.input.name or inputs[0].datatype != "UINT8":
            raise ModelNotFoundError(
                f"{version.onnx_path} must take one UINT8 input named {meta.input.name!r}, "
                f"it takes {inputs}"
            )
        if inputs[0].shape != expected:
            raise ModelNotFoundError(
                f"{version.onnx_path} input shape {inputs[0].shape} is not {expected} "
                "from its metadata"
            )
        self.input = inputs[0]
        names = {o.name for o in self.outputs}
        for wanted in (meta.logits_output, meta.probabilities_output):
            if wanted not in names:
                raise ModelNotFoundError(f"{version.onnx_path} has no output {wanted!r}")

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        if not self._accounted:
            return self._run(self.session, pixels)
        started = time.thread_time()
        outputs = self._run(self.session, pixels)
        metrics.ONNXRUNTIME_CPU_SECONDS.inc(time.thread_time() - started)
        metrics.ONNXRUNTIME_CPU_IMAGES.inc(len(pixels))
        return outputs

    def run_alone(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """`run` over every thread `alone_threads` gave, for a batch no other runs beside."""
        return self._run(self.alone_session or self.session, pixels)

    def _run(self, session: ort.InferenceSession, pixels: np.ndarray) -> dict[str, np.ndarray]:
        results = session.run(None, {self.input.name: pixels})
        return {spec.name: value for spec, value in zip(self.outputs, results, strict=True)}

    def warm_up(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Runs real forward passes so the first request does not pay for allocation."""
        size = self.version.metadata.input.size
        runs = [self.run] if self.alone_session is None else [self.run, self.run_alone]
        for n, run in ((n, run) for n in batch_sizes for run in runs):
            outputs = run(np.zeros((n, size, size, 3), dtype=np.uint8))
            probabilities = outputs[self.version.metadata.probabilities_output]
            if probabilities.shape != (n, len(self.version.metadata.labels)) or not np.all(
                np.isfinite(probabilities)
            ):
                raise ModelNotFoundError(
                    f"{self.version.onnx_path} gave probabilities of shape "
                    f"{probabilities.shape} for {len(self.version.metadata.labels)} labels"
                )
