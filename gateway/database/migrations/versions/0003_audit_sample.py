"""audit sample: a clinic's audit share, and reviews marked as audit cases

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing clinics draw no audit cases, and every existing review was a clinician's choice.
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit_share", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_reviews_audit"), ["audit"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_audit"))
        batch_op.drop_column("audit")
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("audit_share")
