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

_USES = sa.text(
    "SELECT min(id), extract_id, workspace_job_id, dataset_id, count(DISTINCT subject_key) "
    "FROM data_use GROUP BY extract_id, workspace_job_id, dataset_id")
# A use's rows, found through the old indexes on the extract or the workspace job.
_OF_EXTRACT = "extract_id = :extract_id AND workspace_job_id IS NULL AND dataset_id = :dataset_id"
_OF_JOB = "workspace_job_id = :job_id AND extract_id IS NULL AND dataset_id = :dataset_id"


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
    for first_id, extract_id, job_id, dataset_id, persons in connection.execute(_USES).all():
        if extract_id is not None:
            where, names = _OF_EXTRACT, {"extract_id": extract_id}
        else:
            where, names = _OF_JOB, {"job_id": job_id}
        names |= {"dataset_id": dataset_id, "first_id": first_id}
        connection.execute(sa.text(
            "INSERT INTO data_use_subject (subject_key, use_id) "
            f"SELECT DISTINCT subject_key, :first_id FROM data_use WHERE {where}"), names)
        connection.execute(sa.text(f"DELETE FROM data_use WHERE {where} AND id <> :first_id"),
                           names)
        connection.execute(sa.text("UPDATE data_use SET persons = :persons WHERE id = :id"),
                           {"persons": persons, "id": first_id})


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
