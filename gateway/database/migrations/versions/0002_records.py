"""records: patients, lesions, analyses, reviews

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("name_encrypted", sa.Text(), nullable=False),
        sa.Column("name_index", sa.String(length=64), nullable=False),
        sa.Column("identifier_encrypted", sa.Text(), nullable=True),
        sa.Column("identifier_index", sa.String(length=64), nullable=True),
        sa.Column("birth_date_encrypted", sa.Text(), nullable=True),
        sa.Column("age_years", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patients_identifier_index"), ["identifier_index"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patients_name_index"), ["name_index"], unique=False)

    op.create_table(
        "lesions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("body_site", sa.String(length=32), nullable=False),
        sa.Column("description_encrypted", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lesions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lesions_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lesions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "analyses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("lesion_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=48), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("assessable", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=True),
        sa.Column("malignant_probability", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("image_path", sa.String(length=300), nullable=True),
        sa.Column("image_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
        ),
        sa.ForeignKeyConstraint(["lesion_id"], ["lesions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyses_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_analyses_image_expires_at"), ["image_expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_analyses_label"), ["label"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_lesion_id"), ["lesion_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_analyses_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("analysis_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=48), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_to", sa.String(length=32), nullable=True),
        sa.Column("request_note_encrypted", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("diagnosis", sa.String(length=16), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=True),
        sa.Column("review_note_encrypted", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["assigned_to"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_analysis_id"), ["analysis_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviews_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_status"))
        batch_op.drop_index(batch_op.f("ix_reviews_patient_id"))
        batch_op.drop_index(batch_op.f("ix_reviews_clinic_id"))
        batch_op.drop_index(batch_op.f("ix_reviews_analysis_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyses_patient_id"))
        batch_op.drop_index(batch_op.f("ix_analyses_lesion_id"))
        batch_op.drop_index(batch_op.f("ix_analyses_label"))
        batch_op.drop_index(batch_op.f("ix_analyses_image_expires_at"))
        batch_op.drop_index(batch_op.f("ix_analyses_created_at"))
        batch_op.drop_index(batch_op.f("ix_analyses_clinic_id"))

    op.drop_table("analyses")
    with op.batch_alter_table("lesions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lesions_patient_id"))
        batch_op.drop_index(batch_op.f("ix_lesions_clinic_id"))

    op.drop_table("lesions")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_name_index"))
        batch_op.drop_index(batch_op.f("ix_patients_identifier_index"))
        batch_op.drop_index(batch_op.f("ix_patients_created_at"))
        batch_op.drop_index(batch_op.f("ix_patients_clinic_id"))

    op.drop_table("patients")
