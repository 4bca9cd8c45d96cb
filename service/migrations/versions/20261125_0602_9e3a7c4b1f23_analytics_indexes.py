"""analytics indexes

Revision ID: 9e3a7c4b1f23
Revises: 8d2f6b3a0e12
Create Date: 2026-11-25 06:00:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '9e3a7c4b1f23'
down_revision: Union[str, Sequence[str], None] = '8d2f6b3a0e12'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.create_index('ix_requests_submitted_at', ['submitted_at'], unique=False)
        batch_op.create_index('ix_requests_closed_at', ['closed_at'], unique=False)

    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.create_index('ix_request_events_department', ['actor_department', 'request_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.drop_index('ix_request_events_department')

    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index('ix_requests_closed_at')
        batch_op.drop_index('ix_requests_submitted_at')
