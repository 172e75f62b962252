"""Alembic environment of the index. Migrations run from :func:`registry.storage.index.migrate`
on a connection it opens (and locks); ``alembic`` on the command line is not needed."""

from __future__ import annotations

from alembic import context

from registry.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
