"""Runs the inference service: gRPC first, then the model, then SERVING."""

from __future__ import annotations

import asyncio
import logging

from inference import metrics
from inference.config import InferenceSettings
from inference.dynamic_batcher import DynamicBatcher
from inference.model_service import ModelService
from inference.model_updates import ModelUpdates
from inference.onnx_model import OnnxModel
from inference.servicer import InferenceServicer
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc
from skinscan_kit.cores import usable_cores
from skinscan_kit.grpc_server import GrpcServer
from skinscan_model.store import ModelStore, ModelVersion

__all__ = ["InferenceServer"]

log = logging.getLogger(__name__)


class InferenceServer:
    def __init__(self, settings: InferenceSettings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or settings.model_store()
        self.servicer = InferenceServicer()
        self.grpc = GrpcServer(
            metrics.RPC_SECONDS,
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
            ],
        )
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.servicer, self.grpc.server)
        self.grpc.add_service(pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name)
        self.updates: ModelUpdates | None = None
        self.port = 0

    async def start(self) -> None:
        """Listens at once (liveness), loads and warms the model, then reports SERVING."""
        s = self.settings
        self.port = await self.grpc.start(s.host, s.port, s.mtls_server_credentials())
        log.info("inference listening on %s:%d%s", s.host, self.port, " (mTLS)" if s.mtls else "")
        version = await asyncio.to_thread(self.store.fetch, s.model_name, s.model_version or None)
        service = await self._load(version)
        self.servicer.serve(service)
        await self.grpc.set_serving()
        log.info(
            "serving %s version %s from %r on %s (batch <= %d, delay <= %.1f ms)",
            version.name,
            version.version,
            self.store,
            service.model.provider,
            s.max_batch_size,
            s.max_queue_delay_ms,
        )
        if s.model_poll_s > 0 and not s.model_version:
            self.updates = ModelUpdates(
                self.store,
                self.servicer,
                self._load,
                self._unload,
                s.model_poll_s,
                s.replaced_version_grace_s,
            )
            self.updates.start()

    async def _load(self, version: ModelVersion) -> ModelService:
        """A verified, loaded and warmed version behind its own batcher."""
        s = self.settings
        await asyncio.to_thread(self.store.verify, version)
        model = await asyncio.to_thread(
            OnnxModel,
            version,
            s.device,
            s.intra_op_threads,
            s.spin_wait,
            s.alone_intra_op_threads or usable_cores(),
        )
        # Every batch size the batcher can form: the first run at a new shape pays for
        # its allocations (and, on a GPU, its convolution algorithm search).
        await asyncio.to_thread(model.warm_up, tuple(range(1, s.max_batch_size + 1)))
        batcher = DynamicBatcher(
            model.run,
            s.max_batch_size,
            s.max_queue_delay_ms / 1000,
            s.max_queued_images,
            s.concurrent_batches,
            model.run_alone if model.alone_session is not None else None,
        )
        batcher.start()
        metrics.MODEL_LOADED.labels(version.name, version.version, model.provider).set(1)
        return ModelService(model, batcher)

    async def _unload(self, service: ModelService) -> None:
        await service.batcher.drain(self.settings.shutdown_grace_s)
        metrics.MODEL_LOADED.remove(service.name, service.version, service.model.provider)

    async def stop(self) -> None:
        if self.updates is not None:
            await self.updates.stop()
        await self.grpc.stop(self.settings.shutdown_grace_s)
        if self.servicer.service is not None:
            await self._unload(self.servicer.service)
