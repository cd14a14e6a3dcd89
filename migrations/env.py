"""Alembic environment: migrations are driven by nl2sql.schema.metadata."""

from alembic import context
from sqlalchemy import create_engine

from nl2sql.database import resolve_url
from nl2sql.schema import metadata

config = context.config
target_metadata = metadata


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from code (nl2sql.database), which owns the transaction
        run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or resolve_url(None)
    engine = create_engine(url)
    with engine.begin() as own_connection:
        run_with(own_connection)
    engine.dispose()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or resolve_url(None),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
