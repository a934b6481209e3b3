"""Builds the account service from settings: one place, for the gateway and its tests."""

from __future__ import annotations

from datetime import timedelta

from redis import asyncio as aioredis

from gateway.accounts.limits import (
    Limits,
    LimitSettings,
    MemoryCounters,
    RedisCounters,
    ResilientCounters,
)
from gateway.accounts.passwords import Passwords
from gateway.accounts.service import AccountService
from gateway.accounts.signing_key import signing_key
from gateway.accounts.tokens import AccessTokens
from gateway.config import GatewaySettings
from gateway.database import Database

__all__ = ["account_service"]


def account_service(
    settings: GatewaySettings, database: Database, redis: aioredis.Redis | None
) -> AccountService:
    s = settings
    limits = Limits(
        ResilientCounters(RedisCounters(redis)) if redis is not None else MemoryCounters(),
        LimitSettings(
            requests_per_minute=s.rate_limit_per_minute,
            burst=s.rate_limit_burst,
            login_failures_per_account=s.login_failures_per_account,
            login_failures_per_address=s.login_failures_per_address,
            login_window_s=s.login_window_s,
        ),
    )
    return AccountService(
        database,
        AccessTokens(
            signing_key(s.jwt_secret, s.state_dir), timedelta(seconds=s.access_token_ttl_s)
        ),
        Passwords(),
        limits,
        timedelta(seconds=s.refresh_token_ttl_s),
        auth_cache_s=s.auth_cache_s,
    )
