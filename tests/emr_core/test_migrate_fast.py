"""The Alembic-free revision check every command runs agrees with Alembic itself, on SQLite and MariaDB."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from emr_core.db import make_engine
from emr_core.migrate import applied_revisions, current_revision, head_revision, script_heads


def test_script_heads_are_alembics_heads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'emr.db'}")
    assert script_heads() == head_revision(engine)
    assert script_heads() is not None and "," in script_heads()  # independent branches are both heads


def test_applied_revisions_match_alembic_on_an_empty_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'emr.db'}")
    assert applied_revisions(engine) is None and current_revision(engine) is None


def test_applied_revisions_match_alembic_when_migrated_and_when_behind(migrated_engine: Engine) -> None:
    assert applied_revisions(migrated_engine) == current_revision(migrated_engine) == script_heads()
    with migrated_engine.begin() as conn:
        before = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = '0003'"))
    try:
        assert applied_revisions(migrated_engine) == current_revision(migrated_engine) == "0006_model_predictions"
    finally:
        with migrated_engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            for revision in before:
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})
