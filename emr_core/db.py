"""Engine and session factory for the EMR database (SQLite or MySQL/MariaDB)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SETTINGS_KEY = "sgm_settings"


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas each backend needs for concurrent use."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # The API serves from a thread pool: a pool of 5 made requests queue for connections.
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, pool_size=20, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # WAL lets the Dagster UI read while a run writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine, settings: object | None = None) -> sessionmaker[Session]:
    """Sessions on engine; settings (when given) tell the audit log where its key and copies are."""
    info = {SETTINGS_KEY: settings} if settings is not None else None
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
