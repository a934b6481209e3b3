"""Request rate limits (token buckets) and sign-in throttling, kept in Redis.

Redis holds the counters so every gateway replica enforces the same limits;
keys hold identifiers or hashes only, never a user name or address in clear.
Without Redis (a gateway started with no SKINSCAN_REDIS_URL) the same rules
are kept in this process's memory, which is right for one replica only.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from skinscan.errors import RateLimitedError

__all__ = [
    "LimitSettings",
    "Limits",
    "MemoryCounters",
    "RedisCounters",
    "ResilientCounters",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Refills a bucket by elapsed time, takes one token if there is one, and says
# how long until the next. Runs atomically in Redis, on Redis's own clock, so
# replicas with drifting clocks still agree.
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""


class Counters(Protocol):
    async def take(self, key: str, capacity: int, per_second: float) -> float:
        """Takes a token; 0 when allowed, else the seconds until one is free."""
        ...

    async def failures(self, key: str) -> tuple[int, float]:
        """Failures counted in the key's window, and the seconds the window has left."""
        ...

    async def add_failure(self, key: str, window_s: int) -> None: ...

    async def clear(self, key: str) -> None: ...


class RedisCounters:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._bucket = redis.register_script(_TOKEN_BUCKET)

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        allowed, wait = await self._bucket(keys=[key], args=[capacity, per_second])
        return 0.0 if int(allowed) else float(wait)

    async def failures(self, key: str) -> tuple[int, float]:
        pipe = self._redis.pipeline()
        pipe.get(key)
        pipe.pttl(key)
        count, ttl = await pipe.execute()
        return int(count or 0), max(0.0, int(ttl) / 1000)

    async def add_failure(self, key: str, window_s: int) -> None:
        # The window starts at the first failure and is not extended by later ones.
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s, nx=True)
        await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(key)


class MemoryCounters:
    """The same rules in one process, for a gateway without Redis."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, tuple[int, float]] = {}

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(capacity), now))
        tokens = min(capacity, tokens + (now - at) * per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / per_second

    async def failures(self, key: str) -> tuple[int, float]:
        count, until = self._failures.get(key, (0, 0.0))
        left = until - time.monotonic()
        if left <= 0:
            self._failures.pop(key, None)
            return 0, 0.0
        return count, left

    async def add_failure(self, key: str, window_s: int) -> None:
        count, left = await self.failures(key)
        until = time.monotonic() + (left if count else window_s)
        self._failures[key] = (count + 1, until)

    async def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class ResilientCounters:
    """Redis's counters, and this process's while Redis cannot answer.

    A Redis outage must not turn every request into an error: the limits then hold
    per gateway process (looser across replicas, never off) until Redis is back.
    """

    def __init__(self, redis: RedisCounters) -> None:
        self._redis = redis
        self._memory = MemoryCounters()
        self._down = False

    async def _either(self, call: Callable[[Counters], Awaitable[T]]) -> T:
        try:
            result = await call(self._redis)
        except (RedisError, OSError) as error:
            if not self._down:
                log.warning("Redis is unreachable (%s): rate limits held in this process", error)
                self._down = True
            return await call(self._memory)
        if self._down:
            log.info("Redis is back: rate limits shared again")
            self._down = False
        return result

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        return await self._either(lambda c: c.take(key, capacity, per_second))

    async def failures(self, key: str) -> tuple[int, float]:
        return await self._either(lambda c: c.failures(key))

    async def add_failure(self, key: str, window_s: int) -> None:
        await self._either(lambda c: c.add_failure(key, window_s))

    async def clear(self, key: str) -> None:
        await self._either(lambda c: c.clear(key))


@dataclass(frozen=True)
class LimitSettings:
    requests_per_minute: int = 600
    burst: int = 60
    login_failures_per_account: int = 5
    login_failures_per_address: int = 50
    login_window_s: int = 15 * 60


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class Limits:
    def __init__(self, counters: Counters, settings: LimitSettings) -> None:
        self._counters = counters
        self.settings = settings

    async def charge(self, actor: str) -> None:
        """One request by `actor` ("user:<id>", "api_key:<id>"); RateLimitedError when over."""
        s = self.settings
        wait = await self._counters.take(
            f"skinscan:ratelimit:{actor}", s.burst, s.requests_per_minute / 60
        )
        if wait > 0:
            raise RateLimitedError(
                f"too many requests: at most {s.requests_per_minute} a minute; "
                f"retry in {math.ceil(wait)} s",
                wait,
            )

    def _login_keys(self, username: str, address: str) -> list[tuple[str, int]]:
        s = self.settings
        keys = [
            (
                f"skinscan:login-failures:account:{_hashed(username.lower())}",
                s.login_failures_per_account,
            )
        ]
        if address:
            keys.append(
                (
                    f"skinscan:login-failures:address:{_hashed(address)}",
                    s.login_failures_per_address,
                )
            )
        return keys

    async def check_login(self, username: str, address: str) -> None:
        """Refuses a sign-in attempt while the account or address has failed too often."""
        for key, limit in self._login_keys(username, address):
            count, left = await self._counters.failures(key)
            if count >= limit:
                raise RateLimitedError(
                    f"too many failed sign-ins: try again in {math.ceil(left / 60)} minutes",
                    left,
                )

    async def login_failed(self, username: str, address: str) -> None:
        for key, _ in self._login_keys(username, address):
            await self._counters.add_failure(key, self.settings.login_window_s)

    async def login_succeeded(self, username: str) -> None:
        # The address's count stays: one good password must not reset a spray.
        key, _ = self._login_keys(username, "")[0]
        await self._counters.clear(key)
