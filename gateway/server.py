"""Runs the gateway: gRPC and REST in one event loop over one domain service."""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from redis import asyncio as aioredis

from gateway import metrics
from gateway.accounts.setup import account_service
from gateway.analysis_service import AnalysisService
from gateway.audit import AuditLog
from gateway.batch_analysis import BatchAnalysis
from gateway.config import GatewaySettings
from gateway.database import Database, upgrade
from gateway.dependencies import Dependencies
from gateway.in_process_preprocessing import InProcessPreprocessing
from gateway.preprocessor_client import PreprocessorClient
from gateway.records import Records
from gateway.records.crypto import field_cipher
from gateway.rest import create_app
from gateway.rpc.accounts import AccountServicer
from gateway.rpc.analysis import AnalysisServicer
from gateway.rpc.auth import AuthInterceptor
from gateway.rpc.records import RecordServicer
from gateway.rpc.shedding import SheddingInterceptor
from gateway.surveillance.thresholds import ClinicThresholds
from skinscan.v1 import account_service_pb2 as account_pb
from skinscan.v1 import account_service_pb2_grpc as account_pb_grpc
from skinscan.v1 import analysis_service_pb2 as pb
from skinscan.v1 import analysis_service_pb2_grpc as pb_grpc
from skinscan.v1 import record_service_pb2 as record_pb
from skinscan.v1 import record_service_pb2_grpc as record_pb_grpc
from skinscan_kit.grpc_server import GrpcServer
from skinscan_kit.job_queue import JobQueue

__all__ = ["GatewayServer"]

log = logging.getLogger(__name__)


