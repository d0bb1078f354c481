"""audit entries: their own MAC, and a place in the chain filled in when they are sealed

On PostgreSQL an entry is committed first and linked into the chain just after; `seq` is its
place, and the entries of the chain so far take their places in the order they were written.
The database still refuses every edit and deletion, except filling in the place and links of
an entry that has none yet.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SQLITE_GUARDS = [
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
]
# Sealing fills in seq, prev_hash and hash once; everything else an entry holds stays as written.
POSTGRES_GUARD = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
     AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
     AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.subject_type, NEW.subject_id,
          NEW.details::text, NEW.mac)
         IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.subject_type,
          OLD.subject_id, OLD.details::text, OLD.mac) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only';
END $$
"""
POSTGRES_OLD_GUARD = (
    "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$")
PLACES = ("UPDATE audit_entry SET seq = (SELECT count(*) FROM audit_entry AS earlier "
          "WHERE earlier.id <= audit_entry.id)")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _unguard() -> None:
    if _postgres():
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")


def _guard(function: str) -> None:
    if _postgres():
        op.execute(function)
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def upgrade() -> None:
    _unguard()
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    op.execute(PLACES)
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_entry_seq", ["seq"])
    op.create_index("ix_audit_entry_waiting", "audit_entry", ["id"],
                    postgresql_where=sa.text("seq IS NULL"), sqlite_where=sa.text("seq IS NULL"))
    _guard(POSTGRES_GUARD)


def downgrade() -> None:
    _unguard()
    op.drop_index("ix_audit_entry_waiting", table_name="audit_entry")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_entry_seq", type_="unique")
        batch_op.drop_column("seq")
        batch_op.drop_column("mac")
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    _guard(POSTGRES_OLD_GUARD)
