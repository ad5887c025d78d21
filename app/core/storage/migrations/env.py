"""Alembic environment: runs on the connection handed in by app.core.storage.db.upgrade, inside
its one transaction, and calls its `on_version_apply` hooks after each migration step."""

from alembic import context

from app.core.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    on_version_apply=context.config.attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
