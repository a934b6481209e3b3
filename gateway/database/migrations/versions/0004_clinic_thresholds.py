"""clinic thresholds: a referral threshold a clinic adopted per model version

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinic_thresholds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model_threshold", sa.Float(), nullable=False),
        sa.Column("target_sensitivity", sa.Float(), nullable=False),
        sa.Column("audit_cases", sa.Integer(), nullable=False),
        sa.Column("malignant_cases", sa.Integer(), nullable=False),
        sa.Column("sensitivity_lower_bound", sa.Float(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_by", sa.String(length=48), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=48), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clinic_thresholds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinic_thresholds_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_clinic_thresholds_withdrawn_at"), ["withdrawn_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("clinic_thresholds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinic_thresholds_withdrawn_at"))
        batch_op.drop_index(batch_op.f("ix_clinic_thresholds_clinic_id"))
    op.drop_table("clinic_thresholds")
