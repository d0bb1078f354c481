"""transparency records without foreign keys: bulk-written per extract, checked by the writer

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (("fk_data_use_dataset_id_dataset", "dataset", "dataset_id"),
                ("fk_data_use_holder_org_id_organisation", "organisation", "holder_org_id"),
                ("fk_data_use_company_org_id_organisation", "organisation", "company_org_id"))


def upgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        for name, _table, _column in FOREIGN_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        for name, table, column in FOREIGN_KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
