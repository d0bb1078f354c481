"""workspace data uses: "who used my data" also names analysis in the secure processing environment

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace_job_id", sa.Integer(), nullable=True))
        batch_op.alter_column("extract_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_data_use_workspace_job_id"), ["workspace_job_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_use_workspace_job_id"))
        batch_op.alter_column("extract_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("workspace_job_id")
