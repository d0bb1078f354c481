"""consent revision: the counter that keys cached consent snapshots

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "consent_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_consent_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_revision")),
    )
    count = op.get_bind().scalar(sa.text("SELECT count(*) FROM consent_event"))
    op.bulk_insert(table, [{"id": 1, "revision": count or 0}])


def downgrade() -> None:
    op.drop_table("consent_revision")
