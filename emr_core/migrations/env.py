"""Alembic environment: runs against the connection handed over by emr_core.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

# Imported for their side effect: they register their tables on Base.metadata.
import emr_core.models_annotation
import emr_core.models_clinical
import emr_core.models_ml  # noqa: F401
from emr_core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)


def _run(connection: Connection) -> None:
    # render_as_batch lets SQLite alter tables by copying them.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
