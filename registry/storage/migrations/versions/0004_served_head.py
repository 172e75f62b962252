"""The TUF head the server serves: the timestamp's bytes and the newest root version, as the
object store held them when the last writer committed. Kept in the index so that a timestamp
request and the updater's probe for the next root cost one database read, not one object store
GET each, and so that a publish shows its new timestamp and its index rows at the same commit.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No row yet: the server reads the store until a writer (a server's start-up repair among
    # them) copies the store's head here.
    op.create_table(
        "served_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_version", sa.BigInteger(), nullable=False),
        sa.Column("root_version", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("served_head")
