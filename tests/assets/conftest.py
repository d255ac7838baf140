"""Fixtures shared with tests/quality: a synthetic corpus and a migrated SQLite data folder per test."""

from tests.quality.conftest import corpus, emr, migrated_sqlite  # noqa: F401 (fixtures)
