"""The registry's lifecycle: upload tokens of their own (several per publisher, each with an
optional expiry, revocable), revoked publishers, and withdrawn (yanked) versions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(40), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Each publisher's one token so far becomes its first token row.
    op.execute(
        "INSERT INTO tokens (namespace, token_hash, label, created_at) "
        "SELECT namespace, token_hash, 'first', created_at FROM publishers"
    )
    with op.batch_alter_table("publishers") as batch:
        batch.drop_column("token_hash")
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("versions") as batch:
        # {"reason", "use", "at", "by"} while the signed metadata withdraws the version
        batch.add_column(sa.Column("withdrawn", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("withdrawn")
    with op.batch_alter_table("publishers") as batch:
        batch.drop_column("revoked_at")
        batch.add_column(sa.Column("token_hash", sa.String(64), nullable=True))
    op.drop_table("tokens")
