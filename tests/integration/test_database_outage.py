"""The records database drops out (a PostgreSQL restart, as the gateway sees it) and returns.

A TCP proxy between the gateway's code and CI's PostgreSQL is cut and restored:
meanwhile calls that need the database fail clearly (UnavailableError: UNAVAILABLE /
503 with Retry-After), nothing half-written remains, and afterwards the same
engine works again without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from gateway.accounts import Principal, Role
from gateway.database import Database, upgrade
from gateway.database.schema import Clinic, Patient
from gateway.records.crypto import FieldCipher
from gateway.records.images import ImageStore
from gateway.records.patients import PatientRecords
from skinscan.errors import UnavailableError
from tests.conftest import _fresh_postgres_database

pytestmark = pytest.mark.integration


class _Proxy:
    """Forwards TCP to PostgreSQL until cut: then every connection drops and new ones
    are refused, as while the server restarts."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                target.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_database()


def test_a_database_outage_fails_calls_clearly_and_they_work_again_after(
    postgres_url: str, tmp_path: Path
) -> None:
    assert postgres_url.rsplit("/", 1)[0].endswith(":5432")
    upgrade(postgres_url)

    async def scenario() -> None:
        proxy = _Proxy(5432)
        await proxy.start()
        via_proxy = postgres_url.replace(":5432/", f":{proxy.port}/")
        database = Database(via_proxy)
        cipher = FieldCipher([Fernet.generate_key()], b"s" * 32)
        patients = PatientRecords(database, cipher, ImageStore(tmp_path / "images", cipher))
        try:
            async with database.transaction() as session:
                clinic = Clinic(name="Outage clinic")
                session.add(clinic)
            admin = Principal("user", "0" * 32, clinic.id, Role.ADMIN, "admin")
            await patients.create(admin, "Before Outage", "female")

            await proxy.cut()
            with pytest.raises(UnavailableError, match="cannot be reached now") as refused:
                await patients.create(admin, "During Outage", "male")
            assert refused.value.retry_after_s > 0
            with pytest.raises(UnavailableError):
                await database.ping()

            await proxy.start()  # the server is back, on the same address
            await patients.create(admin, "After Outage", "other")
            async with database.transaction() as session:
                count = await session.scalar(select(func.count()).select_from(Patient))
            # Nothing of the refused call was written.
            assert count == 2
        finally:
            await database.close()
            await proxy.cut()

    asyncio.run(scenario())
