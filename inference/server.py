"""Runs the inference service: gRPC first, then the model, then SERVING."""

from __future__ import annotations

import asyncio
import logging

from inference import metrics
from inference.config import InferenceSettings
from inference.dynamic_batcher import DynamicBatcher
from inference.model_service import ModelService
from inference.onnx_model import OnnxModel
from inference.servicer import InferenceServicer
from skinscan_internal.inference import grpc_predict_v2_pb2 as pb
from skinscan_internal.inference import grpc_predict_v2_pb2_grpc as pb_grpc
from skinscan_kit.grpc_server import GrpcServer
from skinscan_model.store import LocalModelStore, ModelStore

__all__ = ["InferenceServer"]

log = logging.getLogger(__name__)


class InferenceServer:
    def __init__(self, settings: InferenceSettings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or LocalModelStore(settings.model_repository)
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
        self.batcher: DynamicBatcher | None = None
        self.port = 0

    async def start(self) -> None:
        """Listens at once (liveness), loads and warms the model, then reports SERVING."""
        s = self.settings
        self.port = await self.grpc.start(s.host, s.port, s.mtls_server_credentials())
        log.info("inference listening on %s:%d%s", s.host, self.port, " (mTLS)" if s.mtls else "")
        version = await asyncio.to_thread(self.store.fetch, s.model_name)
        await asyncio.to_thread(self.store.verify, version)
        model = await asyncio.to_thread(
            OnnxModel, version, s.device, s.intra_op_threads, s.spin_wait
        )
        # Every batch size the batcher can form: the first run at a new shape pays for
        # its allocations (and, on a GPU, its convolution algorithm search).
        await asyncio.to_thread(model.warm_up, tuple(range(1, s.max_batch_size + 1)))
        self.batcher = DynamicBatcher(
            model.run,
            s.max_batch_size,
            s.max_queue_delay_ms / 1000,
            s.max_queued_images,
            s.concurrent_batches,
        )
        self.batcher.start()
        self.servicer.set_service(ModelService(model, self.batcher))
        metrics.MODEL_LOADED.labels(version.name, version.version, model.provider).set(1)
        await self.grpc.set_serving()
        log.info(
            "serving %s version %s on %s (batch <= %d, delay <= %.1f ms)",
            version.name,
            version.version,
            model.provider,
            s.max_batch_size,
            s.max_queue_delay_ms,
        )

    async def stop(self) -> None:
        await self.grpc.stop(self.settings.shutdown_grace_s)
        if self.batcher is not None:
            await self.batcher.stop()
