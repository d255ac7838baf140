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


def test_no_column_type_that_dagster_recompiles_for_mysql() -> None:
    # Importing Dagster re-compiles plain Float and DateTime for MySQL; use Double and
    # emr_core.models.Timestamp so the schema does not depend on which process migrated it.
    from sqlalchemy import DateTime, Double, Float

    offenders = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = type(column.type)
            mysql_variant = getattr(column.type, "_variant_mapping", {}).get("mysql")
            if (kind is Float and not isinstance(column.type, Double)) or (kind is DateTime and mysql_variant is None):
                offenders.append(f"{table.name}.{column.name}")
    assert offenders == [], f"use Double / emr_core.models.Timestamp for: {offenders}"
