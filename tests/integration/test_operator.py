"""Operator commands on a real database: a second clinic, key rotation, purging images."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from gateway.accounts import Principal, Role
from gateway.database import Database
from gateway.database.schema import AnalysisRecord, Clinic, Lesion, Patient
from gateway.records.crypto import field_cipher
from gateway.records.images import ImageStore
from gateway.records.patients import PatientRecords, patient_info
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _operator(
    env: dict[str, str], *arguments: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.operator", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def test_clinics_are_created_and_field_keys_rotated_by_the_operator(
    database_url: str, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {
        **os.environ,
        "SKINSCAN_DATABASE_URL": database_url,
        "SKINSCAN_STATE_DIR": str(tmp_path),
        "SKINSCAN_FIELD_KEYS": old,
        "SKINSCAN_SEARCH_KEY": "s" * 40,
    }
    created = _operator(env, "create-clinic", "North clinic", "--admin", "north.admin")
    assert created.returncode == 0, created.stderr
    assert "one-time password (shown once): " in created.stdout
    again = _operator(env, "create-clinic", "North clinic", "--admin", "other.admin")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert "Traceback" not in again.stderr

    async def register() -> str:
        database = Database(database_url)
        try:
            cipher = field_cipher(SecretStr(old), SecretStr("s" * 40), tmp_path)
            images = ImageStore(tmp_path / "images", cipher)
            async with database.transaction() as session:
                clinic_id = (await session.scalars(select(Clinic.id))).one()
            admin = Principal("user", "0" * 32, clinic_id, Role.ADMIN, "north.admin")
            patient = await PatientRecords(database, cipher, images).create(
                admin, "Rosalind Franklin", "female", identifier="RF-1"
            )
            # A kept image of an analysis, encrypted with the old key.
            async with database.transaction() as session:
                lesion = Lesion(
                    clinic_id=clinic_id,
                    patient_id=patient.id,
                    body_site="back",
                    first_seen=date(2026, 1, 1),
                )
                session.add(lesion)
                await session.flush()
                analysis = AnalysisRecord(
                    clinic_id=clinic_id,
                    lesion_id=lesion.id,
                    patient_id=patient.id,
                    image_sha256="0" * 64,
                    created_by="user:test",
                    model_name="m",
                    model_version="1",
                    assessable=True,
                    result={},
                )
                session.add(analysis)
                await session.flush()
                analysis.image_path = await images.keep(analysis.id, b"the lesion's pixels")
            return patient.id
        finally:
            await database.close()

    patient_id = asyncio.run(register())
    rotated = _operator({**env, "SKINSCAN_FIELD_KEYS": f"{new},{old}"}, "rotate-field-keys")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 2 values and 1 kept images" in rotated.stdout
    (kept,) = (tmp_path / "images").iterdir()
    new_only = field_cipher(SecretStr(new), SecretStr("s" * 40), tmp_path)
    assert new_only.decrypt_bytes(kept.read_bytes()) == b"the lesion's pixels"

    async def read_with_new_key_only() -> str:
        database = Database(database_url)
        try:
            cipher = field_cipher(SecretStr(new), SecretStr("s" * 40), tmp_path)
            async with database.transaction() as session:
                row = await session.get(Patient, patient_id)
                assert row is not None
            return patient_info(row, cipher).name
        finally:
            await database.close()

    assert asyncio.run(read_with_new_key_only()) == "Rosalind Franklin"
    purged = _operator(env, "purge-images")
    assert purged.returncode == 0 and "deleted 0 images" in purged.stdout
