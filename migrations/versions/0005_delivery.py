"""delivery tables

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("data_version_id", sa.Integer(), nullable=False),
        sa.Column("data_version_sha256", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.Column("path", sa.String(300), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("manifest", marketplace.db.JSONValue, nullable=True),
        sa.Column("report", marketplace.db.JSONValue, nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')",
                           name="ck_extract_status"),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="ck_extract_progress"),
        sa.ForeignKeyConstraint(["permit_id"], ["permit.id"], name="fk_extract_permit_id_permit"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"],
                                name="fk_extract_dataset_id_dataset"),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_extract_company_org_id_organisation"),
        sa.ForeignKeyConstraint(["data_version_id"], ["data_version.id"],
                                name="fk_extract_data_version_id_data_version"),
        sa.PrimaryKeyConstraint("id", name="pk_extract"),
    )
    op.create_index("ix_extract_permit_id", "extract", ["permit_id"])
    op.create_index("ix_extract_dataset_id", "extract", ["dataset_id"])
    op.create_index("ix_extract_company_org_id", "extract", ["company_org_id"])
    op.create_index("ix_extract_status_created_at", "extract", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("extract")
