"""The Python SDK: `Client` talks to the gateway's gRPC API, streaming uploads.

from skinscan import Client
with Client("127.0.0.1:50051", api_key=os.environ["SKINSCAN_API_KEY"]) as client:
    analysis = client.analyze("lesion.jpg")
    print(analysis.explanation, analysis.disclaimer)

Credentials: an API key (`api_key=`), an access token (`token=`), or a user's
sign-in (`client.login(username, password)`), after which the client renews
its access token with the refresh token before it expires.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from skinscan.account_convert import (
    api_key_from_proto,
    caller_from_proto,
    role_to_proto,
    tokens_from_proto,
    user_from_proto,
)
from skinscan.accounts import ApiKey, Caller, Role, Tokens, User
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
from skinscan.client_records import RecordCalls
from skinscan.errors import SkinscanError, UnavailableError
from skinscan.grpc_status import raise_domain_error, unimplemented
from skinscan.jobs import JOB_WAIT_S, Job
from skinscan.proto_convert import analysis_from_proto, job_from_proto
from skinscan.streaming import analyze_requests, image_upload, read_image
from skinscan.v1 import (
    account_service_pb2,
    account_service_pb2_grpc,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    record_service_pb2_grpc,
)

__all__ = ["Client"]


# Renew the access token this long before it expires, so no call races its expiry.
RENEW_BEFORE_S = 30.0


class Client(RecordCalls):
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
        """`tls` (or `root_certificates`, PEM of the CA to trust instead of the system's) for a
        gateway that serves TLS; credentials then never cross the network in the clear.

        `retries`: gRPC retries UNAVAILABLE with backoff, and an upload refused for
        capacity is sent again after its Retry-After (skinscan.channel).
        `wait_for_ready`: a call made while the gateway is down waits for it, up to
        `timeout_s`, instead of failing at once (for services that must ride out restarts).
        """
        options = channel_options(retries)
        credentials = channel_credentials(tls, root_certificates)
        self._channel = (
            grpc.insecure_channel(target, options=options)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=options)
        )
        self._wait_for_ready = wait_for_ready
        self._retries = retries
        self._batch_api = True  # until the gateway says it has no AnalyzeBatch
        self._one_message_api = True  # until the gateway says it has no AnalyzeImage
        self._stub = analysis_service_pb2_grpc.AnalysisServiceStub(self._channel)
        self._accounts = account_service_pb2_grpc.AccountServiceStub(self._channel)
        self._records = record_service_pb2_grpc.RecordServiceStub(self._channel)
        self._timeout = timeout_s
        self._credential = api_key or token
        self._tokens: Tokens | None = None
        self._renew_at = float("inf")

    # -- credentials -----------------------------------------------------------

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._tokens is not None and time.monotonic() >= self._renew_at:
            self.refresh()
        if not self._credential:
            return ()
        return (("authorization", f"Bearer {self._credential}"),)

    def _signed_in(self, tokens: Tokens) -> Tokens:
        self._tokens = tokens
        self._credential = tokens.access_token
        self._renew_at = time.monotonic() + max(0.0, tokens.expires_in_s - RENEW_BEFORE_S)
        return tokens

    def _call(self, stub: Any, method: str, request: object, authenticated: bool = True) -> Any:
        try:
            return getattr(stub, method)(
                request,
                timeout=self._timeout,
                metadata=self._metadata() if authenticated else (),
                wait_for_ready=self._wait_for_ready,
            )
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")

    def _account_call(self, method: str, request: object, authenticated: bool = True) -> Any:
        return self._call(self._accounts, method, request, authenticated)

    def _record_call(self, method: str, request: object) -> Any:
        return self._call(self._records, method, request)

    def login(self, username: str, password: str) -> Tokens:
        """Signs in; later calls carry the access token, renewed as it nears expiry."""
        response = self._account_call(
            "Login",
            account_service_pb2.LoginRequest(username=username, password=password),
            authenticated=False,
        )
        return self._signed_in(tokens_from_proto(response.tokens))

    def use_tokens(self, tokens: Tokens, expires_in_s: float | None = None) -> None:
        """Continues a sign-in saved earlier (the CLI keeps one between commands)."""
        self._signed_in(tokens)
        if expires_in_s is not None:
            self._renew_at = time.monotonic() + max(0.0, expires_in_s - RENEW_BEFORE_S)

    def refresh(self) -> Tokens:
        """Trades the refresh token for new tokens now."""
        if self._tokens is None:
            raise UnavailableError("not signed in with a user name: nothing to refresh")
        refresh_token = self._tokens.refresh_token
        self._tokens = None  # a failed refresh must not be retried with a spent token
        response = self._account_call(
            "Refresh",
            account_service_pb2.RefreshRequest(refresh_token=refresh_token),
            authenticated=False,
        )
        return self._signed_in(tokens_from_proto(response.tokens))

    @property
    def tokens(self) -> Tokens | None:
        """The current sign-in's tokens (they change on every renewal)."""
        return self._tokens

    def logout(self) -> None:
        if self._tokens is not None:
            self._account_call(
                "Logout",
                account_service_pb2.LogoutRequest(refresh_token=self._tokens.refresh_token),
                authenticated=False,
            )
        self._tokens, self._credential = None, None

    def whoami(self) -> Caller:
        return caller_from_proto(self._account_call("WhoAmI", account_service_pb2.WhoAmIRequest()))

    def change_password(self, current: str, new: str) -> Tokens:
        response = self._account_call(
            "ChangePassword",
            account_service_pb2.ChangePasswordRequest(current_password=current, new_password=new),
        )
        return self._signed_in(tokens_from_proto(response.tokens))

    # -- administration (admins) -----------------------------------------------

    def create_user(self, username: str, password: str, role: Role | str) -> User:
        response = self._account_call(
            "CreateUser",
            account_service_pb2.CreateUserRequest(
                username=username, password=password, role=role_to_proto(role)
            ),
        )
        return user_from_proto(response.user)

    def list_users(self) -> list[User]:
        response = self._account_call("ListUsers", account_service_pb2.ListUsersRequest())
        return [user_from_proto(u) for u in response.users]

    def disable_user(self, user_id: str) -> User:
        response = self._account_call(
            "DisableUser", account_service_pb2.DisableUserRequest(user_id=user_id)
        )
        return user_from_proto(response.user)

    def create_api_key(self, name: str, role: Role | str) -> tuple[ApiKey, str]:
        """The key's record and its secret, which cannot be read again."""
        response = self._account_call(
            "CreateApiKey",
            account_service_pb2.CreateApiKeyRequest(name=name, role=role_to_proto(role)),
        )
        return api_key_from_proto(response.api_key), response.secret

    def list_api_keys(self) -> list[ApiKey]:
        response = self._account_call("ListApiKeys", account_service_pb2.ListApiKeysRequest())
        return [api_key_from_proto(k) for k in response.api_keys]

    def revoke_api_key(self, key_id: str) -> ApiKey:
        response = self._account_call(
            "RevokeApiKey", account_service_pb2.RevokeApiKeyRequest(api_key_id=key_id)
        )
        return api_key_from_proto(response.api_key)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def analyze(self, image: str | Path | bytes, filename: str = "") -> Analysis:
        """Analyses one JPEG or PNG (a path or its bytes) and waits for the result.

        `filename` names the image in logs and reports (a path's own name by default).
        """
        data, name = read_image(image, filename)
        method, request = analyze_requests(data, name, self._one_message_api)
        try:
            response = self._upload(method, request)
        except UnavailableError as failed:
            if method == "Analyze" or not unimplemented(failed):
                raise
            self._one_message_api = False  # a gateway older than AnalyzeImage
            method, request = analyze_requests(data, name, one_message=False)
            response = self._upload(method, request)
        return analysis_from_proto(response.analysis)

    def _upload(self, method: str, messages: list[Any] | Any) -> Any:
        """Sends an upload (a list of messages is streamed, one message sent as it is); one
        refused for capacity is sent again after its Retry-After."""
        attempt = 0
        while True:
            try:
                request = iter(messages) if isinstance(messages, list) else messages
                return self._call(self._stub, method, request)
            except SkinscanError as refused:
                pause = retry_pause(refused, attempt, self._retries)
                if pause is None:
                    raise
                time.sleep(pause)
                attempt += 1

    def analyze_many(
        self, images: Iterable[str | Path | bytes], concurrency: int = 32
    ) -> Iterator[tuple[int, Analysis | SkinscanError | OSError]]:
        """Analyses many images; yields (index, result) as each completes.

        They go through AnalyzeBatch, so they travel together to shared inference batches
        and each costs the service less than an Analyze call of its own. A failed image
        yields its error in place of a result; the others go on. An image refused for
        capacity is sent again after its Retry-After, as `analyze` does. `concurrency`:
        images sent ahead of their results. A gateway older than AnalyzeBatch gets one
        Analyze call per image, `concurrency` at a time (at most 8).
        """
        book = BatchBook(images, self._retries)
        while True:
            pause = book.pause_s
            call = book.next_call()
            if not call:
                return
            time.sleep(pause)
            if not self._batch_api:
                yield from self._analyze_each(call + book.queue, min(concurrency, 8))
                return
            try:
                yield from self._batch_call(book, call, concurrency)
            except NoBatchApi:
                self._batch_api = False
                book.again = call + book.again

    def _batch_call(
        self, book: BatchBook, call: list[Pending], window_size: int
    ) -> Iterator[tuple[int, Result]]:
        window = threading.Semaphore(max(1, window_size))
        stopped = threading.Event()
        sent: list[Pending] = []
        unreadable: queue.SimpleQueue[tuple[Pending, OSError]] = queue.SimpleQueue()
        answered: set[int] = set()

        def requests() -> Iterator[Any]:  # run by gRPC on a thread of its own
            for item in call:
                while not window.acquire(timeout=0.1):
                    if stopped.is_set():
                        return
                try:
                    messages = image_requests(item)
                except OSError as error:
                    unreadable.put((item, error))
                    window.release()
                    continue
                sent.append(item)
                yield from messages

        def drain() -> Iterator[tuple[int, Result]]:
            while not unreadable.empty():
                item, error = unreadable.get()
                answered.add(item.index)
                yield item.index, error

        responses = self._stub.AnalyzeBatch(
            requests(),
            timeout=call_timeout_s(self._timeout, len(call)),
            metadata=self._metadata(),
            wait_for_ready=self._wait_for_ready,
        )
        try:
            for response in responses:
                if response.index >= len(sent):
                    raise UnavailableError("the gateway answered an image that was not sent")
                item = sent[response.index]
                answered.add(item.index)
                window.release()
                yield from drain()
                yield from book.settle(item, outcome_of(response))
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                raise NoBatchApi from error
            yield from drain()
            yield from book.unanswered(call, answered, domain_error(error))
        finally:
            stopped.set()
            responses.cancel()
        yield from drain()

    def _analyze_each(
        self, items: list[Pending], concurrency: int
    ) -> Iterator[tuple[int, Analysis | SkinscanError | OSError]]:
        """One Analyze call per image, `concurrency` at a time (for a gateway without batches)."""
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            pending = {pool.submit(self.analyze, item.image): item.index for item in items}
            for done in as_completed(pending):
                try:
                    yield pending[done], done.result()
                except (SkinscanError, OSError) as error:
                    yield pending[done], error

    def submit_job(self, image: str | Path | bytes, filename: str = "") -> Job:
        """Queues one image; returns the job at once."""
        messages = image_upload(analysis_service_pb2.SubmitJobRequest, image, filename)
        return job_from_proto(self._upload("SubmitJob", messages).job)

    def get_job(self, job_id: str, wait_s: float = 0.0) -> Job:
        """The job now, or with `wait_s`, once it has finished or after that long (at most
        20 s: the gateway waits, so no request is spent asking again meanwhile)."""
        try:
            response = self._stub.GetJob(
                analysis_service_pb2.GetJobRequest(job_id=job_id, wait_s=wait_s),
                timeout=self._timeout + wait_s,
                metadata=self._metadata(),
                wait_for_ready=self._wait_for_ready,
            )
        except grpc.RpcError as error:
            raise_domain_error(error, "gateway")
        return job_from_proto(response.job)

    def wait_for_job(self, job_id: str, timeout_s: float = 120.0, poll_s: float = 0.2) -> Job:
        """Waits until the job has succeeded or failed: the gateway holds each GetJob until
        the job finishes (up to 20 s), so the answer comes as soon as the result exists.
        `poll_s` paces the asking only with a gateway that answers at once."""
        deadline = time.monotonic() + timeout_s
        while True:
            asked = time.monotonic()
            wait_s = max(0.0, min(JOB_WAIT_S, deadline - asked))
            job = self.get_job(job_id, wait_s)
            if job.status.finished:
                return job
            if time.monotonic() > deadline:
                raise UnavailableError(f"job {job_id} still {job.status.value} after {timeout_s} s")
            if time.monotonic() - asked < wait_s / 2:
                time.sleep(poll_s)  # an older gateway did not wait
