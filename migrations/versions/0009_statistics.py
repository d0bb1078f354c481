"""statistics tables: statistics requests with their released tables, holders' disclosure rules

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = marketplace.db.JSONValue
WHEN = marketplace.db.UTCDateTime


def upgrade() -> None:
    op.create_table('statistics_policy',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=True),
    sa.Column('rounding_base', sa.Integer(), nullable=False),
    sa.Column('epsilon_budget', sa.Float(), nullable=False),
    sa.Column('epsilon_spent', sa.Float(), nullable=False),
    sa.CheckConstraint('epsilon_spent >= 0', name=op.f('ck_statistics_policy_epsilon_spent')),
    sa.CheckConstraint('rounding_base >= 1', name=op.f('ck_statistics_policy_rounding_base')),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_statistics_policy_dataset_id_dataset')),
    sa.PrimaryKeyConstraint('dataset_id', name=op.f('pk_statistics_policy'))
    )
    op.create_table('statistics_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_org_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('data_version_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('measures', JSON, nullable=False),
    sa.Column('group_by', JSON, nullable=False),
    sa.Column('cohort', JSON, nullable=False),
    sa.Column('method', sa.String(length=3), nullable=False),
    sa.Column('epsilon', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decision', JSON, nullable=False),
    sa.Column('result', JSON, nullable=True),
    sa.Column('manifest', JSON, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('released_at', WHEN, nullable=True),
    sa.CheckConstraint("method IN ('sdc', 'dp')", name=op.f('ck_statistics_request_method')),
    sa.CheckConstraint("status IN ('released', 'denied', 'review')", name=op.f('ck_statistics_request_status')),
    sa.ForeignKeyConstraint(['company_org_id'], ['organisation.id'], name=op.f('fk_statistics_request_company_org_id_organisation')),
    sa.ForeignKeyConstraint(['data_version_id'], ['data_version.id'], name=op.f('fk_statistics_request_data_version_id_data_version')),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_statistics_request_dataset_id_dataset')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statistics_request'))
    )
    with op.batch_alter_table('statistics_request', schema=None) as batch_op:
        batch_op.create_index('ix_statistics_request_company_org_id_dataset_id', ['company_org_id', 'dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statistics_request_dataset_id'), ['dataset_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('statistics_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statistics_request_dataset_id'))
        batch_op.drop_index('ix_statistics_request_company_org_id_dataset_id')

    op.drop_table('statistics_request')
    op.drop_table('statistics_policy')
