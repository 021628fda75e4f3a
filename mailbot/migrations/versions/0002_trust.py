"""trust: a Message-ID alone no longer makes two messages one; strangers' quarantines wait for the digest

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

inbound_messages.content_key (Message-ID + From + body) replaces the unique Message-ID. Rows recorded before
this revision keep a NULL content_key: they still dedupe by mailbox UID and by their bytes.
quarantine.notified_at is when the operator was told; every older quarantine was told at once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages') as batch:
        batch.drop_constraint('uq_inbound_messages_message_id', type_='unique')
        batch.add_column(sa.Column('content_key', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_inbound_messages_content_key', ['content_key'])
        batch.create_index('ix_inbound_messages_message_id', ['message_id'])
    with op.batch_alter_table('quarantine') as batch:
        batch.add_column(sa.Column('notified_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE quarantine SET notified_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table('quarantine') as batch:
        batch.drop_column('notified_at')
    with op.batch_alter_table('inbound_messages') as batch:
        batch.drop_index('ix_inbound_messages_message_id')
        batch.drop_constraint('uq_inbound_messages_content_key', type_='unique')
        batch.drop_column('content_key')
        batch.create_unique_constraint('uq_inbound_messages_message_id', ['message_id'])
