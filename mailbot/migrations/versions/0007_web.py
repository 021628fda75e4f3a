"""the board (web): one-time sign-in links (hashed), sign-in requests for the rate limit, and what people did

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('client', sa.String(length=100), nullable=False),
        sa.Column('used_from', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], name='fk_web_links_person_id_people'),
        sa.PrimaryKeyConstraint('id', name='pk_web_links'),
        sa.UniqueConstraint('token_hash', name='uq_web_links_token_hash'),
    )
    op.create_index('ix_web_links_person_id', 'web_links', ['person_id'])
    op.create_table(
        'web_signins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('client', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_web_signins'),
    )
    op.create_index('ix_web_signins_at', 'web_signins', ['at'])
    op.create_table(
        'web_actions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('client', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=30), nullable=False),
        sa.Column('target', sa.String(length=60), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('inbound_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'],
                                name='fk_web_actions_inbound_id_inbound_messages'),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], name='fk_web_actions_person_id_people'),
        sa.PrimaryKeyConstraint('id', name='pk_web_actions'),
    )


def downgrade() -> None:
    op.drop_table('web_actions')
    op.drop_index('ix_web_signins_at', table_name='web_signins')
    op.drop_table('web_signins')
    op.drop_index('ix_web_links_person_id', table_name='web_links')
    op.drop_table('web_links')
