"""Accounts on a real database (SQLite and PostgreSQL) and a real Redis.

Sign-in, refresh-token rotation with reuse detection, revocation on sign-out,
password change and disabling, API keys, roles, clinics, throttling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from redis import asyncio as aioredis

from gateway.accounts import AccountService, Principal, Role
from gateway.accounts.limits import Limits, LimitSettings, RedisCounters
from gateway.accounts.passwords import Passwords
from gateway.accounts.tokens import AccessTokens
from gateway.audit import AuditLog
from gateway.database import Database, upgrade
from gateway.database.schema import utc_now
from skinscan.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)

pytestmark = pytest.mark.integration

KEY = b"k" * 32
ADMIN_PASSWORD = "correct horse battery"
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


class Harness:
    def __init__(
        self, database_url: str, redis_url: str, limits: LimitSettings, auth_cache_s: float
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.limit_settings = limits
        self.auth_cache_s = auth_cache_s

    async def __aenter__(self) -> AccountService:
        self.database = Database(self.database_url)
        self.redis = aioredis.from_url(self.redis_url)
        await self.redis.flushdb()
        self.service = AccountService(
            self.database,
            AccessTokens(KEY, timedelta(minutes=15)),
            Passwords(),
            Limits(RedisCounters(self.redis), self.limit_settings),
            timedelta(days=1),
            auth_cache_s=self.auth_cache_s,
        )
        return self.service

    async def __aexit__(self, *exc: object) -> None:
        await self.redis.aclose()
        await self.database.close()


@pytest.fixture
def accounts(database_url: str, redis_url: str) -> Iterator[Callable[..., Harness]]:
    upgrade(database_url)

    def make(auth_cache_s: float = 5.0, **limits: Any) -> Harness:
        return Harness(database_url, redis_url, LimitSettings(**limits), auth_cache_s)

    yield make


async def _admin(service: AccountService) -> Principal:
    created = await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
    assert created is not None and created.password is None
    pair = await service.login("admin", ADMIN_PASSWORD)
    return await service.authenticate(pair.access_token)


def test_first_start_creates_one_admin_and_prints_a_generated_password(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            first = await service.ensure_admin("Clinic A", "admin", None)
            assert first is not None and first.password and len(first.password) >= 16
            assert await service.ensure_admin("Clinic A", "admin", None) is None
            pair = await service.login("ADMIN", first.password)  # names ignore case
            principal = await service.authenticate(pair.access_token)
            assert principal.role is Role.ADMIN and principal.name == "admin"

    run(scenario())


def test_wrong_password_unknown_user_and_disabled_user_read_the_same(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            user = await service.create_user(admin, "gp.one", "a long enough password", "clinician")
            await service.disable_user(admin, user.id)
            messages = set()
            for name, password in [
                ("admin", "wrong password here"),
                ("nobody", ADMIN_PASSWORD),
                ("gp.one", "a long enough password"),
            ]:
                with pytest.raises(UnauthenticatedError) as refused:
                    await service.login(name, password)
                messages.add(str(refused.value))
            assert len(messages) == 1

    run(scenario())


def test_sign_in_is_throttled_per_account_even_with_the_right_password(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts(login_failures_per_account=3) as service:
            await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
            for _ in range(3):
                with pytest.raises(UnauthenticatedError):
                    await service.login("admin", "not the password!", "10.0.0.1")
            with pytest.raises(RateLimitedError) as limited:
                await service.login("admin", ADMIN_PASSWORD, "10.0.0.2")
            assert 0 < limited.value.retry_after_s <= 15 * 60

    run(scenario())


def test_sign_in_is_throttled_per_address_across_accounts(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts(login_failures_per_address=4) as service:
            await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
            for name in ("a1x", "b2x", "c3x", "d4x"):
                with pytest.raises(UnauthenticatedError):
                    await service.login(name, "password spraying", "10.0.0.9")
            with pytest.raises(RateLimitedError):
                await service.login("admin", ADMIN_PASSWORD, "10.0.0.9")
            await service.login("admin", ADMIN_PASSWORD, "10.0.0.10")

    run(scenario())


def test_refresh_rotates_and_a_reused_token_ends_the_whole_sign_in(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
            first = await service.login("admin", ADMIN_PASSWORD)
            second = await service.refresh(first.refresh_token)
            assert second.refresh_token != first.refresh_token
            await service.authenticate(second.access_token)
            # The first token again: a copy is in someone else's hands.
            with pytest.raises(UnauthenticatedError):
                await service.refresh(first.refresh_token)
            # ... so the rightful holder's newer token is revoked too.
            with pytest.raises(UnauthenticatedError):
                await service.refresh(second.refresh_token)
            # Another sign-in is untouched.
            other = await service.login("admin", ADMIN_PASSWORD)
            await service.refresh(other.refresh_token)

    run(scenario())


def test_concurrent_refreshes_with_one_token_cannot_both_succeed(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
            pair = await service.login("admin", ADMIN_PASSWORD)
            results = await asyncio.gather(
                *(service.refresh(pair.refresh_token) for _ in range(4)), return_exceptions=True
            )
            assert sum(not isinstance(r, BaseException) for r in results) <= 1
            assert all(
                isinstance(r, UnauthenticatedError) for r in results if isinstance(r, BaseException)
            )

    run(scenario())


def test_logout_revokes_the_refresh_token(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            await service.ensure_admin("Clinic A", "admin", ADMIN_PASSWORD)
            pair = await service.login("admin", ADMIN_PASSWORD)
            await service.logout(pair.refresh_token)
            with pytest.raises(UnauthenticatedError):
                await service.refresh(pair.refresh_token)
            await service.logout("not a token")  # ignored, says nothing

    run(scenario())


def test_a_password_change_ends_every_other_sign_in(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            await service.create_user(admin, "gp.two", "first password 123", "clinician")
            old = await service.login("gp.two", "first password 123")
            me = await service.authenticate(old.access_token)
            with pytest.raises(PermissionDeniedError):
                await service.change_password(me, "wrong current one", "second password 456")
            with pytest.raises(InvalidRequestError):
                await service.change_password(me, "first password 123", "short")
            new = await service.change_password(me, "first password 123", "second password 456")
            with pytest.raises(UnauthenticatedError):
                await service.authenticate(old.access_token)
            with pytest.raises(UnauthenticatedError):
                await service.refresh(old.refresh_token)
            await service.authenticate(new.access_token)
            with pytest.raises(UnauthenticatedError):
                await service.login("gp.two", "first password 123")
            await service.login("gp.two", "second password 456")

    run(scenario())


def test_disabling_a_user_refuses_their_live_token_at_once(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            user = await service.create_user(
                admin, "gp.three", "a long enough password", "clinician"
            )
            pair = await service.login("gp.three", "a long enough password")
            await service.authenticate(pair.access_token)
            await service.disable_user(admin, user.id)
            with pytest.raises(UnauthenticatedError):
                await service.authenticate(pair.access_token)
            with pytest.raises(InvalidRequestError):
                await service.disable_user(admin, admin.id)

    run(scenario())


def test_expired_and_forged_tokens_are_refused(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            expired = service.tokens.issue(
                admin.id, admin.clinic_id, "admin", utc_now() - timedelta(hours=1)
            )
            forged = AccessTokens(b"f" * 32, timedelta(minutes=15)).issue(
                admin.id, admin.clinic_id, "admin", utc_now()
            )
            for token in (expired, forged, "", "garbage", expired + "x"):
                with pytest.raises(UnauthenticatedError):
                    await service.authenticate(token)

    run(scenario())


def test_api_keys_are_shown_once_scoped_and_revocable(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            info, secret = await service.create_api_key(admin, "telederm app", "clinician")
            assert secret.startswith("sks_") and info.id in secret
            key = await service.authenticate(secret)
            assert (key.kind, key.role, key.clinic_id) == (
                "api_key",
                Role.CLINICIAN,
                admin.clinic_id,
            )
            listed = await service.list_api_keys(admin)
            assert [k.id for k in listed] == [info.id] and listed[0].last_used_at is not None
            assert secret not in repr(listed)
            # A key is not an admin, whatever it asks.
            with pytest.raises(PermissionDeniedError):
                await service.create_api_key(key, "escalate", "admin")
            tampered = secret[:-2] + ("AA" if not secret.endswith("AA") else "BB")
            with pytest.raises(UnauthenticatedError):
                await service.authenticate(tampered)
            await service.revoke_api_key(admin, info.id)
            with pytest.raises(UnauthenticatedError):
                await service.authenticate(secret)
            with pytest.raises(NotFoundError):
                await service.revoke_api_key(admin, "0" * 32)

    run(scenario())


def test_a_revocation_through_another_gateway_applies_within_the_cache_time(
    accounts: Callable[..., Harness],
) -> None:
    """Two gateway replicas on one database: the one that revokes forgets at once, the
    other trusts its check of the key for at most auth_cache_s, then asks the database."""

    async def scenario() -> None:
        async with accounts(auth_cache_s=0.5) as here, accounts(auth_cache_s=0.5) as there:
            admin = await _admin(here)
            info, secret = await here.create_api_key(admin, "telederm app", "clinician")
            user = await here.create_user(admin, "gp.four", "a long enough password", "clinician")
            pair = await here.login("gp.four", "a long enough password")
            for credential in (secret, pair.access_token):
                await here.authenticate(credential)
                await there.authenticate(credential)
            await here.revoke_api_key(admin, info.id)
            await here.disable_user(admin, user.id)
            for credential in (secret, pair.access_token):
                with pytest.raises(UnauthenticatedError):
                    await here.authenticate(credential)
                # Still trusted by the other replica, from its check a moment ago ...
                assert (await there.authenticate(credential)).clinic_id == admin.clinic_id
            await asyncio.sleep(0.6)
            for credential in (secret, pair.access_token):
                # ... and refused there too once that check is older than the cache time.
                with pytest.raises(UnauthenticatedError):
                    await there.authenticate(credential)

    run(scenario())


def test_without_the_cache_every_request_reads_the_database(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts(auth_cache_s=0) as here, accounts(auth_cache_s=0) as there:
            admin = await _admin(here)
            info, secret = await here.create_api_key(admin, "telederm app", "clinician")
            await there.authenticate(secret)
            await here.revoke_api_key(admin, info.id)
            with pytest.raises(UnauthenticatedError):
                await there.authenticate(secret)

    run(scenario())


def test_roles_and_clinics_bound_what_each_may_do(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin_a = await _admin(service)
            other = await service.create_clinic("Clinic B", "admin.b", "clinic b password")
            assert other.password is None
            pair_b = await service.login("admin.b", "clinic b password")
            admin_b = await service.authenticate(pair_b.access_token)
            assert admin_b.clinic_id != admin_a.clinic_id

            gp = await service.create_user(
                admin_a, "gp.four", "a long enough password", "clinician"
            )
            with pytest.raises(ConflictError):
                await service.create_user(admin_b, "GP.four", "a long enough password", "clinician")
            # Clinic B's admin sees none of clinic A's users and may not touch them.
            assert [u.username for u in await service.list_users(admin_b)] == ["admin.b"]
            with pytest.raises(PermissionDeniedError):
                await service.disable_user(admin_b, gp.id)
            key, _ = await service.create_api_key(admin_a, "a's key", "clinician")
            with pytest.raises(PermissionDeniedError):
                await service.revoke_api_key(admin_b, key.id)

            clinician = await service.authenticate(
                (await service.login("gp.four", "a long enough password")).access_token
            )
            for attempt in (
                service.create_user(clinician, "sneaky", "a long enough password", "admin"),
                service.list_users(clinician),
                service.create_api_key(clinician, "mine", "clinician"),
                AuditLog(service.database).entries(clinician),
            ):
                with pytest.raises(PermissionDeniedError):
                    await attempt
            with pytest.raises(InvalidRequestError):
                await service.create_user(admin_a, "x", "a long enough password", "clinician")
            with pytest.raises(InvalidRequestError):
                await service.create_user(admin_a, "okname", "a long enough password", "root")

    run(scenario())


def test_requests_beyond_the_burst_are_limited_per_caller(accounts: Callable[..., Harness]) -> None:
    async def scenario() -> None:
        async with accounts(requests_per_minute=60, burst=3) as service:
            admin = await _admin(service)  # authenticating once spends one token
            _, secret = await service.create_api_key(admin, "busy app", "clinician")
            for _ in range(3):
                await service.authenticate(secret)
            with pytest.raises(RateLimitedError) as limited:
                await service.authenticate(secret)
            assert 0 < limited.value.retry_after_s <= 1.5
            # Another caller has its own bucket.
            pair = await service.login("admin", ADMIN_PASSWORD)
            await service.authenticate(pair.access_token)

    run(scenario())


def test_the_audit_log_records_who_did_what_and_names_no_one(
    accounts: Callable[..., Harness],
) -> None:
    async def scenario() -> None:
        async with accounts() as service:
            admin = await _admin(service)
            user = await service.create_user(
                admin, "gp.five", "a long enough password", "clinician"
            )
            with pytest.raises(UnauthenticatedError):
                await service.login("gp.five", "wrong password!!")
            entries = await AuditLog(service.database).entries(admin)
            actions = [(e.actor.split(":")[0], e.action, e.outcome) for e in entries]
            assert ("user", "login", "denied") in actions
            assert ("user", "user.create", "ok") in actions
            assert ("system", "clinic.create", "ok") in actions
            assert all("gp.five" not in repr(e) for e in entries)
            assert any(e.target_id == user.id for e in entries)

    run(scenario())
