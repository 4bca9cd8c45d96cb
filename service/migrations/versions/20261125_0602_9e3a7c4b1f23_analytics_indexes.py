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
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
