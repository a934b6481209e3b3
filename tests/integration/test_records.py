"""Patient records on SQLite and PostgreSQL, with analyses from the real services.

Patients, lesions, a lesion's history, reviews, FHIR export, encryption at
rest, kept images and their retention, export and erasure on request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from cryptography.fernet import Fernet
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from sqlalchemy import create_engine, text

from gateway.accounts import AccountService, Principal
from gateway.accounts.limits import Limits, LimitSettings, MemoryCounters
from gateway.accounts.passwords import Passwords
from gateway.accounts.tokens import AccessTokens
from gateway.analysis_service import AnalysisService
from gateway.audit import AuditLog
from gateway.database import Database, database_urls, upgrade
from gateway.database.schema import utc_now
from gateway.preprocessor_client import PreprocessorClient
from gateway.records import Records
from gateway.records.crypto import FieldCipher
from gateway.surveillance.thresholds import ClinicThresholds
from skinscan.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from skinscan.records import ReviewStatus
from skinscan_model.s3 import parse_s3_url
from tests.images import png_bytes

pytestmark = pytest.mark.integration
T = TypeVar("T")


@dataclass
class Clinic:
    records: Records
    accounts: AccountService
    database: Database
    admin: Principal
    clinician: Principal
    dermatologist: Principal
    other_admin: Principal  # of another clinic
    image_folder: Path


async def _principal(accounts: AccountService, username: str, password: str) -> Principal:
    return await accounts.authenticate((await accounts.login(username, password)).access_token)


@asynccontextmanager
async def _clinic(
    database_url: str, target: str, folder: Path, image_store: str | None = None
) -> AsyncIterator[Clinic]:
    upgrade(database_url)
    database = Database(database_url)
    preprocessor = PreprocessorClient(target, timeout_s=60)
    accounts = AccountService(
        database,
        AccessTokens(b"r" * 32, timedelta(minutes=15)),
        Passwords(),
        Limits(MemoryCounters(), LimitSettings(requests_per_minute=10_000, burst=1000)),
        timedelta(days=1),
    )
    cipher = FieldCipher([Fernet.generate_key()], b"s" * 32)
    # As the gateway wires them: every result is decided at its clinic's threshold.
    thresholds = ClinicThresholds(database)
    records = Records.build(
        database,
        cipher,
        AnalysisService(preprocessor, None, clinic_decision=thresholds),
        image_store or folder / "images",
        thresholds,
    )
    await accounts.ensure_admin("Clinic A", "admin.a", "admin a password")
    await accounts.create_clinic("Clinic B", "admin.b", "admin b password")
    admin = await _principal(accounts, "admin.a", "admin a password")
    await accounts.create_user(admin, "gp.a", "clinician password", "clinician")
    await accounts.create_user(admin, "derm.a", "dermatologist password", "dermatologist")
    try:
        yield Clinic(
            records,
            accounts,
            database,
            admin,
            await _principal(accounts, "gp.a", "clinician password"),
            await _principal(accounts, "derm.a", "dermatologist password"),
            await _principal(accounts, "admin.b", "admin b password"),
            folder / "images",
        )
    finally:
        await preprocessor.close()
        await database.close()


@pytest.fixture
def clinic(
    database_url: str, preprocessor_target: str, tmp_path: Path
) -> Callable[[Callable[[Clinic], Awaitable[T]]], T]:
    def run(scenario: Callable[[Clinic], Awaitable[T]]) -> T:
        async def inside() -> T:
            async with _clinic(database_url, preprocessor_target, tmp_path) as c:
                return await scenario(c)

        return asyncio.run(inside())

    return run


def _raw_database_text(url: str) -> str:
    """Every value of every table, as the database holds it."""
    engine = create_engine(database_urls(url).sync_url)
    try:
        with engine.connect() as connection:
            chunks = []
            for table in ("patients", "lesions", "analyses", "reviews", "audit_events"):
                for row in connection.execute(text(f"SELECT * FROM {table}")):
                    chunks.append(" ".join(str(v) for v in row))
            return "\n".join(chunks)
    finally:
        engine.dispose()


def test_patients_are_found_by_name_and_identifier_but_stored_encrypted(
    clinic: Callable[..., Any], database_url: str
) -> None:
    async def scenario(c: Clinic) -> None:
        p = c.records.patients
        ada = await p.create(
            c.clinician,
            "Ada  Lovelace",
            "female",
            birth_date=date(1990, 12, 10),
            identifier="MRN-77",
        )
        await p.create(c.clinician, "Charles Babbage", "male", age_years=60)
        assert (await p.get(c.clinician, ada.id)).birth_date == date(1990, 12, 10)
        found = await p.search(c.clinician, name="ada lovelace")
        assert [x.id for x in found.items] == [ada.id] and found.items[0].name == "Ada Lovelace"
        assert [x.id for x in (await p.search(c.clinician, identifier="mrn-77")).items] == [ada.id]
        assert (await p.search(c.clinician, name="Ada")).items == []
        # Another clinic sees none of them and may not open one.
        assert (await p.search(c.other_admin)).items == []
        with pytest.raises(PermissionDeniedError):
            await p.get(c.other_admin, ada.id)
        with pytest.raises(NotFoundError):
            await p.get(c.clinician, "0" * 32)
        # A dermatologist reads records but does not register patients.
        with pytest.raises(PermissionDeniedError):
            await p.create(c.dermatologist, "Someone", "other")
        for bad in (
            dict(name="", sex="female"),
            dict(name="X", sex="f"),
            dict(name="X", sex="male", birth_date=date(1990, 1, 1), age_years=3),
            dict(name="X", sex="male", age_years=300),
        ):
            with pytest.raises(InvalidRequestError):
                await p.create(c.clinician, **bad)

    clinic(scenario)
    raw = _raw_database_text(database_url)
    for secret in ("Lovelace", "lovelace", "MRN-77", "1990-12-10", "Babbage"):
        assert secret not in raw


def test_patient_search_pages_newest_first(clinic: Callable[..., Any]) -> None:
    async def scenario(c: Clinic) -> None:
        created = [
            (await c.records.patients.create(c.clinician, f"Patient {i}", "unknown")).id
            for i in range(5)
        ]
        seen, cursor = [], None
        while True:
            page = await c.records.patients.search(c.clinician, limit=2, cursor=cursor)
            seen += [x.id for x in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == created[::-1]
        with pytest.raises(InvalidRequestError):
            await c.records.patients.search(c.clinician, cursor="garbage!")
        with pytest.raises(InvalidRequestError):
            await c.records.patients.search(c.clinician, limit=0)

    clinic(scenario)


def test_a_lesions_analyses_reviews_and_fhir_export(
    clinic: Callable[..., Any], malignant_jpeg: Path
) -> None:
    async def scenario(c: Clinic) -> None:
        r = c.records
        patient = await r.patients.create(c.clinician, "Grace Hopper", "female", identifier="H-1")
        with pytest.raises(InvalidRequestError):
            await r.lesions.create(c.clinician, patient.id, "elbow")
        lesion = await r.lesions.create(
            c.clinician, patient.id, "upper_extremity", "mole on the left forearm"
        )
        assert [x.id for x in await r.lesions.of_patient(c.dermatologist, patient.id)] == [
            lesion.id
        ]
        data = malignant_jpeg.read_bytes()
        first = await r.analyses.analyze(c.clinician, lesion.id, data)
        second = await r.analyses.analyze(c.clinician, lesion.id, data)
        assert first.analysis.assessable and first.analysis.model.version == "1"
        assert first.analysis.label in ("benign", "malignant") and not first.image_kept
        history = await r.analyses.search(c.dermatologist, lesion_id=lesion.id)
        assert [x.id for x in history.items] == [second.id, first.id]
        assert history.items[1].analysis == first.analysis
        by_label = await r.analyses.search(c.clinician, label=first.analysis.label)
        assert first.id in [x.id for x in by_label.items]
        assert (await r.analyses.search(c.clinician, since=utc_now())).items == []
        with pytest.raises(PermissionDeniedError):
            await r.analyses.analyze(c.other_admin, lesion.id, data)
        with pytest.raises(PermissionDeniedError):
            await r.analyses.get(c.other_admin, first.id)

        review = await r.reviews.request(c.clinician, first.id, "please check the border")
        queue = await r.reviews.queue(c.dermatologist)
        assert [x.id for x in queue] == [review.id] and queue[0].note == "please check the border"
        with pytest.raises(PermissionDeniedError):
            await r.reviews.decide(c.clinician, review.id, "mel", "histopathology")
        with pytest.raises(InvalidRequestError):
            await r.reviews.decide(c.dermatologist, review.id, "cancer", "histopathology")
        done = await r.reviews.decide(
            c.dermatologist, review.id, "mel", "histopathology", "excised, melanoma in situ"
        )
        assert done.status is ReviewStatus.DONE and done.reviewed_by == c.dermatologist.id
        seen = await r.reviews.queue(c.clinician, status="done", analysis_id=first.id)
        assert [(x.diagnosis, x.method) for x in seen] == [("mel", done.method)]

        report = await r.analyses.fhir(c.clinician, first.id)
        parsed = DiagnosticReport.model_validate(report)  # FHIR R4 (4.3) structure
        assert parsed.status == "final" and report["subject"]["identifier"]["value"] == "H-1"
        assert {o["id"] for o in report["contained"]} >= {"malignant-probability", "decision"}
        assert "Grace" not in str(report) and "dermatologist" in report["conclusion"]
        probability = next(o for o in report["contained"] if o["id"] == "malignant-probability")
        assert probability["valueQuantity"]["value"] == pytest.approx(
            first.analysis.malignant_probability, abs=1e-4
        )
        with pytest.raises(PermissionDeniedError):
            await r.analyses.fhir(c.other_admin, first.id)

        entries = await AuditLog(c.database).entries(c.admin, limit=200)
        actions = {e.action for e in entries}
        assert {
            "patient.create",
            "lesion.create",
            "analysis.create",
            "analysis.export_fhir",
        } <= actions
        assert {"review.request", "review.decide", "analysis.list"} <= actions

    clinic(scenario)


def test_images_are_kept_only_on_opt_in_encrypted_and_purged_when_due(
    clinic: Callable[..., Any], malignant_jpeg: Path
) -> None:
    async def scenario(c: Clinic) -> None:
        r = c.records
        patient = await r.patients.create(c.clinician, "Opt In", "other")
        lesion = await r.lesions.create(c.clinician, patient.id, "back")
        data = malignant_jpeg.read_bytes()
        await r.analyses.analyze(c.clinician, lesion.id, data)
        assert not c.image_folder.exists() or not any(c.image_folder.iterdir())
        with pytest.raises(PermissionDeniedError):
            await r.clinic.update(c.clinician, keep_images=True)
        settings = await r.clinic.update(c.admin, keep_images=True, retention_days=7)
        assert settings.keep_images and settings.image_retention_days == 7
        kept = await r.analyses.analyze(c.clinician, lesion.id, data)
        assert kept.image_kept
        files = list(c.image_folder.iterdir())
        assert len(files) == 1 and data not in files[0].read_bytes()
        assert await r.images.read(files[0].name) == data
        assert await r.images.purge_expired(c.database, utc_now() + timedelta(days=6)) == 0
        assert await r.images.purge_expired(c.database, utc_now() + timedelta(days=8)) == 1
        assert list(c.image_folder.iterdir()) == []
        assert not (await r.analyses.get(c.clinician, kept.id)).image_kept

    clinic(scenario)


def test_a_patient_is_exported_and_erased_on_request(
    clinic: Callable[..., Any], malignant_jpeg: Path, database_url: str
) -> None:
    async def scenario(c: Clinic) -> str:
        r = c.records
        await r.clinic.update(c.admin, keep_images=True)
        patient = await r.patients.create(c.clinician, "Erase Me", "male", identifier="E-9")
        lesion = await r.lesions.create(c.clinician, patient.id, "face", "nose")
        analysis = await r.analyses.analyze(c.clinician, lesion.id, malignant_jpeg.read_bytes())
        await r.reviews.request(c.clinician, analysis.id, "look")
        exported = await r.patients.export(c.clinician, patient.id)
        assert (
            exported["patient"]["name"] == "Erase Me" and exported["patient"]["identifier"] == "E-9"
        )
        assert [x["id"] for x in exported["analyses"]] == [analysis.id]
        assert exported["lesions"][0]["description"] == "nose" and len(exported["reviews"]) == 1
        with pytest.raises(PermissionDeniedError):
            await r.patients.erase(c.clinician, patient.id)
        with pytest.raises(PermissionDeniedError):
            await r.patients.erase(c.other_admin, patient.id)
        await r.patients.erase(c.admin, patient.id)
        with pytest.raises(NotFoundError):
            await r.patients.get(c.admin, patient.id)
        assert list(c.image_folder.iterdir()) == []
        entries = await AuditLog(c.database).entries(c.admin, limit=200)
        assert any(e.action == "patient.erase" and e.target_id == patient.id for e in entries)
        return analysis.analysis.request_id

    clinic(scenario)
    raw = _raw_database_text(database_url)
    assert "analysis.create" in raw  # the audit trail stays ...
    for table in ("patients", "lesions", "analyses", "reviews"):  # ... the records do not
        engine = create_engine(database_urls(database_url).sync_url)
        with engine.connect() as connection:
            assert connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0
        engine.dispose()


def test_kept_images_in_s3_are_encrypted_shared_and_erased(
    preprocessor_target: str, s3_repository: str, tmp_path: Path, malignant_jpeg: Path
) -> None:
    """Several gateway replicas share kept images through S3; erasure removes the object."""
    bucket, prefix = parse_s3_url(s3_repository)
    s3 = boto3.client("s3")

    def objects() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    async def scenario() -> None:
        url = f"sqlite:///{tmp_path / 'records.db'}"
        async with _clinic(url, preprocessor_target, tmp_path, s3_repository) as c:
            r = c.records
            await r.clinic.update(c.admin, keep_images=True, retention_days=7)
            patient = await r.patients.create(c.clinician, "Kept In S3", "other")
            lesion = await r.lesions.create(c.clinician, patient.id, "upper_extremity")
            data = malignant_jpeg.read_bytes()
            kept = await r.analyses.analyze(c.clinician, lesion.id, data)
            (key,) = objects()
            assert key == f"{prefix}{kept.id}.img"
            stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert data not in stored and data[100:200] not in stored
            assert await r.analyses.image(c.clinician, kept.id) == data
            # Another replica, with the same keys and bucket, serves the same image.
            other = Records.build(c.database, r.images.cipher, r.analyses.analyses, s3_repository)
            assert await other.analyses.image(c.clinician, kept.id) == data
            await r.patients.erase(c.admin, patient.id)
            assert objects() == []

            # Purged when due, like a folder's.
            patient = await r.patients.create(c.clinician, "Purged From S3", "other")
            lesion = await r.lesions.create(c.clinician, patient.id, "lower_extremity")
            await r.analyses.analyze(c.clinician, lesion.id, data)
            assert len(objects()) == 1
            assert await r.images.purge_expired(c.database, utc_now() + timedelta(days=8)) == 1
            assert objects() == []

    asyncio.run(scenario())


def test_an_audit_share_draws_assessable_analyses_for_review_as_audit_cases(
    clinic: Callable[..., Any], malignant_jpeg: Path
) -> None:
    async def scenario(c: Clinic) -> None:
        r = c.records
        patient = await r.patients.create(c.clinician, "Mary Somerville", "female")
        lesion = await r.lesions.create(c.clinician, patient.id, "back")
        data = malignant_jpeg.read_bytes()
        # No share, no audit case.
        assert (await r.clinic.get(c.admin)).audit_share == 0.0
        await r.analyses.analyze(c.clinician, lesion.id, data)
        assert await r.reviews.queue(c.dermatologist) == []
        # Only an admin sets the share, between 0 and 1, with a reason otherwise.
        with pytest.raises(PermissionDeniedError):
            await r.clinic.update(c.clinician, audit_share=0.1)
        for wrong in (-0.1, 1.5, float("nan")):
            with pytest.raises(InvalidRequestError, match="audit_share must be between 0"):
                await r.clinic.update(c.admin, audit_share=wrong)
        assert (await r.clinic.update(c.admin, audit_share=1.0)).audit_share == 1.0
        # Every assessable analysis is now drawn, whatever its result, for any dermatologist.
        drawn = await r.analyses.analyze(c.clinician, lesion.id, data)
        queue = await r.reviews.queue(c.dermatologist)
        assert [(x.analysis_id, x.audit, x.requested_by) for x in queue] == [
            (drawn.id, True, "audit sample")
        ]
        # An image that cannot be assessed is never an audit case: there is no result to check.
        refused = await r.analyses.analyze(c.clinician, lesion.id, png_bytes(40, 40))
        assert not refused.analysis.assessable
        assert [x.analysis_id for x in await r.reviews.queue(c.dermatologist)] == [drawn.id]
        # A clinician's own request stays a chosen case beside it.
        chosen = await r.reviews.request(c.clinician, drawn.id, "changing")
        assert not chosen.audit
        # The other clinic sees neither the setting nor the cases.
        assert (await r.clinic.get(c.other_admin)).audit_share == 0.0
        assert await r.reviews.queue(c.other_admin) == []
        actions = [e.action for e in await AuditLog(c.database).entries(c.admin, limit=100)]
        assert "review.audit_sample" in actions and "clinic.update" in actions

    clinic(scenario)
