"""transparency records: one row per use, and a narrow row per citizen it used

`data_use` held one wide row per citizen of an extract, with five indexes; a national extract
of a million persons wrote a million of them. A use (an extract and dataset, or a workspace job
and dataset) is now one row with the number of citizens it used, and `data_use_subject` holds
each citizen's blind index and the use, under its primary key alone. The rows of a use are
grouped into the first of them, which keeps its id and time.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_DATA_USE = sa.table("data_use", *map(sa.column, (
    "id", "extract_id", "workspace_job_id", "dataset_id", "subject_key", "persons")))
_DATA_USE_SUBJECT = sa.table("data_use_subject", sa.column("subject_key"), sa.column("use_id"))


def upgrade() -> None:
    op.create_table(
        "data_use_subject",
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("use_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "use_id", name="pk_data_use_subject"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.add_column(sa.Column("persons", sa.Integer(), nullable=True))
    _group_rows_into_uses(op.get_bind())
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_index("ix_data_use_subject_key_at")
        batch_op.drop_index("ix_data_use_extract_id_dataset_id")
        batch_op.drop_index("ix_data_use_workspace_job_id")
        batch_op.drop_column("subject_key")
        batch_op.alter_column("persons", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_data_use_extract_id", ["extract_id", "dataset_id"])
        batch_op.create_unique_constraint("uq_data_use_workspace_job_id",
                                          ["workspace_job_id", "dataset_id"])


def _group_rows_into_uses(connection: sa.Connection) -> None:
    """Move each use's citizens to `data_use_subject` under the use's first row, count them
    there and delete the use's other rows."""
    row = _DATA_USE.c
    uses = connection.execute(
        sa.select(sa.func.min(row.id), row.extract_id, row.workspace_job_id, row.dataset_id,
                  sa.func.count(sa.distinct(row.subject_key)))
        .group_by(row.extract_id, row.workspace_job_id, row.dataset_id)).all()
    for first_id, extract_id, job_id, dataset_id, persons in uses:
        # Found through the old indexes on the extract or the workspace job (None is IS NULL).
        of_use = sa.and_(row.extract_id == extract_id, row.workspace_job_id == job_id,
                         row.dataset_id == dataset_id)
        connection.execute(sa.insert(_DATA_USE_SUBJECT).from_select(
            ["subject_key", "use_id"],
            sa.select(row.subject_key, sa.literal(first_id, sa.Integer)).where(of_use)
            .distinct()))
        connection.execute(sa.delete(_DATA_USE).where(of_use, row.id != first_id))
        connection.execute(sa.update(_DATA_USE).where(row.id == first_id)
                           .values(persons=persons))


def downgrade() -> None:
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_constraint("uq_data_use_workspace_job_id", type_="unique")
        batch_op.drop_constraint("uq_data_use_extract_id", type_="unique")
        batch_op.add_column(sa.Column("subject_key", sa.String(64), nullable=True))
    # A row per citizen again, each with its use's facts and time; then the uses themselves go.
    op.execute(
        "INSERT INTO data_use (extract_id, workspace_job_id, permit_id, dataset_id, "
        "holder_org_id, company_org_id, purpose, persons, at, subject_key) "
        "SELECT u.extract_id, u.workspace_job_id, u.permit_id, u.dataset_id, u.holder_org_id, "
        "u.company_org_id, u.purpose, 0, u.at, s.subject_key "
        "FROM data_use_subject AS s JOIN data_use AS u ON u.id = s.use_id "
        "ORDER BY u.id, s.subject_key")
    op.execute("DELETE FROM data_use WHERE subject_key IS NULL")
    with op.batch_alter_table("data_use", schema=None) as batch_op:
        batch_op.drop_column("persons")
        batch_op.alter_column("subject_key", existing_type=sa.String(64), nullable=False)
        batch_op.create_index("ix_data_use_workspace_job_id", ["workspace_job_id"])
        batch_op.create_index("ix_data_use_extract_id_dataset_id", ["extract_id", "dataset_id"])
        batch_op.create_index("ix_data_use_subject_key_at", ["subject_key", "at"])
    op.drop_table("data_use_subject")
