"""join check-in and scoring branches

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-12-04 23:03:35.493863
"""
from collections.abc import Sequence


revision: str = '0005'
down_revision: str | None = ('0003', '0004')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
