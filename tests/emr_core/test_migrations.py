"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from emr_core.migrate import is_up_to_date, upgrade
from emr_core.models import Base


def test_database_is_at_head_and_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert is_up_to_date(engine)


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models changed without a migration: {diff}"
