"""Prometheus metrics of the inference service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RPC_SECONDS = Histogram(
    "skinscan_inference_rpc_seconds", "Time to answer one gRPC call.", ["method", "code"]
)
QUEUE_SECONDS = Histogram(
    "skinscan_inference_queue_seconds",
    "Time a request waits in the dynamic batcher before its batch runs.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
COMPUTE_SECONDS = Histogram(
    "skinscan_inference_compute_seconds",
    "Time ONNX Runtime takes for one batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BATCH_SIZE = Histogram(
    "skinscan_inference_batch_size",
    "Images per batch run by ONNX Runtime.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
QUEUED_IMAGES = Histogram(
    "skinscan_inference_queued_images",
    "Images waiting in the dynamic batcher when a request arrives.",
    buckets=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
# ONNX Runtime's own CPU time, as the service paid it: with one intra-op thread a session
# computes on the thread that calls it, whose CPU clock is read around each run. What
# the process spent beyond it is the service's overhead, measured in the same window
# under the same load (`skinscan bench`). Batches over more threads are not counted.
ONNXRUNTIME_CPU_SECONDS = Counter(
    "skinscan_inference_onnxruntime_cpu_seconds_total",
    "CPU time of ONNX Runtime's runs on one thread (the calling thread's clock).",
)
ONNXRUNTIME_CPU_IMAGES = Counter(
    "skinscan_inference_onnxruntime_cpu_images_total",
    "Images of the runs counted in skinscan_inference_onnxruntime_cpu_seconds_total.",
)
BATCHES_ALONE_TOTAL = Counter(
    "skinscan_inference_batches_alone_total",
    "Batches run over the wider session because no other batch ran or waited.",
)
REFUSED_TOTAL = Counter(
    "skinscan_inference_refused_total",
    "Requests refused at once (RESOURCE_EXHAUSTED) because the batcher's queue was full.",
)
ABANDONED_TOTAL = Counter(
    "skinscan_inference_abandoned_total",
    "Requests dropped before their batch ran because the caller had gone (deadline or cancel).",
)
MODEL_LOADED = Gauge(
    "skinscan_inference_model_loaded",
    "1 for the model version this service serves (loaded, verified and warmed).",
    ["model", "version", "provider"],
)
MODEL_UPDATES = Counter(
    "skinscan_inference_model_updates_total",
    "New model versions found in the repository: switched to after loading and warming "
    "(outcome=switched), or kept out because they failed to load (outcome=failed).",
    ["outcome"],
)
# Every outcome exported from the start at 0: an alert on increase() sees the first one.
for _outcome in ("switched", "failed"):
    MODEL_UPDATES.labels(_outcome)
