"""Runs the preprocessor: gRPC, then inference and Redis readiness, then job workers."""

from __future__ import annotations

import asyncio
import logging

from redis import asyncio as aioredis

from preprocessor import metrics
from preprocessor.config import PreprocessorSettings
from preprocessor.job_worker import JobWorker
from preprocessor.servicer import PreprocessorServicer
from skinscan.errors import UnavailableError
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2 as pb
from skinscan_internal.preprocessor.v1 import preprocessor_service_pb2_grpc as pb_grpc
from skinscan_kit.admission import Admission
from skinscan_kit.grpc_server import GrpcServer
from skinscan_kit.job_queue import JobQueue
from skinscan_pipeline.inference_client import InferenceClient
from skinscan_pipeline.pipeline import ImagePipeline

__all__ = ["PreprocessorServer"]

log = logging.getLogger(__name__)


class PreprocessorServer:
    def __init__(self, settings: PreprocessorSettings) -> None:
        self.settings = settings
        self.inference = InferenceClient(
            settings.inference_target,
            settings.model_name,
            settings.inference_timeout_s,
            settings.mtls_channel_credentials(),
        )
        self.pipeline = ImagePipeline(self.inference, settings.image_limits)
        self.grpc = GrpcServer(metrics.RPC_SECONDS)
        self.admission = Admission(
            settings.max_in_flight,
            "images being preprocessed",
            metrics.IN_FLIGHT,
            metrics.REFUSED_TOTAL,
        )
        pb_grpc.add_PreprocessorServiceServicer_to_server(
            PreprocessorServicer(
                self.pipeline,
                settings.max_image_bytes,
                self.admission,
                settings.max_batch_images,
            ),
            self.grpc.server,
        )
        self.grpc.add_service(pb.DESCRIPTOR.services_by_name["PreprocessorService"].full_name)
        self.redis: aioredis.Redis | None = None
        self.workers: list[JobWorker] = []
        self._worker_tasks: list[asyncio.Task[None]] = []
        self.port = 0

    async def start(self) -> None:
        s = self.settings
        self.port = await self.grpc.start(s.host, s.port, s.mtls_server_credentials())
        log.info(
            "preprocessor listening on %s:%d%s", s.host, self.port, " (mTLS)" if s.mtls else ""
        )
        await self.inference.wait_until_ready()
        if s.job_workers:
            if not s.redis_url:
                raise UnavailableError(
                    "job workers need Redis: set SKINSCAN_REDIS_URL, or "
                    "SKINSCAN_PREPROCESSOR_JOB_WORKERS=0 to serve only synchronous requests"
                )
            self.redis = aioredis.from_url(s.redis_url)
            queue = JobQueue(
                self.redis, max_attempts=s.job_max_attempts, reclaim_idle_ms=s.job_reclaim_idle_ms
            )
            await queue.ping()
            await queue.ensure_group()
            for index in range(s.job_workers):
                worker = JobWorker(
                    queue,
                    self.pipeline,
                    f"{s.consumer_name}-{index}",
                    busy=self._synchronous_work,
                    batch_jobs=s.job_batch_images,
                )
                self.workers.append(worker)
                self._worker_tasks.append(asyncio.create_task(worker.run(), name=worker.consumer))
        await self.grpc.set_serving()
        log.info("preprocessor serving with %d job workers", len(self.workers))

    def _synchronous_work(self) -> bool:
        """Whether a caller is waiting on this process now: jobs wait for it to be served."""
        return self.settings.jobs_yield_to_synchronous and self.admission.current > 0

    async def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        await self.grpc.stop(self.settings.shutdown_grace_s)
        if self._worker_tasks:
            # A job still running after the grace period stays pending in Redis
            # and another worker reclaims it: cancelling loses nothing.
            _, late = await asyncio.wait(self._worker_tasks, timeout=self.settings.shutdown_grace_s)
            for task in late:
                task.cancel()
        await self.inference.close()
        if self.redis is not None:
            await self.redis.aclose()
