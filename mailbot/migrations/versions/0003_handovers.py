"""handovers, bounces, aliases: a contact's mail that is not a report is handed to HQ and recorded; a contact
address our mail bounced from is marked; customers have the short names people write; an urgent matter's mail
is sent first; a 诉求 has a one-line title

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'handovers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('notified_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], name='fk_handovers_inbound_id_inbound_messages'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name='fk_handovers_unit_id_units'),
        sa.PrimaryKeyConstraint('id', name='pk_handovers'),
        sa.UniqueConstraint('inbound_id', name='uq_handovers_inbound_id'),
    )
    with op.batch_alter_table('people') as batch:
        batch.add_column(sa.Column('bounced_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('bounce_note', sa.String(length=300), nullable=True))
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('aliases', sa.Text(), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('requests') as batch:
        batch.add_column(sa.Column('title', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('requests') as batch:
        batch.drop_column('title')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('priority')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('aliases')
    with op.batch_alter_table('people') as batch:
        batch.drop_column('bounce_note')
        batch.drop_column('bounced_at')
    op.drop_table('handovers')
