"""Schema migrations through Alembic, driven from code (no alembic.ini to find).

One policy everywhere: only `sgm db upgrade` migrates; the CLI, the API and the Dagster resources
refuse a database that is not at the latest schema (`require_current`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic narrates every connection at INFO; our commands say what changed themselves.
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database schema to the given revision (idempotent)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The applied revision(s), comma-joined when independent branches are applied."""
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def head_revision(engine: Engine) -> str | None:
    """The newest revision(s) of the migration scripts, comma-joined for branches."""
    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    return ",".join(sorted(heads)) or None


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


class NotMigratedError(RuntimeError):
    """The database schema is older (or newer) than the code: only `sgm db upgrade` migrates."""


def require_current(engine: Engine) -> None:
    """Refuse a database that is not at the latest schema; nothing but `sgm db upgrade` migrates it."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        raise NotMigratedError(
            f"database not migrated: run `sgm db upgrade` ({engine.url.render_as_string()} is at "
            f"{current or 'an empty schema'}, this version needs {head})"
        )
