"""`skinscan bench`: the limit, then gRPC, REST and jobs end to end; one table, JSON beside it."""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import importlib.util
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from skinscan import Analysis, Client
from skinscan.errors import SkinscanError
from skinscan_cli.bench.every_path_overload import overload_every_path
from skinscan_cli.bench.images import GENERATED_SIZES, bench_images
from skinscan_cli.bench.job_waits import JobWaits
from skinscan_cli.bench.limit import decode_cost, int8_over_fp32, raw_throughput
from skinscan_cli.bench.load import LoadResult, closed_loop, open_loop
from skinscan_cli.bench.overhead import OnnxRuntimeCost, batch_totals, overhead_ms
from skinscan_cli.bench.soak import soak
from skinscan_cli.bench.system import BenchSystem, cpu_seconds, memory_mb
from skinscan_cli.system import free_port
from skinscan_model.preprocessing import load_model_input
from skinscan_model.store import LocalModelStore

__all__ = ["add_command"]

DEFAULT_REPOSITORY = Path("models")
DEFAULT_MODEL = "skinscan-resnet50"


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
    }


def _grpc_sender(target: str, api_key: str) -> Any:
    def make() -> Any:
        # No retries: the benchmark measures the server, refusals included.
        client = Client(target, api_key=api_key, retries=False)
        return lambda data: client.analyze(data, "bench.jpg")

    return make


# Images per AnalyzeBatch call on the batch path: one of the gateway's groups.
BATCH_IMAGES = 16


def _batch_sender(target: str, api_key: str, images: list[bytes]) -> Any:
    """Each call sends the next BATCH_IMAGES images (in turn) through AnalyzeBatch."""
    turn = itertools.count()

    def make() -> Any:
        client = Client(target, api_key=api_key, retries=False)
        start = next(turn) * BATCH_IMAGES

        def send(_: bytes) -> int:
            nonlocal start
            batch = [images[(start + i) % len(images)] for i in range(BATCH_IMAGES)]
            start += BATCH_IMAGES
            for _index, result in client.analyze_many(batch, concurrency=BATCH_IMAGES):
                if not isinstance(result, Analysis):
                    raise result
            return BATCH_IMAGES

        return send

    return make


def _rest_sender(url: str, api_key: str) -> Any:
    def make() -> Any:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"})

        def send(data: bytes) -> None:
            answer = client.post("/v1/analyses", files={"image": ("bench.jpg", data, "image/jpeg")})
            answer.raise_for_status()

        return send

    return make


def _job_sender(target: str, api_key: str) -> Any:
    def make() -> Any:
        # No retries: the benchmark measures the server, refusals included.
        client = Client(target, api_key=api_key, retries=False)

        def send(data: bytes) -> None:
            job = client.submit_job(data, "bench.jpg")
            done = client.wait_for_job(job.id, timeout_s=120, poll_s=0.01)
            if done.result is None:
                raise RuntimeError(done.error or "the job ended without a result")

        return send

    return make


def _litserve_sender(url: str) -> Any:
    def make() -> Any:
        client = httpx.Client(base_url=url)

        def send(data: bytes) -> None:
            body = {"image_base64": base64.b64encode(data).decode()}
            client.post("/predict", json=body).raise_for_status()

        return send

    return make


@contextlib.contextmanager
def _litserve(repository: Path, model: str) -> Iterator[tuple[str | None, int | None]]:
    """The LitServe baseline's URL and process id while it runs; Nones when the `bench`
    extra is missing."""
    if importlib.util.find_spec("litserve") is None:
        print("LitServe baseline skipped: install the bench extra (pip install -e '.[bench]')")
        yield None, None
        return
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skinscan_cli.bench.litserve_baseline",
            "--port",
            str(port),
            "--model-repository",
            str(repository),
            "--model",
            model,
        ],
        # Its own process group: LitServe starts workers of its own, which go with it.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the LitServe baseline did not start")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def combined_limit(onnxruntime_images_per_s: float, decode_ms: float, cores: int) -> float:
    """Images per second if the machine did nothing but the work itself: each image takes
    1/onnxruntime_images_per_s of the whole machine (ONNX Runtime uses every core) plus its
    decode + resize on one of `cores` cores."""
    seconds = 1 / onnxruntime_images_per_s + decode_ms / 1000 / cores
    return 1 / seconds


