"""catalog tables

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = marketplace.db.JSONValue
    when = marketplace.db.UTCDateTime
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publisher_org_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("keywords", json, nullable=False),
        sa.Column("themes", json, nullable=False),
        sa.Column("health_categories", json, nullable=False),
        sa.Column("access_rights", sa.String(20), nullable=False),
        sa.Column("legal_basis", sa.String(500), nullable=False),
        sa.Column("consent_model", sa.String(10), nullable=False),
        sa.Column("data_use", json, nullable=False),
        sa.Column("spatial", json, nullable=False),
        sa.Column("temporal", json, nullable=True),
        sa.Column("contact_point", json, nullable=True),
        sa.Column("k_min", sa.Integer(), nullable=False),
        sa.Column("subject_column", sa.String(63), nullable=True),
        sa.Column("columns", json, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("number_of_records", sa.Integer(), nullable=True),
        sa.Column("number_of_unique_individuals", sa.Integer(), nullable=True),
        sa.Column("min_typical_age", sa.Integer(), nullable=True),
        sa.Column("max_typical_age", sa.Integer(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("published_at", when, nullable=True),
        sa.Column("retired_at", when, nullable=True),
        sa.ForeignKeyConstraint(["publisher_org_id"], ["organisation.id"],
                                name="fk_dataset_publisher_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_dataset"),
    )
    op.create_index("ix_dataset_publisher_org_id", "dataset", ["publisher_org_id"])
    op.create_index("ix_dataset_status", "dataset", ["status"])
    op.create_index("ix_dataset_access_rights", "dataset", ["access_rights"])
    op.create_index("ix_dataset_updated_at", "dataset", ["updated_at"])

    op.create_table(
        "dataset_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(20), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE",
                                name="fk_dataset_tag_dataset_id_dataset"),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_tag"),
    )
    op.create_index("ix_dataset_tag_dataset_id", "dataset_tag", ["dataset_id"])
    op.create_index("ix_dataset_tag_facet_code", "dataset_tag", ["facet", "code"])

    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("media_type", sa.String(60), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("path", sa.String(300), nullable=True),
        sa.Column("number_of_rows", sa.Integer(), nullable=False),
        sa.Column("report", json, nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"],
                                name="fk_data_version_dataset_id_dataset"),
        sa.PrimaryKeyConstraint("id", name="pk_data_version"),
        sa.UniqueConstraint("dataset_id", "number", name="uq_data_version_dataset_id_number"),
    )
    op.create_index("ix_data_version_dataset_id", "data_version", ["dataset_id"])


def downgrade() -> None:
    op.drop_table("data_version")
    op.drop_table("dataset_tag")
    op.drop_table("dataset")
