"""campaigns: a visit may be a campaign's promotion event (visits.campaign_id); a monthly report may carry the
feedback of several campaigns, so one inbound message is one feedback per campaign, not one overall

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('visits') as batch:
        batch.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_visits_campaign_id_campaigns', 'campaigns', ['campaign_id'], ['id'])
        batch.create_index('ix_visits_campaign_id', ['campaign_id'])
    with op.batch_alter_table('campaign_feedback') as batch:
        batch.drop_constraint('uq_campaign_feedback_inbound_id', type_='unique')
        batch.create_unique_constraint('uq_campaign_feedback_inbound_id', ['inbound_id', 'campaign_id'])


def downgrade() -> None:
    with op.batch_alter_table('campaign_feedback') as batch:
        batch.drop_constraint('uq_campaign_feedback_inbound_id', type_='unique')
        batch.create_unique_constraint('uq_campaign_feedback_inbound_id', ['inbound_id'])
    with op.batch_alter_table('visits') as batch:
        batch.drop_index('ix_visits_campaign_id')
        batch.drop_constraint('fk_visits_campaign_id_campaigns', type_='foreignkey')
        batch.drop_column('campaign_id')
