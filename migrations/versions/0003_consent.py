"""consent tables

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("actor_citizen_id", sa.Integer(), nullable=False),
        sa.Column("at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("scope_type", sa.String(10), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("notice_version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.CheckConstraint(
            "decision IN ('permit', 'deny', 'clear', 'opt_out', 'opt_out_withdrawn')",
            name="ck_consent_event_decision"),
        sa.CheckConstraint("scope_type IN ('all', 'holder', 'dataset')",
                           name="ck_consent_event_scope_type"),
        sa.CheckConstraint(
            "(scope_type = 'all' AND scope_id IS NULL) OR "
            "(scope_type <> 'all' AND scope_id IS NOT NULL)", name="ck_consent_event_scope_id"),
        sa.CheckConstraint(
            "(decision IN ('opt_out', 'opt_out_withdrawn') AND purpose IS NULL "
            "AND scope_type = 'all') OR "
            "(decision IN ('permit', 'deny', 'clear') AND purpose IS NOT NULL)",
            name="ck_consent_event_purpose"),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"],
                                name="fk_consent_event_citizen_id_citizen"),
        sa.ForeignKeyConstraint(["actor_citizen_id"], ["citizen.id"],
                                name="fk_consent_event_actor_citizen_id_citizen"),
        sa.PrimaryKeyConstraint("id", name="pk_consent_event"),
    )
    op.create_index("ix_consent_event_subject_key", "consent_event", ["subject_key"])
    op.create_index("ix_consent_event_at", "consent_event", ["at"])
    op.create_index("ix_consent_event_citizen_id_at", "consent_event", ["citizen_id", "at"])
    op.create_index("ix_consent_event_purpose_at", "consent_event", ["purpose", "at"])
    op.create_index("ix_consent_event_decision_at", "consent_event", ["decision", "at"])

    op.create_table(
        "guardianship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guardian_citizen_id", sa.Integer(), nullable=False),
        sa.Column("child_citizen_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("created_at", marketplace.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", marketplace.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("source IN ('claim', 'operator')", name="ck_guardianship_source"),
        sa.CheckConstraint("guardian_citizen_id <> child_citizen_id",
                           name="ck_guardianship_not_self"),
        sa.ForeignKeyConstraint(["guardian_citizen_id"], ["citizen.id"],
                                name="fk_guardianship_guardian_citizen_id_citizen"),
        sa.ForeignKeyConstraint(["child_citizen_id"], ["citizen.id"],
                                name="fk_guardianship_child_citizen_id_citizen"),
        sa.PrimaryKeyConstraint("id", name="pk_guardianship"),
        sa.UniqueConstraint("guardian_citizen_id", "child_citizen_id",
                            name="uq_guardianship_guardian_citizen_id"),
    )
    op.create_index("ix_guardianship_guardian_citizen_id", "guardianship",
                    ["guardian_citizen_id"])
    op.create_index("ix_guardianship_child_citizen_id", "guardianship", ["child_citizen_id"])

    op.create_table(
        "data_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extract_id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("holder_org_id", sa.Integer(), nullable=False),
        sa.Column("company_org_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("at", marketplace.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"],
                                name="fk_data_use_dataset_id_dataset"),
        sa.ForeignKeyConstraint(["holder_org_id"], ["organisation.id"],
                                name="fk_data_use_holder_org_id_organisation"),
        sa.ForeignKeyConstraint(["company_org_id"], ["organisation.id"],
                                name="fk_data_use_company_org_id_organisation"),
        sa.PrimaryKeyConstraint("id", name="pk_data_use"),
        sa.UniqueConstraint("extract_id", "dataset_id", "subject_key",
                            name="uq_data_use_extract_id"),
    )
    op.create_index("ix_data_use_permit_id", "data_use", ["permit_id"])
    op.create_index("ix_data_use_subject_key_at", "data_use", ["subject_key", "at"])


def downgrade() -> None:
    op.drop_table("data_use")
    op.drop_table("guardianship")
    op.drop_table("consent_event")
