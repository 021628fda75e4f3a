"""satisfaction surveys: customers' own contacts, the surveys, whom each asks and what they answered

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'customer_contacts',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_customer_contacts_customer_id_customers'),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], name='fk_customer_contacts_person_id_people'),
        sa.PrimaryKeyConstraint('person_id', name='pk_customer_contacts'),
    )
    op.create_index('ix_customer_contacts_customer_id', 'customer_contacts', ['customer_id'])
    op.create_table(
        'surveys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('questions', sa.Text(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('reminders', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('source_file', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_surveys'),
        sa.UniqueConstraint('number', name='uq_surveys_number'),
    )
    op.create_table(
        'survey_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('token', sa.String(length=40), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_survey_targets_customer_id_customers'),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name='fk_survey_targets_survey_id_surveys'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name='fk_survey_targets_unit_id_units'),
        sa.PrimaryKeyConstraint('id', name='pk_survey_targets'),
        sa.UniqueConstraint('survey_id', 'customer_id', name='uq_survey_targets_survey_id'),
        sa.UniqueConstraint('token', name='uq_survey_targets_token'),
    )
    op.create_index('ix_survey_targets_survey_id', 'survey_targets', ['survey_id'])
    op.create_table(
        'survey_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('by_unit', sa.Boolean(), nullable=False),
        sa.Column('respondent_name', sa.String(length=100), nullable=True),
        sa.Column('respondent_phone', sa.String(length=50), nullable=True),
        sa.Column('scores', sa.Text(), nullable=False),
        sa.Column('texts', sa.Text(), nullable=False),
        sa.Column('superseded_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name='fk_survey_responses_inbound_id_inbound_messages'),
        sa.ForeignKeyConstraint(['superseded_by_id'], ['survey_responses.id'],
                                name='fk_survey_responses_superseded_by_id_survey_responses'),
        sa.ForeignKeyConstraint(['target_id'], ['survey_targets.id'],
                                name='fk_survey_responses_target_id_survey_targets'),
        sa.PrimaryKeyConstraint('id', name='pk_survey_responses'),
        sa.UniqueConstraint('inbound_id', name='uq_survey_responses_inbound_id'),
    )
    op.create_index('ix_survey_responses_target_id', 'survey_responses', ['target_id'])


def downgrade() -> None:
    op.drop_table('survey_responses')
    op.drop_table('survey_targets')
    op.drop_table('surveys')
    op.drop_table('customer_contacts')
