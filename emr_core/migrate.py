"""Schema migrations through Alembic, driven from code (no alembic.ini to find).

One policy everywhere: only `sgm db upgrade` migrates; the CLI, the API and the Dagster resources
refuse a database that is not at the latest schema (`require_current`).

Importing any part of Alembic loads its whole runtime (about a second on a busy 2-core machine), so
Alembic is imported only to migrate or report; `require_current`, which every command runs, reads
the revisions of the scripts from their source and the database's from its version table.
"""

from __future__ import annotations

import ast
import logging
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic narrates every connection at INFO; our commands say what changed themselves.
logging.getLogger("alembic").setLevel(logging.WARNING)


VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database schema to the given revision (idempotent)."""
    # Imported here: alembic.command loads Alembic's whole runtime (environment, autogenerate plugins),
    # which the commands that only check the revision (`require_current`) do not need.
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The applied revision(s), comma-joined when independent branches are applied."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def head_revision(engine: Engine) -> str | None:
    """The newest revision(s) of the migration scripts, comma-joined for branches."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    return ",".join(sorted(heads)) or None


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


class NotMigratedError(RuntimeError):
    """The database schema is older (or newer) than the code: only `sgm db upgrade` migrates."""


def require_current(engine: Engine) -> None:
    """Refuse a database that is not at the latest schema; nothing but `sgm db upgrade` migrates it."""
    current, head = applied_revisions(engine), script_heads()
    if current != head:
        raise NotMigratedError(
            f"database not migrated: run `sgm db upgrade` ({engine.url.render_as_string()} is at "
            f"{current or 'an empty schema'}, this version needs {head})"
        )


def _assigned(path: Path) -> dict[str, object]:
    """The module-level constants a migration script assigns (revision, down_revision, ...)."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            with suppress(ValueError):  # not a literal (an expression): not one of Alembic's identifiers
                values[target.id] = ast.literal_eval(value)
    return values


@cache
def script_heads() -> str | None:
    """The head revision(s) of the migration scripts, as `head_revision` gives them, without Alembic.

    tests/emr_core/test_migrate_fast.py checks it against Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        values = _assigned(path)
        if isinstance(values.get("revision"), str):
            revisions.add(str(values["revision"]))
            down = values.get("down_revision")
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, (tuple, list)):
                parents.update(str(d) for d in down)
    return ",".join(sorted(revisions - parents)) or None


def applied_revisions(engine: Engine) -> str | None:
    """The database's applied revision(s), as `current_revision` gives them, without Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        return ",".join(sorted(rows)) or None
