"""catalog upload tokens: an upload sent twice stores one data version

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_data_version_dataset_id_upload_token",
                                          ["dataset_id", "upload_token"])


def downgrade() -> None:
    with op.batch_alter_table("data_version", schema=None) as batch_op:
        batch_op.drop_constraint("uq_data_version_dataset_id_upload_token", type_="unique")
        batch_op.drop_column("upload_token")
