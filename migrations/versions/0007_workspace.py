"""workspace tables: jobs, outputs, output reviews, output policies

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = marketplace.db.JSONValue
WHEN = marketplace.db.UTCDateTime


def upgrade() -> None:
    op.create_table('output_policy',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('cell_threshold', sa.Integer(), nullable=False),
    sa.Column('checkers_required', sa.Integer(), nullable=False),
    sa.Column('allowed_types', JSON, nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_output_policy_dataset_id_dataset')),
    sa.PrimaryKeyConstraint('dataset_id', name=op.f('pk_output_policy'))
    )
    op.create_table('workspace_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('company_org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('script', sa.Text(), nullable=False),
    sa.Column('script_sha256', sa.String(length=64), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('usage', JSON, nullable=True),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', WHEN, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('started_at', WHEN, nullable=True),
    sa.Column('finished_at', WHEN, nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name=op.f('ck_workspace_job_status')),
    sa.CheckConstraint('progress >= 0 AND progress <= 1', name=op.f('ck_workspace_job_progress')),
    sa.ForeignKeyConstraint(['company_org_id'], ['organisation.id'], name=op.f('fk_workspace_job_company_org_id_organisation')),
    sa.ForeignKeyConstraint(['permit_id'], ['permit.id'], name=op.f('fk_workspace_job_permit_id_permit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspace_job'))
    )
    with op.batch_alter_table('workspace_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workspace_job_company_org_id'), ['company_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workspace_job_permit_id'), ['permit_id'], unique=False)
        batch_op.create_index('ix_workspace_job_status_created_at', ['status', 'created_at'], unique=False)

    op.create_table('workspace_output',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('checks', JSON, nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('acro', JSON, nullable=True),
    sa.Column('holder_org_ids', JSON, nullable=False),
    sa.Column('review_due_at', WHEN, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('released_at', WHEN, nullable=True),
    sa.Column('manifest', JSON, nullable=True),
    sa.CheckConstraint("status IN ('pending_review', 'changes_requested', 'rejected', 'released')", name=op.f('ck_workspace_output_status')),
    sa.ForeignKeyConstraint(['job_id'], ['workspace_job.id'], name=op.f('fk_workspace_output_job_id_workspace_job')),
    sa.ForeignKeyConstraint(['permit_id'], ['permit.id'], name=op.f('fk_workspace_output_permit_id_permit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspace_output')),
    sa.UniqueConstraint('job_id', 'name', name=op.f('uq_workspace_output_job_id'))
    )
    with op.batch_alter_table('workspace_output', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workspace_output_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workspace_output_permit_id'), ['permit_id'], unique=False)

    op.create_table('output_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('output_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_user_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_org_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', WHEN, nullable=False),
    sa.CheckConstraint("decision IN ('approve', 'reject', 'request_changes')", name=op.f('ck_output_review_decision')),
    sa.ForeignKeyConstraint(['output_id'], ['workspace_output.id'], name=op.f('fk_output_review_output_id_workspace_output')),
    sa.ForeignKeyConstraint(['reviewer_org_id'], ['organisation.id'], name=op.f('fk_output_review_reviewer_org_id_organisation')),
    sa.ForeignKeyConstraint(['reviewer_user_id'], ['app_user.id'], name=op.f('fk_output_review_reviewer_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_output_review'))
    )
    with op.batch_alter_table('output_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_output_review_output_id'), ['output_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('output_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_output_review_output_id'))

    op.drop_table('output_review')
    with op.batch_alter_table('workspace_output', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workspace_output_permit_id'))
        batch_op.drop_index(batch_op.f('ix_workspace_output_job_id'))

    op.drop_table('workspace_output')
    with op.batch_alter_table('workspace_job', schema=None) as batch_op:
        batch_op.drop_index('ix_workspace_job_status_created_at')
        batch_op.drop_index(batch_op.f('ix_workspace_job_permit_id'))
        batch_op.drop_index(batch_op.f('ix_workspace_job_company_org_id'))

    op.drop_table('workspace_job')
    op.drop_table('output_policy')