def _process_tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants."""
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return cpu_seconds(pid) + sum(_process_tree_cpu(int(child)) for child in children)


def _with_cpu(
    processes_cpu: Callable[[], dict[str, float]], load: Callable[[], LoadResult]
) -> tuple[LoadResult, dict[str, float]]:
    """Runs `load` and says how much CPU each process spent per answered image: where the
    cores went (the clients run in this process, so they count as "clients")."""
    before = processes_cpu()
    clients_before = time.process_time()
    result = load()
    clients = time.process_time() - clients_before
    after = processes_cpu()
    # Warm-up answers are not counted in the result but did use CPU: scale to all answers.
    answered = max(result.answered_total, 1)
    spent = {name: after[name] - before.get(name, after[name]) for name in after}
    spent["clients"] = clients
    per_image = {name: round(seconds * 1000 / answered, 2) for name, seconds in spent.items()}
    return result, per_image | {"total": round(sum(per_image.values()), 2)}


def _overload(
    report: dict[str, Any],
    sender: Callable[[], Callable[[bytes], None]],
    images: list[bytes],
    saturated: LoadResult,
    unloaded: LoadResult,
    args: argparse.Namespace,
    limit: float,
) -> list[list[str]]:
    """Open-loop gRPC at 80% of the throughput just measured, then at 3x it: tail latency
    under a steady load, and what admission control does with more than can be served."""
    rows = []
    for name, share in (("grpc_80_percent", 0.8), ("grpc_3x_saturation", 3.0)):
        rate = share * saturated.images_per_s
        result = open_loop(sender, images, rate, args.seconds)
        report[name] = result.as_dict()
        label = f"skinscan grpc, {rate:.0f}/s offered ({share:g}x)"
        rows.append(_row(label, result, limit))
    steady, over = report["grpc_80_percent"], report["grpc_3x_saturation"]
    if steady["p50_ms"] and steady["p99_ms"]:
        report["p99_over_p50_at_80_percent"] = steady["p99_ms"] / steady["p50_ms"]
    unloaded_p99 = unloaded.percentile_ms(99)
    if over["p99_ms"] and unloaded_p99:
        report["overload_p99_over_unloaded_p99"] = over["p99_ms"] / unloaded_p99
    return rows


def _row(
    name: str,
    result: LoadResult,
    limit: float,
    cpu: dict[str, float] | None = None,
    overhead: dict[str, float] | None = None,
) -> list[str]:
    def ms(q: float) -> str:
        value = result.percentile_ms(q)
        return "" if value is None else f"{value:.0f}"

    errors = sum(result.errors.values())
    return [
        name,
        f"{result.images_per_s:.1f}",
        ms(50),
        ms(95),
        ms(99),
        f"{result.images_per_s / limit:.2f}" if limit else "",
        str(len(result.refused_latencies_s)),
        str(errors),
        f"{cpu['total']:.1f}" if cpu else "",
        f"{overhead['overhead_ms']:.1f}" if overhead else "",
    ]


def _table(rows: list[list[str]]) -> str:
    header = [
        "path",
        "images/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "/ limit",
        "refused",
        "errors",
        "CPU ms",
        "overhead ms",
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (SkinscanError, RuntimeError, OSError) as error:
        print(f"skinscan bench: {error}", file=sys.stderr)
        return 2


def _soak(args: argparse.Namespace) -> int:
    images = bench_images(args.images)
    with BenchSystem(args.model_repository, dict(args.set)) as system:
        report = soak(
            system,
            _grpc_sender(system.grpc_target, system.api_key),
            images.encoded,
            args.soak,
            args.clients,
        )
    load = report["load"]
    print(
        f"soak: answered {load['answered']}, refused {load['refused']}, "
        f"errors {sum(load['errors'].values())}; p50 {load['p50_ms'] or 0:.0f} ms, "
        f"p99 {load['p99_ms'] or 0:.0f} ms"
    )
    parts = report["latency_by_sixth_ms"]
    print(
        "soak: p50 / p99 ms by sixth of the run: "
        + ", ".join(f"{p['p50_ms']:.0f} / {p['p99_ms']:.0f}" for p in parts)
    )
    for name, growth in report["rss_growth_percent"].items():
        warm = report["rss_after_warm_up_mb"][name]
        last = report["rss_mb"][-1][name]
        print(f"soak: {name} RSS {warm:.0f} MB after warm-up -> {last:.0f} MB, {growth:+.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"soak": report}, indent=2))
        print(f"JSON: {args.json}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.soak:
        return _soak(args)
    version = LocalModelStore(args.model_repository).fetch(args.model)
    size = version.metadata.input.size
    images = bench_images(args.images)
    pixels = np.stack([load_model_input(data, size) for data in images.encoded])
    print(f"benchmark of {version.name} version {version.version} ({version.metadata.precision})")
    print(f"images: {len(images.encoded)} {images.source}")
    machine = _machine()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['providers']}")
    raw = raw_throughput(version, pixels, tuple(args.raw_threads))
    decoding = decode_cost(images.encoded, size)
    cores = os.cpu_count() or 1
    limit = combined_limit(raw.best.images_per_s, decoding.ms_per_image, cores)
    print(
        f"ONNX Runtime alone: {raw.best.images_per_s:.1f} images/s at batch "
        f"{raw.best.batch_size}, {raw.best.threads} threads"
        f"{', spinning' if raw.best.spin_wait else ''}"
        f"{f', {raw.best.concurrent} batches at once' if raw.best.concurrent > 1 else ''}; "
        f"batch-1 {raw.batch1_ms:.1f} ms; "
        f"decode + resize {decoding.ms_per_image:.1f} ms/image on one core"
    )
    print(
        f"limit: {limit:.1f} images/s, the work itself: inference at ONNX Runtime's best "
        f"plus decode + resize spread over {cores} cores"
    )
    report: dict[str, Any] = {
        "model": {"name": version.name, "version": version.version},
        "machine": machine,
        "images": images.source,
        "limit": {
            "images_per_s": limit,
            "onnxruntime_images_per_s": raw.best.images_per_s,
            "threads": raw.best.threads,
            "spin_wait": raw.best.spin_wait,
            "concurrent_batches": raw.best.concurrent,
            "batch_size": raw.best.batch_size,
            "batch1_ms": raw.batch1_ms,
            "decode_ms": decoding.ms_per_image,
            "tried": [vars(t) for t in raw.tried],
        },
    }
    best = raw.best
    precision = int8_over_fp32(
        version, pixels, best.threads, best.batch_size, concurrent=best.concurrent
    )
    if precision is not None:
        report["int8_over_fp32"] = vars(precision) | {"ratio": precision.ratio}
        print(
            f"int8 {precision.int8_images_per_s:.1f} images/s against the same network in "
            f"fp32 {precision.fp32_images_per_s:.1f} (batch {precision.batch_size}, "
            f"{precision.threads} threads, {precision.concurrent} at once): "
            f"{precision.ratio:.2f}x"
        )
    report["decode_by_size"] = {}
    for width, height in GENERATED_SIZES:
        sample = bench_images(8 if width > 2000 else 16, size=(width, height)).encoded
        reduced = decode_cost(sample, size).ms_per_image
        full = decode_cost(sample, size, full_decode=True).ms_per_image
        report["decode_by_size"][f"{width}x{height}"] = {"ms": reduced, "full_decode_ms": full}
        print(
            f"decode + resize of a {width}x{height} JPEG: {reduced:.1f} ms "
            f"(Pillow decoding every pixel: {full:.1f} ms, {full / reduced:.1f}x)"
        )
    rows: list[list[str]] = [
        [
            "ONNX Runtime alone",
            f"{raw.best.images_per_s:.1f}",
            "",
            "",
            "",
            f"{raw.best.images_per_s / limit:.2f}",
            "",
            "",
            f"{cores * 1000 / raw.best.images_per_s:.1f}",
            "",
        ],
        [
            "limit: ONNX Runtime + decode",
            f"{limit:.1f}",
            "",
            "",
            "",
            "1.00",
            "",
            "",
            f"{cores * 1000 / limit:.1f}",
            "",
        ],
    ]
    settings = dict(args.set)
    report["settings"] = settings
    onnxruntime = OnnxRuntimeCost(version, pixels)
    with BenchSystem(args.model_repository, settings) as system:
        batches_url = f"http://127.0.0.1:{system.ports['SKINSCAN_INFERENCE_METRICS_PORT']}/metrics"
        paths = {
            "grpc": _grpc_sender(system.grpc_target, system.api_key),
            "batch": _batch_sender(system.grpc_target, system.api_key, images.encoded),
            "rest": _rest_sender(system.rest_url, system.api_key),
            "jobs": _job_sender(system.grpc_target, system.api_key),
        }
        for name in args.paths:
            load = functools.partial(
                closed_loop, paths[name], images.encoded, args.clients, args.seconds
            )
            batches_before = batch_totals(batches_url)
            result, cpu = _with_cpu(system.cpu_seconds, load)
            batches_after = batch_totals(batches_url)
            batch = batches_after.mean_since(batches_before)
            report[name] = result.as_dict() | {"cpu_ms_per_image": cpu}
            print(f"{name}: CPU ms per image: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
            overhead = None
            if batch is not None:
                # ONNX Runtime's cost as the service paid it in this window (its own
                # clock around each run), and, beside it, measured alone now, between
                # paths, at the batch size the batcher formed. On a shared host the standalone
                # figure moved from 20.6 to 26.3 CPU-ms between runs (2026-12-06): the
                # first is the base.
                formed = max(1, round(batch))
                alone = onnxruntime.cpu_ms_per_image(formed)
                inside = batches_after.onnxruntime_ms_since(batches_before)
                overhead = overhead_ms(cpu, alone if inside is None else inside)
                report[name]["overhead"] = overhead | {
                    "mean_batch_size": round(batch, 2),
                    "onnxruntime_alone_ms": round(alone, 2),
                }
                print(
                    f"{name}: the services spent {overhead['services_ms']} CPU-ms per image, "
                    f"ONNX Runtime {overhead['onnxruntime_ms']} of it "
                    f"({'as counted by the service' if inside is not None else 'measured alone'}"
                    f"; alone at batch {formed}, the batcher's mean {batch:.1f}: {alone:.2f}): "
                    f"overhead {overhead['overhead_ms']} CPU-ms"
                )
            rows.append(
                _row(f"skinscan {name}, {args.clients} clients", result, limit, cpu, overhead)
            )
            if name == "grpc":
                single = closed_loop(paths[name], images.encoded, 1, args.seconds / 2)
                report["grpc_one_client"] = single.as_dict()
                rows.append(_row("skinscan grpc, 1 client", single, limit))
                if args.overload:
                    rows += _overload(
                        report, paths[name], images.encoded, result, single, args, limit
                    )
        if args.overload and args.overload_seconds > 0 and "grpc" in report:
            print(f"every path at once, {args.overload_seconds:.0f} s at 3x saturation ...")
            waits = JobWaits(system.grpc_target, system.api_key)
            try:
                report["every_path_3x"] = overload_every_path(
                    {"grpc": paths["grpc"], "rest": paths["rest"], "jobs": waits.sender()},
                    images.encoded, report["grpc"]["images_per_s"], args.overload_seconds,
                    system.pids,
                )  # fmt: skip
            finally:
                waits.close()
        report["peak_rss_mb"] = {name: memory_mb(pid, "VmHWM") for name, pid in system.pids.items()}
    if args.litserve:
        with _litserve(args.model_repository, args.model) as (url, server):
            if url is not None and server is not None:
                load = functools.partial(
                    closed_loop, _litserve_sender(url), images.encoded, args.clients, args.seconds
                )
                baseline, cpu = _with_cpu(lambda: {"server": _process_tree_cpu(server)}, load)
                report["litserve"] = baseline.as_dict() | {"cpu_ms_per_image": cpu}
                rows.append(
                    _row(f"LitServe baseline, {args.clients} clients", baseline, limit, cpu)
                )
                grpc = report.get("grpc")
                if grpc and baseline.images_per_s:
                    report["grpc_over_litserve"] = grpc["images_per_s"] / baseline.images_per_s
    print()
    print(_table(rows))
    if "grpc_over_litserve" in report:
        print(f"gRPC / LitServe throughput: {report['grpc_over_litserve']:.2f}")
    if "grpc_one_client" in report:
        print(
            "one client vs the limit: p50 "
            f"{report['grpc_one_client']['p50_ms'] or 0:.1f} ms against batch-1 "
            f"{raw.batch1_ms:.1f} + decode {decoding.ms_per_image:.1f} ms"
        )
    if "p99_over_p50_at_80_percent" in report:
        steady = report["grpc_80_percent"]
        print(
            f"at 80% of saturation: p99 / p50 = {report['p99_over_p50_at_80_percent']:.2f}, "
            f"{steady['refused']} refused, {sum(steady['errors'].values())} errors"
        )
    if "overload_p99_over_unloaded_p99" in report:
        over = report["grpc_3x_saturation"]
        print(
            f"at 3x saturation: accepted {over['images_per_s']:.1f}/s with p99 "
            f"{over['p99_ms']:.0f} ms = {report['overload_p99_over_unloaded_p99']:.2f}x the "
            f"1-client p99; {over['refused']} refused at once (p99 "
            f"{over['refusal_p99_ms'] or 0:.0f} ms), {sum(over['errors'].values())} errors"
        )
    if "every_path_3x" in report:
        every = report["every_path_3x"]
        for name, path in every["paths"].items():
            print(
                f"every path at 3x, {name}: {path['images_per_s']:.1f}/s accepted, p99 "
                f"{path['p99_ms'] or 0:.0f} ms; {path['refused']} refused (p99 "
                f"{path['refusal_p99_ms'] or 0:.0f} ms); errors {path['errors'] or 0}"
            )
        print(
            "every path at 3x, RSS MB first / peak / last: "
            + ", ".join(
                f"{k} {v['first']:.0f} / {v['peak']:.0f} / {v['last']:.0f}"
                for k, v in every["rss_mb"].items()
            )
        )
        print(
            "every path at 3x, cores used while sending: "
            + ", ".join(f"{k} {v:.2f}" for k, v in every["cores_while_sending"].items())
        )
    print(
        "peak RSS (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in report["peak_rss_mb"].items() if v)
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"JSON: {args.json}")
    return 0


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("SKINSCAN_"):
        raise argparse.ArgumentTypeError(f"expected SKINSCAN_NAME=VALUE, got {text!r}")
    return name, value


def add_command(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure the limit (ONNX Runtime alone, decoding) and the system end to end",
        description=__doc__,
    )
    bench.add_argument("--model-repository", type=Path, default=DEFAULT_REPOSITORY)
    bench.add_argument("--model", default=DEFAULT_MODEL)
    bench.add_argument("--clients", type=int, default=8, help="concurrent closed-loop clients")
    bench.add_argument("--seconds", type=float, default=20.0, help="measured time per path")
    bench.add_argument("--images", type=int, default=64, help="distinct images sent in turn")
    bench.add_argument(
        "--paths",
        nargs="+",
        choices=("grpc", "batch", "rest", "jobs"),
        default=["grpc", "batch", "rest", "jobs"],
        help="end-to-end paths to measure",
    )
    bench.add_argument(
        "--raw-threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime threads to try"
    )
    bench.add_argument(
        "--litserve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the LitServe baseline (the bench extra)",
    )
    bench.add_argument(
        "--overload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also send gRPC at a fixed 80%% and 3x of the measured throughput",
    )
    bench.add_argument(
        "--overload-seconds",
        type=float,
        default=60.0,
        help="with --overload: then gRPC, REST and jobs together at 3x for this long (0: not)",
    )
    bench.add_argument(
        "--soak",
        type=float,
        default=0,
        metavar="SECONDS",
        help="instead: a steady 80%% load for this long, sampling each service's memory",
    )
    bench.add_argument(
        "--set",
        action="append",
        default=[],
        type=_setting,
        metavar="NAME=VALUE",
        help="a setting for the system under test, e.g. SKINSCAN_INFERENCE_INTRA_OP_THREADS=1",
    )
    bench.add_argument("--json", type=Path, default=None, help="also write the figures here")
    bench.set_defaults(run=run)
