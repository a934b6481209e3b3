"""Accounts: sign-in, token refresh and revocation, users and API keys of a clinic.

Domain code: it raises skinscan.errors and never touches gRPC or HTTP; the
REST routes and gRPC servicers are thin faces over it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.limits import Limits
from gateway.accounts.passwords import Passwords, check_password_rules, generate_password
from gateway.accounts.roles import Action, Principal, Role, clinic_row
from gateway.accounts.tokens import (
    AccessTokens,
    api_key_secret,
    digest,
    digests_match,
    new_secret,
    parse_api_key,
)
from gateway.accounts.verified import VerifiedCredentials
from gateway.database import Database
from gateway.database.audit_events import record
from gateway.database.schema import ApiKey, Clinic, RefreshToken, User, new_id, utc_now
from skinscan.accounts import ApiKey as ApiKeyInfo
from skinscan.accounts import Tokens
from skinscan.accounts import User as UserInfo
from skinscan.errors import (
    ConflictError,
    InvalidRequestError,
    PermissionDeniedError,
    UnauthenticatedError,
)

__all__ = ["AccountService", "NewAdmin"]

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
# A key's last use is written at most this often: not one write per request.
LAST_USED_EVERY = timedelta(minutes=1)
# How long a checked credential is trusted without asking the database again.
DEFAULT_AUTH_CACHE_S = 5.0


def _user_record(user: User) -> UserInfo:
    return UserInfo(
        user.id, user.username, Role(user.role), user.clinic_id, user.disabled, user.created_at
    )


def _key_record(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        key.id,
        key.name,
        Role(key.role),
        key.clinic_id,
        key.created_at,
        key.last_used_at,
        key.revoked_at,
    )


@dataclass(frozen=True)
class NewAdmin:
    username: str
    password: str | None  # generated, to be shown once; None when it was given


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidRequestError(
            f"unknown role {value!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None


def _username(value: str) -> str:
    name = value.strip().lower()
    if not USERNAME.match(name):
        raise InvalidRequestError(
            "a user name has 3 to 64 characters: letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


class AccountService:
    def __init__(
        self,
        database: Database,
        tokens: AccessTokens,
        passwords: Passwords,
        limits: Limits,
        refresh_ttl: timedelta,
        auth_cache_s: float = DEFAULT_AUTH_CACHE_S,
    ) -> None:
        self.database = database
        self.tokens = tokens
        self.passwords = passwords
        self.limits = limits
        self.refresh_ttl = refresh_ttl
        self.verified = VerifiedCredentials(auth_cache_s)

    # -- first run and clinics -------------------------------------------------

    async def create_clinic(
        self, name: str, admin_username: str, admin_password: str | None
    ) -> NewAdmin:
        """An operator's step: a new tenant and its first admin (password generated if not given)."""
        username = _username(admin_username)
        generated = None
        if admin_password is None:
            admin_password = generated = generate_password()
        check_password_rules(admin_password)
        async with self.database.transaction() as session:
            if await session.scalar(select(Clinic.id).where(Clinic.name == name)):
                raise ConflictError(f"a clinic named {name!r} exists already")
            await self._check_username_free(session, username)
            clinic = Clinic(id=new_id(), name=name)
            session.add(clinic)
            await session.flush()
            user = User(
                id=new_id(),
                clinic_id=clinic.id,
                username=username,
                password_hash=self.passwords.hash(admin_password),
                role=Role.ADMIN.value,
            )
            session.add(user)
            record(session, "system", "clinic.create", clinic.id, "clinic", clinic.id)
            record(session, "system", "user.create", clinic.id, "user", user.id, role="admin")
        return NewAdmin(username, generated)

    async def ensure_admin(
        self, clinic_name: str, username: str, password: str | None
    ) -> NewAdmin | None:
        """On first start (no user at all): the first clinic and its admin. Else None."""
        async with self.database.transaction() as session:
            if await session.scalar(select(func.count()).select_from(User)):
                return None
        return await self.create_clinic(clinic_name, username, password)

    # -- signing in ------------------------------------------------------------

    async def login(self, username: str, password: str, address: str = "") -> Tokens:
        await self.limits.check_login(username, address)
        name = username.strip().lower()
        async with self.database.transaction() as session:
            user = await session.scalar(select(User).where(User.username == name))
            # The password is checked even for an unknown or disabled account,
            # so neither answers faster than a wrong password.
            good = self.passwords.verify(user.password_hash if user else None, password)
            if user is None or not good or user.disabled:
                record(
                    session,
                    f"user:{user.id}" if user else "anonymous",
                    "login",
                    user.clinic_id if user else None,
                    "user",
                    user.id if user else None,
                    outcome="denied",
                )
                failed = True
            else:
                failed = False
                if self.passwords.needs_rehash(user.password_hash):
                    user.password_hash = self.passwords.hash(password)
                record(session, f"user:{user.id}", "login", user.clinic_id, "user", user.id)
                pair = await self._issue(session, user, new_id())
        if failed:
            await self.limits.login_failed(username, address)
            raise UnauthenticatedError("the user name or password is not right")
        await self.limits.login_succeeded(username)
        return pair

    async def _issue(self, session: AsyncSession, user: User, family: str) -> Tokens:
        now = utc_now()
        refresh = new_secret()
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family,
                token_hash=digest(refresh),
                created_at=now,
                expires_at=now + self.refresh_ttl,
            )
        )
        return Tokens(
            access_token=self.tokens.issue(user.id, user.clinic_id, user.role, now),
            refresh_token=refresh,
            expires_in_s=int(self.tokens.ttl.total_seconds()),
        )

    async def refresh(self, refresh_token: str) -> Tokens:
        """Uses a refresh token once and issues the next of its family.

        A token already used means it was copied: the whole family is revoked,
        signing out both the thief and the user, who signs in again.
        """
        now = utc_now()
        async with self.database.transaction() as session:
            token = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token))
            )
            if token is None or token.revoked_at is not None or token.expires_at <= now:
                raise UnauthenticatedError()
            # Marks it used only if nobody else just did: two concurrent
            # refreshes with one token cannot both succeed.
            claimed = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
                .values(used_at=now)
            )
            user = await session.get(User, token.user_id)
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                if user is None or user.disabled:
                    raise UnauthenticatedError()
                return await self._issue(session, user, token.family_id)
            # Reused: the revocation and its audit event commit before refusing.
            await self._revoke_family(session, token.family_id, now)
            record(
                session,
                f"user:{token.user_id}",
                "token.reuse",
                user.clinic_id if user else None,
                "user",
                token.user_id,
                outcome="denied",
            )
        raise UnauthenticatedError("this sign-in was ended for safety: sign in again")

    async def _revoke_family(self, session: AsyncSession, family: str, now: datetime) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def _revoke_all(self, session: AsyncSession, user: User, now: datetime) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        user.tokens_valid_after = now

    async def logout(self, refresh_token: str) -> None:
        """Ends one sign-in: its refresh tokens stop working. Unknown tokens are ignored."""
        async with self.database.transaction() as session:
            token = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token))
            )
            if token is None:
                return
            user = await session.get(User, token.user_id)
            await self._revoke_family(session, token.family_id, utc_now())
            record(
                session,
                f"user:{token.user_id}",
                "logout",
                user.clinic_id if user else None,
                "user",
                token.user_id,
            )

    # -- every request ---------------------------------------------------------

    async def authenticate(self, credential: str | None) -> Principal:
        """The caller a bearer credential (access token or API key) stands for, rate-limited.

        Every failure is the same UnauthenticatedError: nothing tells a guesser
        whether a key exists, expired or was revoked.
        """
        if not credential:
            raise UnauthenticatedError()
        principal = self.verified.get(credential)
        if principal is None:
            # Shielded: a caller that goes away mid-read must not cancel a database
            # transaction halfway (the pool then logs a failed rollback for each one).
            key = parse_api_key(credential)
            if key:
                principal = await asyncio.shield(self._api_key(*key))
                self.verified.put(credential, principal)
            else:
                user, expires_at = await asyncio.shield(self._user(credential))
                self.verified.put(credential, user, expires_at - time.time())
                principal = user
        await self.limits.charge(principal.actor)
        return principal

    async def _user(self, token: str) -> tuple[Principal, float]:
        """The user an access token stands for, and when the token expires (epoch seconds)."""
        claims = self.tokens.verify(token)
        async with self.database.transaction() as session:
            user = await session.get(User, claims.user_id)
        if (
            user is None
            or user.disabled
            or user.clinic_id != claims.clinic_id
            or claims.issued_at < user.tokens_valid_after.timestamp()
        ):
            raise UnauthenticatedError()
        principal = Principal("user", user.id, user.clinic_id, Role(user.role), user.username)
        return principal, claims.expires_at

    async def _api_key(self, key_id: str, secret: str) -> Principal:
        now = utc_now()
        async with self.database.transaction() as session:
            key = await session.get(ApiKey, key_id)
            if key is None or key.revoked_at is not None or not digests_match(key.key_hash, secret):
                raise UnauthenticatedError()
            if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
                key.last_used_at = now
        return Principal("api_key", key.id, key.clinic_id, Role(key.role), key.name)

    # -- users -----------------------------------------------------------------

    async def _check_username_free(self, session: AsyncSession, username: str) -> None:
        if await session.scalar(select(User.id).where(User.username == username)):
            raise ConflictError(f"the user name {username!r} is taken")

    async def create_user(self, by: Principal, username: str, password: str, role: str) -> UserInfo:
        by.require(Action.MANAGE_USERS)
        name, chosen = _username(username), _role(role)
        check_password_rules(password)
        async with self.database.transaction() as session:
            await self._check_username_free(session, name)
            user = User(
                id=new_id(),
                clinic_id=by.clinic_id,
                username=name,
                password_hash=self.passwords.hash(password),
                role=chosen.value,
            )
            session.add(user)
            await session.flush()
            record(
                session, by.actor, "user.create", by.clinic_id, "user", user.id, role=chosen.value
            )
            return _user_record(user)

    async def list_users(self, by: Principal) -> list[UserInfo]:
        by.require(Action.MANAGE_USERS)
        async with self.database.transaction() as session:
            users = await session.scalars(
                select(User).where(User.clinic_id == by.clinic_id).order_by(User.username)
            )
            return [_user_record(u) for u in users]

    async def disable_user(self, by: Principal, user_id: str) -> UserInfo:
        by.require(Action.MANAGE_USERS)
        if by.kind == "user" and by.id == user_id:
            raise InvalidRequestError("you cannot disable your own account")
        async with self.database.transaction() as session:
            user = await clinic_row(session, User, user_id, by, "user")
            if not user.disabled:
                user.disabled = True
                await self._revoke_all(session, user, utc_now())
                record(session, by.actor, "user.disable", by.clinic_id, "user", user.id)
            info = _user_record(user)
        self.verified.forget("user", user_id)
        return info

    async def change_password(self, by: Principal, current: str, new: str) -> Tokens:
        """Every other sign-in of the user ends; the caller gets fresh tokens."""
        if by.kind != "user":
            raise PermissionDeniedError("an API key has no password")
        check_password_rules(new)
        async with self.database.transaction() as session:
            user = await session.get(User, by.id)
            if user is None or not self.passwords.verify(user.password_hash, current):
                raise PermissionDeniedError("the current password is not right")
            now = utc_now()
            user.password_hash = self.passwords.hash(new)
            await self._revoke_all(session, user, now)
            record(session, by.actor, "password.change", by.clinic_id, "user", user.id)
            # Issued a moment after the cut-off, so the new token is not refused by it.
            pair = await self._issue(session, user, new_id())
        self.verified.forget("user", by.id)
        return pair

    # -- API keys --------------------------------------------------------------

    async def create_api_key(self, by: Principal, name: str, role: str) -> tuple[ApiKeyInfo, str]:
        """The key's record and its secret, which is shown this once and never stored."""
        by.require(Action.MANAGE_API_KEYS)
        label = name.strip()
        if not 1 <= len(label) <= 100:
            raise InvalidRequestError(
                "name the API key (1 to 100 characters), e.g. the app using it"
            )
        chosen = _role(role)
        secret = new_secret()
        async with self.database.transaction() as session:
            key = ApiKey(
                id=new_id(),
                clinic_id=by.clinic_id,
                name=label,
                role=chosen.value,
                key_hash=digest(secret),
                created_by=by.id if by.kind == "user" else None,
            )
            session.add(key)
            await session.flush()
            record(
                session,
                by.actor,
                "api_key.create",
                by.clinic_id,
                "api_key",
                key.id,
                role=chosen.value,
            )
            return _key_record(key), api_key_secret(key.id, secret)

    async def list_api_keys(self, by: Principal) -> list[ApiKeyInfo]:
        by.require(Action.MANAGE_API_KEYS)
        async with self.database.transaction() as session:
            keys = await session.scalars(
                select(ApiKey).where(ApiKey.clinic_id == by.clinic_id).order_by(ApiKey.created_at)
            )
            return [_key_record(k) for k in keys]

    async def revoke_api_key(self, by: Principal, key_id: str) -> ApiKeyInfo:
        by.require(Action.MANAGE_API_KEYS)
        async with self.database.transaction() as session:
            key = await clinic_row(session, ApiKey, key_id, by, "API key")
            if key.revoked_at is None:
                key.revoked_at = utc_now()
                record(session, by.actor, "api_key.revoke", by.clinic_id, "api_key", key.id)
            info = _key_record(key)
        self.verified.forget("api_key", key_id)
        return info
