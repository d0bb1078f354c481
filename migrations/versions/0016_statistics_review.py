"""statistics review and holders' rules: the holder's decision on a statistics request sent to
review, and the most privacy loss one request may spend

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = marketplace.db.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("statistics_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewer_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", WHEN, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_statistics_request_reviewer_org_id_organisation"), "organisation",
            ["reviewer_org_id"], ["id"])
        batch_op.drop_constraint(batch_op.f("ck_statistics_request_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_statistics_request_status"),
            "status IN ('released', 'denied', 'review', 'rejected')")
    with op.batch_alter_table("statistics_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epsilon_per_request", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statistics_policy", schema=None) as batch_op:
        batch_op.drop_column("epsilon_per_request")
    op.execute("UPDATE statistics_request SET status = 'denied' WHERE status = 'rejected'")
    with op.batch_alter_table("statistics_request", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_statistics_request_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_statistics_request_status"),
            "status IN ('released', 'denied', 'review')")
        batch_op.drop_constraint(
            batch_op.f("fk_statistics_request_reviewer_org_id_organisation"), type_="foreignkey")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("reviewer_org_id")
