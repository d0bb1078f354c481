"""operator's console: deactivated organisations and staff, published consent notices

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

from marketplace.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", UTCDateTime(), nullable=True))
    op.create_table(
        "consent_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_notice")),
        sa.UniqueConstraint("version", name=op.f("uq_consent_notice_version")),
    )


def downgrade() -> None:
    op.drop_table("consent_notice")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
