"""national campaigns (§6.1): the plans and their versions, targets per unit, feedback, entries, stage history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('every_days', sa.Integer(), nullable=True),
        sa.Column('reminders', sa.Text(), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('source_file', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_campaigns'),
        sa.UniqueConstraint('number', name='uq_campaigns_number'),
    )
    op.create_table(
        'campaign_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('documents', sa.Text(), nullable=False),
        sa.Column('changes', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name='fk_campaign_versions_campaign_id_campaigns'),
        sa.PrimaryKeyConstraint('id', name='pk_campaign_versions'),
        sa.UniqueConstraint('campaign_id', 'version', name='uq_campaign_versions_campaign_id'),
    )
    op.create_table(
        'campaign_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('added_by_unit', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name='fk_campaign_targets_campaign_id_campaigns'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_campaign_targets_customer_id_customers'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name='fk_campaign_targets_unit_id_units'),
        sa.PrimaryKeyConstraint('id', name='pk_campaign_targets'),
        sa.UniqueConstraint('campaign_id', 'customer_id', 'unit_id', name='uq_campaign_targets_campaign_id'),
    )
    op.create_index('ix_campaign_targets_campaign_id', 'campaign_targets', ['campaign_id'])
    op.create_table(
        'campaign_feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name='fk_campaign_feedback_campaign_id_campaigns'),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name='fk_campaign_feedback_inbound_id_inbound_messages'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name='fk_campaign_feedback_unit_id_units'),
        sa.PrimaryKeyConstraint('id', name='pk_campaign_feedback'),
        sa.UniqueConstraint('campaign_id', 'unit_id', 'version', name='uq_campaign_feedback_campaign_id'),
        sa.UniqueConstraint('inbound_id', name='uq_campaign_feedback_inbound_id'),
    )
    op.create_index('ix_campaign_feedback_campaign_id', 'campaign_feedback', ['campaign_id'])
    op.create_table(
        'campaign_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('feedback_id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=True),
        sa.Column('intention', sa.Text(), nullable=True),
        sa.Column('progress', sa.Text(), nullable=True),
        sa.Column('next_steps', sa.Text(), nullable=True),
        sa.Column('expected_signing', sa.String(length=10), nullable=True),
        sa.Column('signing_text', sa.Text(), nullable=True),
        sa.Column('needs_hq', sa.Boolean(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['feedback_id'], ['campaign_feedback.id'],
                                name='fk_campaign_entries_feedback_id_campaign_feedback'),
        sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name='fk_campaign_entries_request_id_requests'),
        sa.ForeignKeyConstraint(['target_id'], ['campaign_targets.id'],
                                name='fk_campaign_entries_target_id_campaign_targets'),
        sa.PrimaryKeyConstraint('id', name='pk_campaign_entries'),
    )
    op.create_index('ix_campaign_entries_feedback_id', 'campaign_entries', ['feedback_id'])
    op.create_index('ix_campaign_entries_target_id', 'campaign_entries', ['target_id'])
    op.create_table(
        'campaign_stages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('feedback_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['feedback_id'], ['campaign_feedback.id'],
                                name='fk_campaign_stages_feedback_id_campaign_feedback'),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name='fk_campaign_stages_inbound_id_inbound_messages'),
        sa.ForeignKeyConstraint(['target_id'], ['campaign_targets.id'],
                                name='fk_campaign_stages_target_id_campaign_targets'),
        sa.PrimaryKeyConstraint('id', name='pk_campaign_stages'),
    )
    op.create_index('ix_campaign_stages_target_id', 'campaign_stages', ['target_id'])


def downgrade() -> None:
    op.drop_table('campaign_stages')
    op.drop_table('campaign_entries')
    op.drop_table('campaign_feedback')
    op.drop_table('campaign_targets')
    op.drop_table('campaign_versions')
    op.drop_table('campaigns')
