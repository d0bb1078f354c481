"""transparency records: a plain index on the extract instead of a unique one per citizen

A unique index that ends in the citizen's key takes a random-place insert per row; the writer
already leaves out the keys it has recorded, and a job's results are written only while its
worker holds the job's lease, so one extract never records a citizen twice.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_constraint("uq_data_use_extract_id", type_="unique")
        batch_op.create_index("ix_data_use_extract_id_dataset_id", ["extract_id", "dataset_id"])


def downgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_index("ix_data_use_extract_id_dataset_id")
        batch_op.create_unique_constraint("uq_data_use_extract_id",
                                          ["extract_id", "dataset_id", "subject_key"])
