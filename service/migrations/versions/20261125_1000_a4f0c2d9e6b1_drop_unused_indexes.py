"""drop indexes no query uses: audit records by time, request events by action

Every action writes one audit record and one event; each index on them is one more page written per action.
Audit records are listed by id (time-ordered); events are read by request, department or time, never by
action alone.

Revision ID: a4f0c2d9e6b1
Revises: 9e3a7c4b1f23
Create Date: 2026-11-25 10:00:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a4f0c2d9e6b1'
down_revision: Union[str, Sequence[str], None] = '9e3a7c4b1f23'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_records_at')

    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.drop_index('ix_request_events_action')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.create_index('ix_request_events_action', ['action'], unique=False)

    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index('ix_audit_records_at', ['at'], unique=False)
