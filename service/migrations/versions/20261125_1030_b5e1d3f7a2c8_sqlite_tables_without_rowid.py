"""SQLite: the tables every action appends to, without rowid

Events, audit records, work-queue rows and outbox messages have text primary keys; as rowid tables each row
went into two B-trees (the table and the key's index). Rebuilt WITHOUT ROWID, a row goes into one. PostgreSQL
has no such distinction: nothing changes there.

Revision ID: b5e1d3f7a2c8
Revises: a4f0c2d9e6b1
Create Date: 2026-11-25 10:30:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'b5e1d3f7a2c8'
down_revision: Union[str, Sequence[str], None] = 'a4f0c2d9e6b1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('request_events', 'audit_records', 'request_assignees', 'outbox_messages')


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_with_rowid': with_rowid}):
            pass


def upgrade() -> None:
    """Upgrade schema."""
    _rebuild(with_rowid=False)


def downgrade() -> None:
    """Downgrade schema."""
    _rebuild(with_rowid=True)
