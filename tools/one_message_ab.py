"""CPU per image of each service for `Analyze` (a stream) against `AnalyzeImage` (one message),
alternated in one running system, so both see the same host.

`.venv/bin/python tools/one_message_ab.py [ROUNDS]` starts a system as `skinscan bench` does
(the served model, real ISIC images from SKINSCAN_SHARED_DATA or ../shared/data), then sends
blocks of 480 images from 8 threads, each block all one way, alternating which goes first,
and prints each block's images/s and CPU-ms per image per service, then the medians. The
figures: README, Performance.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import grpc

from skinscan.streaming import analyze_requests
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from skinscan_cli.bench.images import bench_images
from skinscan_cli.bench.system import BenchSystem

THREADS = 8
PER_THREAD = 60


def _block(stub: pb_grpc.AnalysisServiceStub, key: str, images: list[bytes], one: bool) -> int:
    credentials = (("authorization", f"Bearer {key}"),)

    def send(thread: int) -> None:
        for i in range(PER_THREAD):
            data = images[(thread * PER_THREAD + i) % len(images)]
            method, request = analyze_requests(data, "ab.jpg", one_message=one)
            request = request if one else iter(request)
            getattr(stub, method)(request, metadata=credentials, timeout=60)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return THREADS * PER_THREAD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", type=int, nargs="?", default=4)
    parser.add_argument("--model-repository", type=Path, default=Path("models"))
    args = parser.parse_args()
    images = bench_images(64).encoded
    blocks: dict[str, list[dict[str, float]]] = {"Analyze": [], "AnalyzeImage": []}
    with (
        BenchSystem(args.model_repository) as system,
        grpc.insecure_channel(system.grpc_target) as channel,
    ):
        stub = pb_grpc.AnalysisServiceStub(channel)
        for one in (False, True):  # warm-up, not counted
            _block(stub, system.api_key, images, one)
        for round_ in range(args.rounds):
            for one in (False, True) if round_ % 2 == 0 else (True, False):
                before, started = system.cpu_seconds(), time.monotonic()
                count = _block(stub, system.api_key, images, one)
                wall, after = time.monotonic() - started, system.cpu_seconds()
                per = {k: 1000 * (after[k] - before[k]) / count for k in after}
                name = "AnalyzeImage" if one else "Analyze"
                blocks[name].append(per)
                figures = " ".join(f"{k} {v:.2f}" for k, v in per.items())
                print(f"{name:12} {count / wall:5.1f} images/s, CPU-ms: {figures}", flush=True)
    for name, rows in blocks.items():
        medians = " ".join(f"{k} {statistics.median(r[k] for r in rows):.2f}" for k in rows[0])
        print(f"{name:12} medians: {medians}")


if __name__ == "__main__":
    main()
