"""One row that every writer updates first: the database's own lock serializes publishes
across threads, processes and machines (a row lock on PostgreSQL, the write lock on SQLite).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "writer_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("writes", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "writes": 0}])


def downgrade() -> None:
    op.drop_table("writer_lock")