class GatewayServer:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.preprocessor: PreprocessorClient | InProcessPreprocessing = (
            InProcessPreprocessing(settings, settings.mtls_channel_credentials())
            if settings.preprocess_in_process
            else PreprocessorClient(
                settings.preprocessor_target,
                settings.preprocessor_timeout_s,
                settings.mtls_channel_credentials(),
            )
        )
        self.redis = aioredis.from_url(settings.redis_url) if settings.redis_url else None
        jobs = JobQueue(self.redis, ttl_s=settings.job_ttl_s) if self.redis is not None else None
        self.database = Database(settings.database)
        # Before the services that decide: each result is decided at its clinic's threshold.
        self.thresholds = ClinicThresholds(self.database)
        self.service = AnalysisService(
            self.preprocessor,
            jobs,
            settings.analyses_in_flight,
            settings.max_queued_jobs,
            settings.max_job_wait_s,
            max_waiting=settings.analyses_waiting,
            max_wait_s=settings.analysis_max_wait_s,
            clinic_decision=self.thresholds,
        )
        self.audit = AuditLog(self.database)
        self.accounts = account_service(settings, self.database, self.redis)
        self.batches = BatchAnalysis(
            self.preprocessor,
            self.service.admission,
            self.accounts.limits.charge,
            group_images=settings.batch_group_images,
            max_calls=settings.max_batch_calls,
            clinic_decision=self.thresholds,
        )
        self.records = Records.build(
            self.database,
            field_cipher(settings.field_keys, settings.search_key, settings.state_dir),
            self.service,
            settings.images_location,
            self.thresholds,
        )
        self._purge_task: asyncio.Task[None] | None = None
        self._surveillance_task: asyncio.Task[None] | None = None
        analyses = f"/{pb.DESCRIPTOR.services_by_name['AnalysisService'].full_name}"
        self.grpc = GrpcServer(
            metrics.RPC_SECONDS,
            interceptors=[
                SheddingInterceptor(
                    {
                        f"{analyses}/Analyze": self.service.admission.check,
                        f"{analyses}/AnalyzeImage": self.service.admission.check,
                        f"{analyses}/SubmitJob": self.service.shed_job,
                    }
                ),
                AuthInterceptor(self.accounts, self.audit),
            ],
        )
        pb_grpc.add_AnalysisServiceServicer_to_server(
            AnalysisServicer(
                self.service, self.batches, settings.max_image_bytes, settings.max_batch_images
            ),
            self.grpc.server,
        )
        self.grpc.add_service(pb.DESCRIPTOR.services_by_name["AnalysisService"].full_name)
        account_pb_grpc.add_AccountServiceServicer_to_server(
            AccountServicer(self.accounts, self.audit), self.grpc.server
        )
        self.grpc.add_service(account_pb.DESCRIPTOR.services_by_name["AccountService"].full_name)
        record_pb_grpc.add_RecordServiceServicer_to_server(
            RecordServicer(self.records, settings.max_image_bytes), self.grpc.server
        )
        self.grpc.add_service(record_pb.DESCRIPTOR.services_by_name["RecordService"].full_name)
        self.ready = False
        self.rest = uvicorn.Server(
            uvicorn.Config(
                create_app(
                    self.service,
                    self.batches,
                    self.accounts,
                    self.audit,
                    self.records,
                    settings.max_image_bytes,
                    lambda: self.ready,
                    settings.refresh_token_ttl_s,
                    Dependencies(self.preprocessor, jobs, self.database).report,
                    settings.max_batch_images,
                ),
                host=settings.host,
                port=settings.rest_port,
                log_level="warning",
                lifespan="off",
                ssl_certfile=settings.tls_cert_file,
                ssl_keyfile=settings.tls_key_file,
            )
        )
        self._rest_task: asyncio.Task[None] | None = None
        self.grpc_port = 0
        self.rest_port = 0

    async def _prepare_records(self) -> None:
        """Migrates the database, and on first start creates the admin and says its password once."""
        s = self.settings
        log.info("records database: %s", self.database.urls.redacted())
        await asyncio.to_thread(upgrade, s.database)
        given = s.admin_password.get_secret_value() if s.admin_password else None
        created = await self.accounts.ensure_admin(s.clinic_name, s.admin_username, given)
        if created is None:
            return
        if created.password is None:
            log.info("created the admin account %r with SKINSCAN_ADMIN_PASSWORD", created.username)
            return
        # On the console only, never in the log: it is a credential. It is
        # shown this once; the admin changes it after signing in.
        print(
            f"\n  First start: created the admin account {created.username!r} with the one-time "
            f"password\n\n      {created.password}\n\n  Sign in with `skinscan login "
            f"--username {created.username}`, then change it with `skinscan passwd`.\n",
            flush=True,
        )

    async def start(self) -> None:
        s = self.settings
        await self._prepare_records()
        self.grpc_port = await self.grpc.start(s.host, s.grpc_port, s.public_server_credentials())
        # Binding here (not in uvicorn) makes a busy port fail start-up at once
        # and tells us the port when 0 was asked for.
        rest_socket = socket.create_server((s.host, s.rest_port))
        scheme = "https" if s.tls else "http"
        self.rest_port = rest_socket.getsockname()[1]
        self._rest_task = asyncio.create_task(self.rest.serve(sockets=[rest_socket]), name="rest")
        log.info(
            "gateway gRPC on %s:%d%s, REST on %s://%s:%d",
            s.host,
            self.grpc_port,
            " (TLS)" if s.tls else "",
            scheme,
            s.host,
            self.rest_port,
        )
        if self.service.jobs is not None:
            await self.service.jobs.ping()
        else:
            log.warning("SKINSCAN_REDIS_URL is not set: asynchronous jobs are disabled")
        await self.preprocessor.wait_until_ready()
        self._purge_task = asyncio.create_task(self._purge_images(), name="image-retention")
        self._surveillance_task = asyncio.create_task(
            self._publish_surveillance(), name="surveillance"
        )
        self.ready = True
        await self.grpc.set_serving()
        log.info("gateway serving")

    async def _purge_images(self) -> None:
        """Deletes kept images past their clinic's retention, now and then periodically."""
        while True:
            try:
                await self.records.images.purge_expired(self.database)
            except Exception:
                # A database hiccup must not end the schedule; the next run retries.
                log.exception("could not delete images past their retention; will retry")
            await asyncio.sleep(self.settings.image_purge_interval_s)

    async def _publish_surveillance(self) -> None:
        """Every clinic's audit figures to the metrics, now and then periodically."""
        while True:
            try:
                await self.thresholds.publish_all()
            except Exception:
                log.exception("could not measure the clinics' audit cases; will retry")
            await asyncio.sleep(self.settings.surveillance_interval_s)

    async def stop(self) -> None:
        self.ready = False
        for task in (self._purge_task, self._surveillance_task):
            if task is not None:
                task.cancel()
        self.rest.should_exit = True
        if self.service.jobs is not None:
            self.service.jobs.stop_waiting()  # long polls answer now, not at their wait's end
        await self.grpc.stop(self.settings.shutdown_grace_s)
        if self._rest_task is not None:
            await self._rest_task
        await self.preprocessor.close()
        if self.service.jobs is not None:
            await self.service.jobs.close()
        await self.database.close()
        if self.redis is not None:
            await self.redis.aclose()
