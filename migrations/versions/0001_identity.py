"""identity tables

Revision ID: 0001
Revises: None
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("accredited", sa.Boolean(), nullable=False),
        sa.Column("homepage", sa.String(300), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisation"),
        sa.UniqueConstraint("slug", name="uq_organisation_slug"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("last_sign_in_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name="fk_app_user_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("sub", name="uq_app_user_sub"),
    )
    op.create_index("ix_app_user_org_id", "app_user", ["org_id"])
    op.create_table(
        "citizen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cpr_index", sa.String(64), nullable=False),
        sa.Column("cpr_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("last_sign_in_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_citizen"),
        sa.UniqueConstraint("cpr_index", name="uq_citizen_cpr_index"),
    )
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name="fk_api_client_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_api_client"),
        sa.UniqueConstraint("client_id", name="uq_api_client_client_id"),
    )
    op.create_index("ix_api_client_org_id", "api_client", ["org_id"])
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("issued_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_client.id"],
                                name="fk_api_token_client_id_api_client"),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
    )
    op.create_index("ix_api_token_client_id", "api_token", ["client_id"])
    op.create_table(
        "sign_in",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("started_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in"),
    )


def downgrade() -> None:
    for table in ("sign_in", "api_token", "api_client", "citizen", "app_user", "organisation"):
        op.drop_table(table)
