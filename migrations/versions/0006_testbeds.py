"""testbeds tables

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = marketplace.db.JSONValue
WHEN = marketplace.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "test_environment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name_da", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("description_da", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("themes", JSON, nullable=False),
        sa.Column("target_groups", JSON, nullable=False),
        sa.Column("resources", JSON, nullable=False),
        sa.Column("facilities", JSON, nullable=False),
        sa.Column("dataset_ids", JSON, nullable=False),
        sa.Column("trl_min", sa.Integer(), nullable=False),
        sa.Column("trl_max", sa.Integer(), nullable=False),
        sa.Column("capacity_per_year", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(200), nullable=False),
        sa.Column("homepage", sa.String(300), nullable=True),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("updated_at", WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_test_environment"),
        sa.UniqueConstraint("slug", name="uq_test_environment_slug"),
    )
    op.create_table(
        "test_environment_host",
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("sector", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["test_environment.id"], ondelete="CASCADE",
                                name="fk_test_environment_host_environment_id_test_environment"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name="fk_test_environment_host_org_id_organisation"),
        sa.PrimaryKeyConstraint("environment_id", "org_id", name="pk_test_environment_host"),
    )
    op.create_index("ix_test_environment_host_org_id", "test_environment_host", ["org_id"])
    op.create_table(
        "solution_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("themes", JSON, nullable=False),
        sa.Column("target_groups", JSON, nullable=False),
        sa.Column("needs", JSON, nullable=False),
        sa.Column("facilities", JSON, nullable=False),
        sa.Column("trl", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("updated_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_solution_profile_company_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_solution_profile"),
    )
    op.create_index("ix_solution_profile_company_org_id", "solution_profile",
                    ["company_org_id"])
    op.create_table(
        "test_course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("solution_profile_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("participants_planned", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_changed_at", WHEN(), nullable=False),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("yearly_cost_dkk", sa.Integer(), nullable=True),
        sa.Column("procurement_need", sa.Text(), nullable=False),
        sa.Column("procurement_value", sa.Text(), nullable=False),
        sa.Column("procurement_market", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["test_environment.id"],
                                name="fk_test_course_environment_id_test_environment"),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_test_course_company_org_id_organisation"),
        sa.ForeignKeyConstraint(["solution_profile_id"], ["solution_profile.id"],
                                name="fk_test_course_solution_profile_id_solution_profile"),
        sa.PrimaryKeyConstraint("id", name="pk_test_course"),
    )
    op.create_index("ix_test_course_environment_id", "test_course", ["environment_id"])
    op.create_index("ix_test_course_company_org_id", "test_course", ["company_org_id"])
    op.create_index("ix_test_course_solution_profile_id", "test_course",
                    ["solution_profile_id"])
    op.create_index("ix_test_course_status", "test_course", ["status"])
    op.create_table(
        "test_course_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor_org_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["test_course.id"],
                                name="fk_test_course_event_course_id_test_course"),
        sa.ForeignKeyConstraint(["actor_org_id"], ["organisation.id"],
                                name="fk_test_course_event_actor_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_test_course_event"),
    )
    op.create_index("ix_test_course_event_course_id", "test_course_event", ["course_id"])
    op.create_table(
        "test_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(40), nullable=False),
        sa.Column("party", sa.String(10), nullable=False),
        sa.Column("recorded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("result", sa.Float(), nullable=False),
        sa.Column("better", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["test_course.id"],
                                name="fk_test_outcome_course_id_test_course"),
        sa.ForeignKeyConstraint(["recorded_by_org_id"], ["organisation.id"],
                                name="fk_test_outcome_recorded_by_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_test_outcome"),
        sa.UniqueConstraint("course_id", "dimension", "party", name="uq_test_outcome_course_id"),
    )
    op.create_table(
        "evidence_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(40), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("uploaded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["test_course.id"],
                                name="fk_evidence_file_course_id_test_course"),
        sa.ForeignKeyConstraint(["uploaded_by_org_id"], ["organisation.id"],
                                name="fk_evidence_file_uploaded_by_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_file"),
    )
    op.create_index("ix_evidence_file_course_id", "evidence_file", ["course_id"])
    op.create_table(
        "procurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("buyer_org_id", sa.Integer(), nullable=False),
        sa.Column("started_by_name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("started_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["test_course.id"],
                                name="fk_procurement_course_id_test_course"),
        sa.ForeignKeyConstraint(["buyer_org_id"], ["organisation.id"],
                                name="fk_procurement_buyer_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_procurement"),
        sa.UniqueConstraint("course_id", name="uq_procurement_course_id"),
    )
    op.create_index("ix_procurement_buyer_org_id", "procurement", ["buyer_org_id"])


def downgrade() -> None:
    op.drop_table("procurement")
    op.drop_table("evidence_file")
    op.drop_table("test_outcome")
    op.drop_table("test_course_event")
    op.drop_table("test_course")
    op.drop_table("solution_profile")
    op.drop_table("test_environment_host")
    op.drop_table("test_environment")
