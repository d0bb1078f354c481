"""growth tables: opportunities, gate recommendations and decisions, evidence, clinical projects,
procurement cases

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = marketplace.db.JSONValue
WHEN = marketplace.db.UTCDateTime


def upgrade() -> None:
    op.create_table('growth_opportunity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('paused_from', sa.String(length=20), nullable=True),
    sa.Column('themes', JSON, nullable=False),
    sa.Column('need_owner_org_id', sa.Integer(), nullable=True),
    sa.Column('registered_by_org_id', sa.Integer(), nullable=False),
    sa.Column('registered_by_name', sa.String(length=200), nullable=False),
    sa.Column('kpis', JSON, nullable=False),
    sa.Column('tracks', JSON, nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.CheckConstraint("stage IN ('bobler', 'identifikation', 'kvalificering', 'koncept_og_plan', 'eksekvering', 'parkeret', 'stoppet')", name=op.f('ck_growth_opportunity_stage')),
    sa.ForeignKeyConstraint(['need_owner_org_id'], ['organisation.id'], name=op.f('fk_growth_opportunity_need_owner_org_id_organisation')),
    sa.ForeignKeyConstraint(['registered_by_org_id'], ['organisation.id'], name=op.f('fk_growth_opportunity_registered_by_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_opportunity'))
    )
    with op.batch_alter_table('growth_opportunity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_opportunity_need_owner_org_id'), ['need_owner_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_growth_opportunity_registered_by_org_id'), ['registered_by_org_id'], unique=False)
        batch_op.create_index('ix_growth_opportunity_stage_updated_at', ['stage', 'updated_at'], unique=False)

    op.create_table('growth_clinical_project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('department_org_id', sa.Integer(), nullable=False),
    sa.Column('funding_dkk', sa.BigInteger(), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('ethics_approval', sa.String(length=100), nullable=False),
    sa.Column('permit_ids', JSON, nullable=False),
    sa.Column('outcomes', JSON, nullable=False),
    sa.Column('registered_by_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['department_org_id'], ['organisation.id'], name=op.f('fk_growth_clinical_project_department_org_id_organisation')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_clinical_project_opportunity_id_growth_opportunity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_clinical_project')),
    sa.UniqueConstraint('opportunity_id', name=op.f('uq_growth_clinical_project_opportunity_id'))
    )
    with op.batch_alter_table('growth_clinical_project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_clinical_project_department_org_id'), ['department_org_id'], unique=False)

    op.create_table('growth_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('provenance', JSON, nullable=False),
    sa.Column('added_by_name', sa.String(length=200), nullable=False),
    sa.Column('added_at', WHEN, nullable=False),
    sa.CheckConstraint("source IN ('test_course', 'clinical_project', 'statistics', 'output')", name=op.f('ck_growth_evidence_source')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_evidence_opportunity_id_growth_opportunity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_evidence')),
    sa.UniqueConstraint('opportunity_id', 'source', 'source_id', name=op.f('uq_growth_evidence_opportunity_id'))
    )
    with op.batch_alter_table('growth_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_evidence_opportunity_id'), ['opportunity_id'], unique=False)

    op.create_table('growth_opportunity_company',
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_opportunity_company_opportunity_id_growth_opportunity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_growth_opportunity_company_org_id_organisation')),
    sa.PrimaryKeyConstraint('opportunity_id', 'org_id', name=op.f('pk_growth_opportunity_company'))
    )
    with op.batch_alter_table('growth_opportunity_company', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_opportunity_company_org_id'), ['org_id'], unique=False)

    op.create_table('growth_procurement_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('buyer_org_id', sa.Integer(), nullable=False),
    sa.Column('yearly_cost_dkk', sa.BigInteger(), nullable=False),
    sa.Column('route', sa.String(length=30), nullable=False),
    sa.Column('steps', JSON, nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['buyer_org_id'], ['organisation.id'], name=op.f('fk_growth_procurement_case_buyer_org_id_organisation')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_procurement_case_opportunity_id_growth_opportunity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_procurement_case')),
    sa.UniqueConstraint('opportunity_id', name=op.f('uq_growth_procurement_case_opportunity_id'))
    )
    with op.batch_alter_table('growth_procurement_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_procurement_case_buyer_org_id'), ['buyer_org_id'], unique=False)

    op.create_table('growth_recommendation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=False),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('model_version', sa.String(length=40), nullable=False),
    sa.Column('scores', JSON, nullable=False),
    sa.Column('must_meet', JSON, nullable=False),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('knocked_out', sa.Boolean(), nullable=False),
    sa.Column('by_org_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=200), nullable=False),
    sa.Column('at', WHEN, nullable=False),
    sa.Column('decided', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['by_org_id'], ['organisation.id'], name=op.f('fk_growth_recommendation_by_org_id_organisation')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_recommendation_opportunity_id_growth_opportunity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_recommendation'))
    )
    with op.batch_alter_table('growth_recommendation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_recommendation_opportunity_id'), ['opportunity_id'], unique=False)

    op.create_table('growth_gate_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('recommendation_id', sa.Integer(), nullable=True),
    sa.Column('from_stage', sa.String(length=20), nullable=False),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('by_org_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=200), nullable=False),
    sa.Column('at', WHEN, nullable=False),
    sa.CheckConstraint("decision IN ('go', 'kill', 'hold', 'recycle', 'revive')", name=op.f('ck_growth_gate_decision_decision')),
    sa.ForeignKeyConstraint(['by_org_id'], ['organisation.id'], name=op.f('fk_growth_gate_decision_by_org_id_organisation')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['growth_opportunity.id'], name=op.f('fk_growth_gate_decision_opportunity_id_growth_opportunity')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['growth_recommendation.id'], name=op.f('fk_growth_gate_decision_recommendation_id_growth_recommendation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_gate_decision'))
    )
    with op.batch_alter_table('growth_gate_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_gate_decision_opportunity_id'), ['opportunity_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('growth_gate_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_gate_decision_opportunity_id'))

    op.drop_table('growth_gate_decision')
    with op.batch_alter_table('growth_recommendation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_recommendation_opportunity_id'))

    op.drop_table('growth_recommendation')
    with op.batch_alter_table('growth_procurement_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_procurement_case_buyer_org_id'))

    op.drop_table('growth_procurement_case')
    with op.batch_alter_table('growth_opportunity_company', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_opportunity_company_org_id'))

    op.drop_table('growth_opportunity_company')
    with op.batch_alter_table('growth_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_evidence_opportunity_id'))

    op.drop_table('growth_evidence')
    with op.batch_alter_table('growth_clinical_project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_clinical_project_department_org_id'))

    op.drop_table('growth_clinical_project')
    with op.batch_alter_table('growth_opportunity', schema=None) as batch_op:
        batch_op.drop_index('ix_growth_opportunity_stage_updated_at')
        batch_op.drop_index(batch_op.f('ix_growth_opportunity_registered_by_org_id'))
        batch_op.drop_index(batch_op.f('ix_growth_opportunity_need_owner_org_id'))

    op.drop_table('growth_opportunity')
