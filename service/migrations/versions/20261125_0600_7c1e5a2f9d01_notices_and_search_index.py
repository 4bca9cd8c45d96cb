"""notices and search index

Revision ID: 7c1e5a2f9d01
Revises: 09a9c9b3dafd
Create Date: 2026-11-25 06:00:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7c1e5a2f9d01'
down_revision: Union[str, Sequence[str], None] = '09a9c9b3dafd'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
