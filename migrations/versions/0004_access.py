"""access tables

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REQUEST_STATES = "('review', 'changes_requested', 'permitted', 'denied', 'rejected')"
TASK_STATES = "('pending', 'approved', 'rejected', 'changes_requested', 'superseded')"

# The audit chain is append-only in the database too; the hash chain still catches anyone who
# drops these triggers first.
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$",
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    ],
}


def upgrade() -> None:
    json = marketplace.db.JSONValue
    when = marketplace.db.UTCDateTime
    op.create_table(
        "access_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("diseases", json, nullable=False),
        sa.Column("cohort", json, nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("pseudonymised", sa.Boolean(), nullable=False),
        sa.Column("pseudonymisation_justification", sa.Text(), nullable=False),
        sa.Column("safeguards", sa.Text(), nullable=False),
        sa.Column("ethics_approval", sa.String(200), nullable=False),
        sa.Column("processors", json, nullable=False),
        sa.Column("test_environment_id", sa.Integer(), nullable=True),
        sa.Column("test_course_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("submitted_at", when, nullable=False),
        sa.Column("closed_at", when, nullable=True),
        sa.CheckConstraint(f"status IN {REQUEST_STATES}", name="ck_access_request_status"),
        sa.CheckConstraint("duration_days > 0", name="ck_access_request_duration_days"),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_access_request_company_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_access_request"),
    )
    op.create_index("ix_access_request_company_org_id", "access_request", ["company_org_id"])
    op.create_index("ix_access_request_status_submitted_at", "access_request",
                    ["status", "submitted_at"])

    op.create_table(
        "requested_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_request_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("holder_org_id", sa.Integer(), nullable=False),
        sa.Column("columns", json, nullable=False),
        sa.ForeignKeyConstraint(["access_request_id"], ["access_request.id"], ondelete="CASCADE",
                                name="fk_requested_dataset_access_request_id_access_request"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"],
                                name="fk_requested_dataset_dataset_id_dataset"),
        sa.ForeignKeyConstraint(["holder_org_id"], ["organisation.id"],
                                name="fk_requested_dataset_holder_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_requested_dataset"),
        sa.UniqueConstraint("access_request_id", "dataset_id",
                            name="uq_requested_dataset_access_request_id"),
    )
    op.create_index("ix_requested_dataset_dataset_id", "requested_dataset", ["dataset_id"])
    op.create_index("ix_requested_dataset_holder_org_id", "requested_dataset", ["holder_org_id"])

    op.create_table(
        "access_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_request_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reasons", json, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("cohort_sizes", json, nullable=False),
        sa.Column("decided_at", when, nullable=False),
        sa.ForeignKeyConstraint(["access_request_id"], ["access_request.id"],
                                name="fk_access_decision_access_request_id_access_request"),
        sa.PrimaryKeyConstraint("id", name="pk_access_decision"),
    )
    op.create_index("ix_access_decision_access_request_id", "access_decision",
                    ["access_request_id"])

    op.create_table(
        "review_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_request_id", sa.Integer(), nullable=False),
        sa.Column("holder_org_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("due_at", when, nullable=False),
        sa.Column("decided_at", when, nullable=True),
        sa.CheckConstraint(f"status IN {TASK_STATES}", name="ck_review_task_status"),
        sa.ForeignKeyConstraint(["access_request_id"], ["access_request.id"],
                                name="fk_review_task_access_request_id_access_request"),
        sa.ForeignKeyConstraint(["holder_org_id"], ["organisation.id"],
                                name="fk_review_task_holder_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_review_task"),
        sa.UniqueConstraint("access_request_id", "holder_org_id", "round",
                            name="uq_review_task_access_request_id"),
    )
    op.create_index("ix_review_task_holder_org_id_status", "review_task",
                    ["holder_org_id", "status"])

    op.create_table(
        "permit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_request_id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("datasets", json, nullable=False),
        sa.Column("cohort", json, nullable=False),
        sa.Column("k_min", sa.Integer(), nullable=True),
        sa.Column("pseudonymised", sa.Boolean(), nullable=False),
        sa.Column("duties", json, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("test_environment_id", sa.Integer(), nullable=True),
        sa.Column("test_course_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", when, nullable=False),
        sa.Column("valid_until", when, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("revoked_at", when, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_permit_status"),
        sa.ForeignKeyConstraint(["access_request_id"], ["access_request.id"],
                                name="fk_permit_access_request_id_access_request"),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_permit_company_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_permit"),
        sa.UniqueConstraint("access_request_id", name="uq_permit_access_request_id"),
    )
    op.create_index("ix_permit_company_org_id", "permit", ["company_org_id"])
    op.create_index("ix_permit_status_valid_until", "permit", ["status", "valid_until"])

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject_type", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(80), nullable=False),
        sa.Column("details", json, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
        sa.UniqueConstraint("prev_hash", name="uq_audit_entry_prev_hash"),
        sa.UniqueConstraint("hash", name="uq_audit_entry_hash"),
    )
    op.create_index("ix_audit_entry_subject_type_subject_id", "audit_entry",
                    ["subject_type", "subject_id"])
    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
    for table in ("audit_entry", "permit", "review_task", "access_decision", "requested_dataset",
                  "access_request"):
        op.drop_table(table)
