"""The gateway's REST app in process, over a real SQLite records database, with credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI

from gateway.accounts import AccountService, Principal
from gateway.accounts.limits import Limits, LimitSettings, MemoryCounters
from gateway.accounts.passwords import Passwords
from gateway.accounts.tokens import AccessTokens
from gateway.analysis_service import AnalysisService
from gateway.audit import AuditLog
from gateway.batch_analysis import BatchAnalysis
from gateway.database import Database, upgrade
from gateway.preprocessor_client import PreprocessorClient
from gateway.records import Records
from gateway.records.crypto import FieldCipher
from gateway.rest import create_app

ADMIN_PASSWORD = "the admin's long password"


@dataclass
class GatewayApp:
    app: FastAPI
    client: httpx.AsyncClient
    accounts: AccountService
    records: Records
    admin: Principal
    # `Authorization` headers of an admin's access token and a clinician's API key.
    admin_headers: dict[str, str]
    key_headers: dict[str, str]
    analyses: AnalysisService


@asynccontextmanager
async def gateway_app(
    folder: Path, preprocessor_target: str, max_bytes: int, limits: LimitSettings | None = None
) -> AsyncIterator[GatewayApp]:
    url = f"sqlite:///{folder / 'records.db'}"
    upgrade(url)
    database = Database(url)
    preprocessor = PreprocessorClient(preprocessor_target, timeout_s=5)
    accounts = AccountService(
        database,
        AccessTokens(b"s" * 32, timedelta(minutes=15)),
        Passwords(),
        Limits(MemoryCounters(), limits or LimitSettings()),
        timedelta(days=1),
    )
    await accounts.ensure_admin("Test clinic", "admin", ADMIN_PASSWORD)
    tokens = await accounts.login("admin", ADMIN_PASSWORD)
    admin = await accounts.authenticate(tokens.access_token)
    _, key = await accounts.create_api_key(admin, "tests", "clinician")
    analyses = AnalysisService(preprocessor, None)
    cipher = FieldCipher([Fernet.generate_key()], b"k" * 32)
    records = Records.build(database, cipher, analyses, folder / "images")
    batches = BatchAnalysis(preprocessor, analyses.admission, accounts.limits.charge)
    app = create_app(
        analyses, batches, accounts, AuditLog(database), records, max_bytes, lambda: True
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client:
            yield GatewayApp(
                app,
                client,
                accounts,
                records,
                admin,
                {"Authorization": f"Bearer {tokens.access_token}"},
                {"Authorization": f"Bearer {key}"},
                analyses,
            )
    finally:
        await preprocessor.close()
        await database.close()
