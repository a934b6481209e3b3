"""`AsyncClient`: the SDK for asyncio applications, over grpc.aio.

    async with AsyncClient("127.0.0.1:50051", api_key=key) as client:
        async for index, result in client.analyze_many(paths):  # through AnalyzeBatch
            ...

It covers what a service client does at volume: analyses, jobs, sign-in and
the patient-record calls; administration stays with the blocking `Client`.
Credentials, TLS, deadlines and retries work as in `Client`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from skinscan.account_convert import caller_from_proto, tokens_from_proto
from skinscan.accounts import Caller, Tokens
from skinscan.analysis import Analysis
from skinscan.batches import (
    BatchBook,
    NoBatchApi,
    Pending,
    Result,
    call_timeout_s,
    domain_error,
    image_requests,
    outcome_of,
)
from skinscan.channel import channel_credentials, channel_options, retry_pause
from skinscan.errors import SkinscanError, UnavailableError
from skinscan.grpc_status import aio_early_end, raise_domain_error, unimplemented
from skinscan.jobs import JOB_WAIT_S, Job
from skinscan.proto_convert import analysis_from_proto, job_from_proto
from skinscan.record_convert import (
    create_patient_request,
    lesion_from_proto,
    lesion_image_upload,
    patient_from_proto,
    recorded_from_proto,
)
from skinscan.records import Lesion, Page, Patient, RecordedAnalysis
from skinscan.streaming import analyze_requests, image_upload, read_image
from skinscan.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    record_service_pb2,
    record_service_pb2_grpc,
)

__all__ = ["AsyncClient"]

RENEW_BEFORE_S = 30.0


class AsyncClient:
    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        timeout_s: float = 60.0,
        *,
        api_key: str | None = None,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        retries: bool = True,
        wait_for_ready: bool = False,
    ) -> None:
        options = channel_options(retries)
        credentials = channel_credentials(tls, root_certificates)
        self._channel = (
            grpc.aio.insecure_channel(target, options=options)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials, options=options)
        )
        self._analyses = analysis_service_pb2_grpc.AnalysisServiceStub(self._channel)
        self._accounts = account_service_pb2_grpc.AccountServiceStub(self._channel)
        self._records = record_service_pb2_grpc.RecordServiceStub(self._channel)
        self._timeout = timeout_s
        self._wait_for_ready = wait_for_ready
        self._retries = retries
        self._batch_api = True  # until the gateway says it has no AnalyzeBatch
        self._one_message_api = True  # until the gateway says it has no AnalyzeImage
        self._credential = api_key or token
        self._tokens: Tokens | None = None
        self._renew_at = float("inf")
        self._renewing = asyncio.Lock()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    # -- credentials -----------------------------------------------------------

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._tokens is not None and time.monotonic() >= self._renew_at:
            async with self._renewing:  # many concurrent calls, one renewal
                if time.monotonic() >= self._renew_at:
                    await self.refresh()
        return (("authorization", f"Bearer {self._credential}"),) if self._credential else ()

    def _signed_in(self, tokens: Tokens) -> Tokens:
        self._tokens, self._credential = tokens, tokens.access_token
        self._renew_at = time.monotonic() + max(0.0, tokens.expires_in_s - RENEW_BEFORE_S)
        return tokens

    async def _call(
        self,
        stub: Any,
        method: str,
        request: Any,
        authenticated: bool = True,
        extra_timeout_s: float = 0.0,
    ) -> Any:
        metadata = await self._metadata() if authenticated else ()
        try:
            return await getattr(stub, method)(
                request,
                timeout=self._timeout + extra_timeout_s,
                metadata=metadata,
                wait_for_ready=self._wait_for_ready,
            )
        except grpc.aio.AioRpcError as error:
            raise_domain_error(error, "gateway")

    async def login(self, username: str, password: str) -> Tokens:
        response = await self._call(
            self._accounts,
            "Login",
            account_service_pb2.LoginRequest(username=username, password=password),
            authenticated=False,
        )
        return self._signed_in(tokens_from_proto(response.tokens))

    async def refresh(self) -> Tokens:
        if self._tokens is None:
            raise UnavailableError("not signed in with a user name: nothing to refresh")
        spent, self._tokens = self._tokens.refresh_token, None
        response = await self._call(
            self._accounts,
            "Refresh",
            account_service_pb2.RefreshRequest(refresh_token=spent),
            authenticated=False,
        )
        return self._signed_in(tokens_from_proto(response.tokens))

    async def whoami(self) -> Caller:
        return caller_from_proto(
            await self._call(self._accounts, "WhoAmI", account_service_pb2.WhoAmIRequest())
        )

    # -- analyses and jobs -----------------------------------------------------

    async def analyze(self, image: str | Path | bytes, filename: str = "") -> Analysis:
        data, name = read_image(image, filename)
        method, request = analyze_requests(data, name, self._one_message_api)
        try:
            response = await self._upload(method, request)
        except UnavailableError as failed:
            if method == "Analyze" or not unimplemented(failed):
                raise
            self._one_message_api = False  # a gateway older than AnalyzeImage
            method, request = analyze_requests(data, name, one_message=False)
            response = await self._upload(method, request)
        return analysis_from_proto(response.analysis)

    async def _upload(self, method: str, messages: list[Any] | Any) -> Any:
        """Sends an upload (a list of messages is streamed, one message sent as it is); one
        refused for capacity is sent again after its Retry-After."""
        attempt = 0
        while True:
            try:
                request = _stream(messages) if isinstance(messages, list) else messages
                return await self._call(self._analyses, method, request)
            except SkinscanError as refused:
                pause = retry_pause(refused, attempt, self._retries)
                if pause is None:
                    raise
                await asyncio.sleep(pause)
                attempt += 1

    async def analyze_many(
        self, images: Iterable[str | Path | bytes], concurrency: int = 32
    ) -> AsyncIterator[tuple[int, Analysis | SkinscanError | OSError]]:
        """Analyses many images through AnalyzeBatch; yields (index, result) as each completes.

        As `Client.analyze_many`: a failed image yields its error, one refused for capacity
        is sent again after its Retry-After, `concurrency` images go ahead of their results,
        and a gateway without AnalyzeBatch gets one Analyze call per image.
        """
        book = BatchBook(images, self._retries)
        while True:
            pause = book.pause_s
            call = book.next_call()
            if not call:
                return
            await asyncio.sleep(pause)
            if not self._batch_api:
                async for answer in self._analyze_each(call + book.queue, min(concurrency, 8)):
                    yield answer
                return
            try:
                async for answer in self._batch_call(book, call, concurrency):
                    yield answer
            except NoBatchApi:
                self._batch_api = False
                book.again = call + book.again

    async def _batch_call(
        self, book: BatchBook, call: list[Pending], window_size: int
    ) -> AsyncIterator[tuple[int, Result]]:
        window = asyncio.Semaphore(max(1, window_size))
        sent: list[Pending] = []
        unreadable: list[tuple[Pending, OSError]] = []
        answered: set[int] = set()

        async def requests() -> AsyncIterator[Any]:
            for item in call:
                await window.acquire()
                try:
                    messages = (
                        image_requests(item)
                        if isinstance(item.image, bytes)
                        else await asyncio.to_thread(image_requests, item)
                    )
                except OSError as error:
                    unreadable.append((item, error))
                    window.release()
                    continue
                sent.append(item)
                for message in messages:
                    yield message

        def drain() -> Iterator[tuple[int, Result]]:
            while unreadable:
                item, error = unreadable.pop(0)
                answered.add(item.index)
                yield item.index, error

        stream = self._analyses.AnalyzeBatch(
            requests(),
            timeout=call_timeout_s(self._timeout, len(call)),
            metadata=await self._metadata(),
            wait_for_ready=self._wait_for_ready,
        )
        try:
            async for response in stream:
                if response.index >= len(sent):
                    raise UnavailableError("the gateway answered an image that was not sent")
                item = sent[response.index]
                answered.add(item.index)
                window.release()
                for answer in (*drain(), *book.settle(item, outcome_of(response))):
                    yield answer
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED or (
                not answered and aio_early_end(error) and await self._lacks_batch_api()
            ):
                raise NoBatchApi from error
            for answer in (*drain(), *book.unanswered(call, answered, domain_error(error))):
                yield answer
        finally:
            stream.cancel()
        for answer in drain():
            yield answer

    async def _lacks_batch_api(self) -> bool:
        """Whether the gateway has no AnalyzeBatch, asked by a call that uploads nothing.

        A gateway older than AnalyzeBatch ends the call at once with UNIMPLEMENTED, but while
        images are still being uploaded grpc.aio may report its own early-end INTERNAL in its
        place (grpc/grpc#36066), and every resend can race the same way. A call with nothing to
        upload cannot race; a gateway with AnalyzeBatch answers it with no result.
        """

        async def nothing() -> AsyncIterator[Any]:
            return
            yield

        try:
            async for _ in self._analyses.AnalyzeBatch(
                nothing(), timeout=self._timeout, metadata=await self._metadata()
            ):
                pass
        except grpc.aio.AioRpcError as error:
            return bool(error.code() == grpc.StatusCode.UNIMPLEMENTED)
        return False

    async def _analyze_each(
        self, items: list[Pending], concurrency: int
    ) -> AsyncIterator[tuple[int, Analysis | SkinscanError | OSError]]:
        """One Analyze call per image, `concurrency` at a time (for a gateway without batches)."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(item: Pending) -> tuple[int, Any]:
            async with gate:
                try:
                    return item.index, await self.analyze(item.image)
                except (SkinscanError, OSError) as error:
                    return item.index, error

        tasks = [asyncio.ensure_future(one(item)) for item in items]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    async def submit_job(self, image: str | Path | bytes, filename: str = "") -> Job:
        messages = image_upload(analysis_service_pb2.SubmitJobRequest, image, filename)
        response = await self._upload("SubmitJob", messages)
        return job_from_proto(response.job)

    async def get_job(self, job_id: str, wait_s: float = 0.0) -> Job:
        """As Client.get_job."""
        response = await self._call(
            self._analyses,
            "GetJob",
            analysis_service_pb2.GetJobRequest(job_id=job_id, wait_s=wait_s),
            extra_timeout_s=wait_s,
        )
        return job_from_proto(response.job)

    async def wait_for_job(self, job_id: str, timeout_s: float = 120.0, poll_s: float = 0.2) -> Job:
        """As Client.wait_for_job."""
        deadline = time.monotonic() + timeout_s
        while True:
            asked = time.monotonic()
            wait_s = max(0.0, min(JOB_WAIT_S, deadline - asked))
            job = await self.get_job(job_id, wait_s)
            if job.status.finished:
                return job
            if time.monotonic() > deadline:
                raise UnavailableError(f"job {job_id} still {job.status.value} after {timeout_s} s")
            if time.monotonic() - asked < wait_s / 2:
                await asyncio.sleep(poll_s)  # an older gateway did not wait

    # -- records ---------------------------------------------------------------

    async def create_patient(
        self,
        name: str,
        sex: str,
        birth_date: date | None = None,
        age_years: int | None = None,
        identifier: str | None = None,
    ) -> Patient:
        response = await self._call(
            self._records,
            "CreatePatient",
            create_patient_request(name, sex, birth_date, age_years, identifier),
        )
        return patient_from_proto(response.patient)

    async def create_lesion(
        self, patient_id: str, body_site: str, description: str | None = None
    ) -> Lesion:
        response = await self._call(
            self._records,
            "CreateLesion",
            record_service_pb2.CreateLesionRequest(
                patient_id=patient_id, body_site=body_site, description=description or ""
            ),
        )
        return lesion_from_proto(response.lesion)

    async def analyze_lesion(self, lesion_id: str, image: str | Path | bytes) -> RecordedAnalysis:
        messages = lesion_image_upload(lesion_id, image)
        response = await self._call(self._records, "AnalyzeLesion", _stream(messages))
        return recorded_from_proto(response.recorded)

    async def list_recorded_analyses(
        self, lesion_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[RecordedAnalysis]:
        response = await self._call(
            self._records,
            "ListRecordedAnalyses",
            record_service_pb2.ListRecordedAnalysesRequest(
                lesion_id=lesion_id or "", limit=limit, cursor=cursor or ""
            ),
        )
        return Page(
            [recorded_from_proto(r) for r in response.analyses], response.next_cursor or None
        )

    async def export_fhir(self, analysis_id: str) -> dict[str, Any]:
        response = await self._call(
            self._records,
            "ExportFhir",
            record_service_pb2.ExportFhirRequest(analysis_id=analysis_id),
        )
        report: dict[str, Any] = json.loads(response.diagnostic_report_json)
        return report


async def _stream(messages: list[Any]) -> AsyncIterator[Any]:
    for message in messages:
        yield message
